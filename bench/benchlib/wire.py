"""Bytes on the wire: what a page load transferred, and an emulated network to load it over.

Playwright reports the requests of the page and of its dedicated workers (nested ones
included), so ``WireLog`` sees the runtime and model downloads the workers make. A response
taken from the HTTP cache, the memory cache or the service worker transfers no body bytes.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from benchlib import ROOT

ENCODED = ROOT / "web" / "vendor" / "encoded.json"

# Issue #15's network: 50 Mbit/s down, 20 ms round trip; upload unthrottled (-1).
NETWORK_50MBIT = {
    "offline": False,
    "latency": 20,
    "downloadThroughput": 50e6 / 8,
    "uploadThroughput": -1,
}


class WireLog:
    """The finished requests of one browser context, from now on.

    Args:
        context: a Playwright browser context (a persistent profile's, for one).

    """

    def __init__(self, context):
        self.requests: list = []
        context.on("requestfinished", lambda request: self.requests.append(request))

    def clear(self) -> None:
        """Forget what was logged (before a revisit)."""
        self.requests.clear()

    def summary(self) -> dict:
        """``{bytes, requests, files}``: response bytes (headers and encoded body) per path.

        Call it once the load is over: ``request.sizes()`` asks the browser for each request.
        """
        files: dict[str, dict] = {}
        for request in self.requests:
            try:
                sizes = request.sizes()
            except Exception:  # the page or its worker is gone: the request counts as 0
                continue
            response = request.response()
            path = urlsplit(request.url).path.lstrip("/")
            entry = files.setdefault(path, {"bytes": 0, "requests": 0, "encoding": None})
            entry["bytes"] += sizes["responseBodySize"] + sizes["responseHeadersSize"]
            entry["requests"] += 1
            if response is not None:
                entry["encoding"] = response.headers.get("content-encoding") or entry["encoding"]
        return {
            "bytes": sum(f["bytes"] for f in files.values()),
            "requests": sum(f["requests"] for f in files.values()),
            "files": files,
        }


def emulate_network(context, page, conditions: dict = NETWORK_50MBIT) -> None:
    """Throttle ``page`` (and the workers it starts) to ``conditions`` over CDP."""
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.emulateNetworkConditions", conditions)


def stored_sizes() -> dict[str, dict]:
    """Raw, brotli and gzip bytes of every precompressed file (``web/vendor/encoded.json``).

    Keys are paths as served without the content hash (``vendor/ort/…``, ``models/…``).
    """
    if not ENCODED.is_file():
        return {}
    files = json.loads(ENCODED.read_text()).get("files", {})
    return {
        path: {
            "raw": f["bytes"],
            "br": f.get("br", {}).get("bytes"),
            "gzip": f.get("gzip", {}).get("bytes"),
        }
        for path, f in files.items()
    }


def unhashed(path: str) -> str:
    """A served path without its content hash: ``vendor/<hash>/ort/x`` → ``vendor/ort/x``."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[0] in ("vendor", "models") and _is_hex(parts[1]):
        return "/".join([parts[0], *parts[2:]])
    return path


def _is_hex(text: str) -> bool:
    return len(text) >= 16 and all(c in "0123456789abcdef" for c in text)
