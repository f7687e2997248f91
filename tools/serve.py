#!/usr/bin/env python3
"""Development server for edge-infer (stdlib only).

Serves ``web/`` at ``/`` and ``models/`` at ``/models/`` with cross-origin isolation headers
(so onnxruntime-web may use threads), an explicit MIME table, ETag/Last-Modified revalidation
and no directory listings. Only GET and HEAD.

Content-addressed URLs (see ``DevServer.hashed_target``): ``/vendor/<root>/...`` serves
``web/vendor/...`` while ``<root>`` is the ``root`` that ``web/vendor/vendor.json`` names, and
``/models/<sha256>/<file>`` serves ``models/<file>``. A file whose bytes have the sha256 its
URL stands for is answered ``Cache-Control: public, max-age=31536000, immutable``; anything
else revalidates (``no-cache``), a corrupt runtime file included. A file with a
precompressed sibling (``X.br``, ``X.gz``, made by ``tools/setup.py`` with the source's
mtime) is sent encoded to clients that accept it.

    python3 tools/serve.py [--host 127.0.0.1] [--port 8000] [--root web] [--models models]

``HOST`` and ``PORT`` environment variables set the defaults; ``--port 0`` picks a free port.
On start it prints exactly one line, ``edge-infer serving http://HOST:PORT/``.
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import hashlib
import json
import os
import posixpath
import re
import socket
import socketserver
import stat
import sys
import threading
import traceback
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Never the OS table (mimetypes): it varies by machine and gets .mjs/.wasm wrong.
MIME = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".map": "application/json",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".gz": "application/gzip",  # the Pyodide snapshot: inflated by the worker, never encoded
    ".onnx": "application/octet-stream",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
DEFAULT_MIME = "application/octet-stream"

# Isolation (COOP/COEP) lets onnxruntime-web use threads; CORS/CORP let pages on other
# origins embed the module, worker and models (they are public static files).
ISOLATION_HEADERS = (
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
)
# A strict policy (docs/security.md): only this origin's scripts, workers, fetches and styles.
# 'wasm-unsafe-eval' lets WebAssembly compile (Pyodide, numpy's .so files, onnxruntime-web)
# without allowing JS eval (nothing here needs 'unsafe-eval'). img-src blob: is for previews of
# the user's files, data: for the empty favicon. No blob: workers on this origin: only pages
# embedding us from another origin start one, under their own policy. frame-ancestors * keeps
# embed.html embeddable anywhere (it posts results only to its declared parent origin).
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "connect-src 'self'; img-src 'self' blob: data:; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors *"
)
ALWAYS_HEADERS = (
    ("Cross-Origin-Resource-Policy", "cross-origin"),
    ("Access-Control-Allow-Origin", "*"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", CSP),
)

# Content-addressed URLs never change their bytes, so browsers may keep them without asking.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
VENDOR_ROOT = re.compile(r"[0-9a-f]{16}")  # vendor.json's "root", without its slash
MODEL_SHA256 = re.compile(r"[0-9a-f]{64}")
# Precompressed siblings, in the server's order of preference: (Content-Encoding, suffix).
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))

# Percent-escapes that must never be decoded into a path: slash, backslash, NUL.
_BAD_ESCAPES = re.compile(r"%(2f|5c|00)", re.IGNORECASE)
_DISCONNECT = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class BadPath(Exception):
    """The request target is malformed or tries to leave its root."""


def content_type(path: str) -> str:
    return MIME.get(posixpath.splitext(path)[1].lower(), DEFAULT_MIME)


def split_target(target: str) -> list[str]:
    """Decode a request target into safe path segments, or raise BadPath.

    Refuses anything that could escape a root: ``..`` segments (raw or percent-encoded),
    encoded slashes/backslashes/NULs, raw backslashes, control characters.
    """
    if not target.startswith("/"):
        raise BadPath("target must be an absolute path")
    raw = target.split("?", 1)[0].split("#", 1)[0]
    if "\\" in raw or _BAD_ESCAPES.search(raw):
        raise BadPath("encoded slash, backslash or NUL")
    try:
        path = urllib.parse.unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise BadPath("path is not UTF-8") from e
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path) or "\\" in path:
        raise BadPath("control character or backslash")
    segments = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            raise BadPath("parent segment")
        segments.append(seg)
    return segments


def accepted_encodings(header: str | None) -> set[str]:
    """The content codings of ``ENCODINGS`` that an Accept-Encoding header accepts (q > 0)."""
    if not header:
        return set()
    quality: dict[str, float] = {}
    for item in header.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding:
            quality[coding.lower()] = q
    star = quality.get("*", 0.0)
    return {name for name, _ in ENCODINGS if quality.get(name, star) > 0}


def encoded_sibling(path: Path, st: os.stat_result, accepted: set[str]):
    """The best precompressed sibling of ``path`` for a client, and whether any exists.

    A sibling counts only while it has the source's mtime (setup gives it that), so an edited
    source is never answered with a stale encoding. Returns ``((coding, file, stat) or None,
    has_variants)``; the caller closes the file.
    """
    chosen, variants = None, False
    for coding, suffix in ENCODINGS:
        sibling = path.with_name(path.name + suffix)
        try:
            sst = os.stat(sibling, follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(sst.st_mode) or sst.st_mtime_ns != st.st_mtime_ns:
            continue
        variants = True
        if chosen is None and coding in accepted:
            try:
                f = open(sibling, "rb")  # noqa: SIM115 (the caller closes it)
            except OSError:
                continue
            chosen = (coding, f, os.fstat(f.fileno()))
    return chosen, variants


class Handler(BaseHTTPRequestHandler):
    """GET/HEAD static files from two roots, with isolation and caching headers."""

    protocol_version = "HTTP/1.1"
    server_version = "edge-infer-dev"
    sys_version = ""
    timeout = 120  # idle keep-alive connections
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    server: DevServer

    # ------------------------------------------------------------------ plumbing

    def version_string(self) -> str:
        return self.server_version

    def end_headers(self) -> None:
        headers = ALWAYS_HEADERS + (ISOLATION_HEADERS if self.server.isolation else ())
        for name, value in headers:
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except _DISCONNECT:
            self.close_connection = True

    def __getattr__(self, name: str):
        # Any method other than GET/HEAD (POST, PUT, OPTIONS, FOO, ...) gets a 405.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _method_not_allowed(self) -> None:
        self.close_connection = True  # the body, if any, is not read
        body = b"405 Method Not Allowed\n"
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    # ------------------------------------------------------------------ GET / HEAD

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        try:
            self._serve_file(head)
        except _DISCONNECT:
            self.close_connection = True
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            with contextlib.suppress(Exception):  # headers already sent or socket gone
                self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)

    def _resolve(self) -> tuple[Path | None, HTTPStatus, str | None]:
        """Map the request target to a file: (path, status, redirect location).

        Sets ``self.immutable`` when the target is a content-addressed URL and the file has
        the bytes it names.
        """
        self.immutable = False
        try:
            segments = split_target(self.path)
        except BadPath:
            return None, HTTPStatus.BAD_REQUEST, None
        expected_sha256 = None
        hashed = self.server.hashed_target(segments)
        if hashed is not None:
            segments, expected_sha256 = hashed
            if not segments:
                return None, HTTPStatus.NOT_FOUND, None  # another version's URL
        root = self.server.web_root
        if segments and segments[0] in self.server.mounts:
            root, segments = self.server.mounts[segments[0]], segments[1:]
        if any(s.startswith(".") for s in segments):  # dotfiles, temp files, .git, ...
            return None, HTTPStatus.NOT_FOUND, None
        real_root = os.path.realpath(root)
        candidate = os.path.join(real_root, *segments)
        real = os.path.realpath(candidate)
        if real != real_root and not real.startswith(real_root + os.sep):
            return None, HTTPStatus.FORBIDDEN, None  # e.g. a symlink out of the root
        if expected_sha256 is not None:
            # Cached for good only with the very bytes its URL names: a corrupt or edited copy
            # is still served (the runtime names it), but must not stick in browsers' caches.
            self.immutable = self.server.sha256_of(real) == expected_sha256
        if os.path.isdir(real):
            if expected_sha256 is not None:
                return None, HTTPStatus.NOT_FOUND, None
            url_path = self.path.split("?", 1)[0].split("#", 1)[0]
            if not url_path.endswith("/"):
                query = self.path[len(url_path) :]
                return None, HTTPStatus.MOVED_PERMANENTLY, url_path + "/" + query
            index = os.path.realpath(os.path.join(real, "index.html"))
            if not index.startswith(real_root + os.sep):
                return None, HTTPStatus.FORBIDDEN, None
            real = index
        return Path(real), HTTPStatus.OK, None

    def _serve_file(self, head: bool) -> None:
        path, status, location = self._resolve()
        if status == HTTPStatus.MOVED_PERMANENTLY:
            self.send_response(status)
            self.send_header("Location", location or "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path is None:
            self.send_error(status)
            return
        try:
            f = open(path, "rb")  # noqa: SIM115 (closed below)
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            accepted = accepted_encodings(self.headers.get("Accept-Encoding"))
            chosen, has_variants = encoded_sibling(path, st, accepted)
            coding, body, body_st = chosen or (None, f, st)
            with contextlib.ExitStack() as stack:
                if chosen:
                    stack.enter_context(body)
                suffix = f"-{coding}" if coding else ""
                etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}{suffix}"'
                last_modified = email.utils.formatdate(st.st_mtime, usegmt=True)
                if self._not_modified(etag, st.st_mtime):
                    self.send_response(HTTPStatus.NOT_MODIFIED)
                    self._cache_headers(etag, last_modified, has_variants)
                    self.end_headers()
                    return
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", content_type(path.name))
                if coding:
                    self.send_header("Content-Encoding", coding)
                self.send_header("Content-Length", str(body_st.st_size))
                self._cache_headers(etag, last_modified, has_variants)
                self.end_headers()
                if not head and body_st.st_size:
                    self._send_body(body, body_st.st_size)

    def _cache_headers(self, etag: str, last_modified: str, has_variants: bool) -> None:
        self.send_header("Cache-Control", IMMUTABLE if self.immutable else REVALIDATE)
        if has_variants:
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)

    def _not_modified(self, etag: str, mtime: float) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:  # takes precedence over If-Modified-Since (RFC 9110 13.2.2)
            tags = [t.strip() for t in inm.split(",")]
            return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                return False
            return int(mtime) <= since
        return False

    def _send_body(self, f, size: int) -> None:
        try:
            self.connection.sendfile(f, 0, size)
        except (AttributeError, OSError) as e:
            if isinstance(e, _DISCONNECT):
                raise
            f.seek(0)
            while chunk := f.read(1 << 18):
                self.wfile.write(chunk)


class DevServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with roots and quiet handling of client disconnects."""

    daemon_threads = True

    def __init__(
        self,
        addr,
        web_root: Path,
        models_root: Path,
        verbose: bool,
        mounts: dict[str, Path] | None = None,
        isolation: bool = True,
    ) -> None:
        self.web_root = web_root
        self.models_root = models_root
        self.mounts = {"models": models_root, **(mounts or {})}
        self.isolation = isolation
        self.verbose = verbose
        self._vendor_listing: tuple[tuple | None, tuple[str | None, dict]] = (None, (None, {}))
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._hash_lock = threading.Lock()
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, Handler)

    def hashed_target(self, segments: list[str]) -> tuple[list[str], str] | None:
        """Map a content-addressed URL's path segments to the file's own path segments.

        Returns None for any other URL, else ``(segments, sha256 the file must have)``, with
        empty segments for a runtime URL of another version than vendor.json's. Runtime files
        are ``vendor/<root>/<file>`` (the sha256 is vendor.json's, empty for an unlisted
        file); models are ``models/<sha256>/<file>``.
        """
        if len(segments) >= 3 and segments[0] == "vendor" and VENDOR_ROOT.fullmatch(segments[1]):
            root, files = self.vendor_listing()
            if segments[1] != root:
                return [], ""
            return ["vendor", *segments[2:]], files.get("/".join(segments[2:]), "")
        if len(segments) == 3 and segments[0] == "models" and MODEL_SHA256.fullmatch(segments[1]):
            return ["models", segments[2]], segments[1]
        return None

    def vendor_listing(self) -> tuple[str | None, dict[str, str]]:
        """vendor.json's ``root`` (without its slash) and its files' sha256 by path.

        vendor.json is read from wherever ``/vendor/`` is served from (``web/vendor``, or a
        ``--mount vendor=DIR``), again whenever it changes.
        """
        path = self.mounts.get("vendor", self.web_root / "vendor") / "vendor.json"
        try:
            st = path.stat()
        except OSError:
            return None, {}
        key = (str(path), st.st_size, st.st_mtime_ns)
        if self._vendor_listing[0] != key:
            try:
                data = json.loads(path.read_text())
                root = data.get("root", "").rstrip("/") or None
                files = {rel: f["sha256"] for rel, f in data.get("files", {}).items()}
            except (OSError, ValueError, AttributeError, KeyError, TypeError):
                root, files = None, {}
            self._vendor_listing = (key, (root, files))
        return self._vendor_listing[1]

    def sha256_of(self, real: str) -> str | None:
        """The sha256 of a file, remembered while its size and mtime stay the same."""
        try:
            st = os.stat(real)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        key = (real, st.st_size, st.st_mtime_ns)
        with self._hash_lock:
            known = self._hashes.get(key)
        if known is None:
            digest = hashlib.sha256()
            with open(real, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            known = digest.hexdigest()
            with self._hash_lock:
                self._hashes = {k: v for k, v in self._hashes.items() if k[0] != real}
                self._hashes[key] = known
        return known

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse-DNS lookup that can hang.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], _DISCONNECT):
            return
        super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="edge-infer development server")
    ap.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    ap.add_argument("--port", type=int, default=None, help="0 picks a free port (default 8000)")
    ap.add_argument("--root", type=Path, default=ROOT / "web", help="served at / (web/)")
    ap.add_argument(
        "--models", type=Path, default=ROOT / "models", help="served at /models/ (models/)"
    )
    ap.add_argument(
        "--mount",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also serve DIR at /NAME/ (for example bench=bench); repeatable",
    )
    ap.add_argument(
        "--no-isolation",
        action="store_true",
        help="omit COOP/COEP (the page is not cross-origin isolated: 1 thread)",
    )
    ap.add_argument("--verbose", action="store_true", help="log every request")
    args = ap.parse_args(argv)
    mounts = {}
    for spec in args.mount:
        name, sep, directory = spec.partition("=")
        if not sep or not name or "/" in name.strip("/") or not Path(directory).is_dir():
            ap.error(f"--mount wants NAME=DIR with an existing DIR, got {spec!r}")
        mounts[name.strip("/")] = Path(directory).resolve()
    port = args.port
    if port is None:
        try:
            port = int(os.environ.get("PORT") or 8000)
        except ValueError:
            ap.error(f"PORT must be an integer, got {os.environ['PORT']!r}")
    if not 0 <= port <= 65535:
        ap.error(f"port out of range: {port}")
    if not args.root.is_dir():
        print(f"edge-infer: root directory not found: {args.root}", file=sys.stderr)
        return 1
    try:
        httpd = DevServer(
            (args.host, port),
            args.root.resolve(),
            args.models.resolve(),
            args.verbose,
            mounts=mounts,
            isolation=not args.no_isolation,
        )
    except OSError as e:
        print(f"edge-infer: cannot listen on {args.host}:{port}: {e}", file=sys.stderr)
        if port:
            print("  (try --port 0 or PORT=... for another port)", file=sys.stderr)
        return 1
    host, real_port = httpd.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"edge-infer serving http://{shown}:{real_port}/", flush=True)
    if args.root.resolve() == (ROOT / "web") and not (ROOT / "web/vendor/vendor.json").exists():
        print("  note: web/vendor/ is missing; run `npm run setup` first", file=sys.stderr)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
