#!/usr/bin/env python3
"""Write ``dist/``: a self-contained static copy of edge-infer for any static host (stdlib only).

    python3 tools/build.py [--out dist] [--examples]

``dist/`` holds the app (``index.html``), ``edge-infer.js`` and ``lib/``, ``embed.html``, the
vendored runtime (``vendor/``, filled by ``tools/setup.py``) and the models (``models/``: the
manifest and the files it lists), plus two header files for hosts that read them:

- ``_headers`` (Netlify, Cloudflare Pages): COOP/COEP (threads), CORP/CORS (embedding from
  other origins), MIME types for ``.mjs``/``.wasm``, cache rules;
- ``nginx.conf.snippet``: the same for nginx, to ``include`` in a ``server {}`` block.

Any plain static server works without them (1 thread); with them the app gets threads.
Idempotent and fast: files are copied only when their size or mtime changed, files that no
longer belong are removed, and the runtime and model files are checked against their sha256
before they ship.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
MODELS = ROOT / "models"
GENERATED = ("_headers", "nginx.conf.snippet")

# One source of truth: dist/ gets exactly the dev server's headers and MIME table.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve  # noqa: E402
from checksums import sha256_file  # noqa: E402

# Extensions and their types; the header files declare them so no host has to guess (an OS
# table may lack .mjs, and module scripts and streaming WebAssembly compilation check types).
MIME = {ext.lstrip("."): mime for ext, mime in serve.MIME.items()}

# COOP + COEP: cross-origin isolation, so onnxruntime-web may use threads. CORP + CORS: pages
# on other origins may load the module, its worker and the models (public static files).
# Plus whatever else the dev server always sends (nosniff, the Content-Security-Policy).
SECURITY_HEADERS = dict(serve.ISOLATION_HEADERS + serve.ALWAYS_HEADERS)
# Revalidate everything (a 304 costs one round trip, no body). Paths here are not versioned
# and the worker checks runtime and model files against sha256, so a stale cached copy after a
# deploy would fail loudly instead of loading: never let a cache serve one unasked.
CACHE_CONTROL = "no-cache"


class BuildError(Exception):
    """A failure with a message meant for the user."""


def plan_web(examples: bool) -> dict[str, Path]:
    """Map dist-relative paths to sources for everything under web/."""
    if not (WEB / "vendor" / "vendor.json").is_file():
        raise BuildError("web/vendor/ is missing: run `npm run setup` (python3 tools/setup.py)")
    files = {}
    for dirpath, dirnames, filenames in os.walk(WEB):
        rel_dir = Path(dirpath).relative_to(WEB)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith((".", "__"))
            and (examples or rel_dir != Path(".") or d != "examples")
        )
        for name in filenames:
            if not name.startswith("."):
                files[(rel_dir / name).as_posix()] = Path(dirpath) / name
    return files


def verify_vendor() -> None:
    """Every vendored runtime file must match vendor.json (setup.py wrote both)."""
    vendor = json.loads((WEB / "vendor" / "vendor.json").read_text())
    for rel, info in vendor.get("files", {}).items():
        path = WEB / "vendor" / rel
        if not path.is_file():
            raise BuildError(f"web/vendor/{rel} is missing: run `npm run setup`")
        if path.stat().st_size != info["bytes"] or sha256_file(path) != info["sha256"]:
            raise BuildError(f"web/vendor/{rel} does not match vendor.json: run `npm run setup`")


def plan_models() -> dict[str, Path]:
    """The manifest and the model files it lists, each checked against its size and sha256."""
    manifest_path = MODELS / "manifest.json"
    if not manifest_path.is_file():
        raise BuildError("models/manifest.json is missing")
    manifest = json.loads(manifest_path.read_text())
    files = {"models/manifest.json": manifest_path}
    for model in manifest.get("models", []):
        path = MODELS / model["file"]
        if not path.is_file():
            raise BuildError(f"models/{model['file']} (model {model['id']}) is missing")
        if path.stat().st_size != model["bytes"] or sha256_file(path) != model["sha256"]:
            raise BuildError(f"models/{model['file']} does not match its manifest entry")
        files[f"models/{model['file']}"] = path
    return files


def same_file(src: Path, dst: Path) -> bool:
    try:
        a, b = src.stat(), dst.stat()
    except FileNotFoundError:
        return False
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


def sync(plan: dict[str, Path], out: Path) -> tuple[int, int]:
    """Make ``out`` hold exactly ``plan`` (plus the generated files); returns (copied, removed)."""
    copied = removed = 0
    for rel, src in plan.items():
        dst = out / rel
        if same_file(src, dst):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copy2(src, tmp)  # copy2 keeps the mtime, which makes the next run a no-op
        os.replace(tmp, dst)
        copied += 1
    keep = set(plan) | set(GENERATED)
    for dirpath, dirnames, filenames in os.walk(out, topdown=False):
        for name in filenames:
            rel = (Path(dirpath) / name).relative_to(out).as_posix()
            if rel not in keep:
                (Path(dirpath) / name).unlink()
                removed += 1
        for name in dirnames:
            with contextlib.suppress(OSError):
                (Path(dirpath) / name).rmdir()  # only empty ones
    return copied, removed


def typed_files(plan: dict[str, Path]) -> list[str]:
    """Files whose type some hosts get wrong: ES modules with .mjs and WebAssembly."""
    return sorted(rel for rel in plan if rel.endswith((".mjs", ".wasm")))


def headers_file(plan: dict[str, Path]) -> str:
    lines = [
        "# edge-infer: headers for Netlify and Cloudflare Pages (written by tools/build.py).",
        "# COOP + COEP make the app cross-origin isolated, so onnxruntime-web may use threads.",
        "# CORP + CORS let pages on other origins load edge-infer.js, its worker and models.",
        "# Everything revalidates (ETag); see docs/embedding.md.",
        "/*",
        *(f"  {k}: {v}" for k, v in SECURITY_HEADERS.items()),
        f"  Cache-Control: {CACHE_CONTROL}",
        "",
        "# Explicit types where a host's table may be wrong (module scripts are type-checked).",
    ]
    for rel in typed_files(plan):
        lines += [f"/{rel}", f"  Content-Type: {MIME[rel.rsplit('.', 1)[1]]}"]
    return "\n".join(lines) + "\n"


def nginx_snippet(plan: dict[str, Path]) -> str:
    exts = sorted({rel.rsplit(".", 1)[1] for rel in plan if "." in rel} & set(MIME))
    by_type: dict[str, list[str]] = {}
    for ext in exts:
        by_type.setdefault(MIME[ext].split(";")[0], []).append(ext)
    types = "\n".join(f"        {t} {' '.join(e)};" for t, e in sorted(by_type.items()))
    adds = "\n".join(f'    add_header {k} "{v}" always;' for k, v in SECURITY_HEADERS.items())
    return f"""# edge-infer: nginx settings for dist/ (written by tools/build.py).
# Include it inside the server {{}} block whose root is this dist/ folder, for example
#     server {{
#         listen 443 ssl;
#         root /srv/edge-infer/dist;
#         include /srv/edge-infer/dist/nginx.conf.snippet;
#     }}

# The header files lie in dist/ but are configuration, not content.
location = /nginx.conf.snippet {{ return 404; }}
location = /_headers {{ return 404; }}

location / {{
    # Only the types dist/ uses. A types block replaces nginx's table for this location.
    types {{
{types}
    }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/css text/javascript application/json;  # text/html is implied

    # COOP + COEP: cross-origin isolation, so onnxruntime-web may use threads.
    # CORP + CORS: pages on other origins may load edge-infer.js, its worker and the models.
    # add_header in a nested location replaces these, so keep them all here.
{adds}
    add_header Cache-Control "{CACHE_CONTROL}" always;
    etag on;

    # The runtime is ~25 MB of WebAssembly and the model 14 MB; both compress well.
    gzip on;
    gzip_types text/css text/javascript application/json application/wasm application/octet-stream;

    try_files $uri $uri/ =404;
}}
"""


def write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text() == text:
        return False
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def build(out: Path, examples: bool = False) -> dict:
    t0 = time.perf_counter()
    out = out.resolve()
    if out in (ROOT, WEB, MODELS) or ROOT.is_relative_to(out):
        raise BuildError(f"refusing to write into {out}")
    plan = plan_web(examples)
    verify_vendor()
    plan.update(plan_models())
    out.mkdir(parents=True, exist_ok=True)
    copied, removed = sync(plan, out)
    generated = write_if_changed(out / "_headers", headers_file(plan))
    generated += write_if_changed(out / "nginx.conf.snippet", nginx_snippet(plan))
    size = sum(p.stat().st_size for p in plan.values())
    return {
        "out": str(out),
        "files": len(plan),
        "bytes": size,
        "copied": copied,
        "removed": removed,
        "generated": generated,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="write a self-contained static build of edge-infer")
    ap.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (dist/)")
    ap.add_argument("--examples", action="store_true", help="also copy web/examples/")
    args = ap.parse_args(argv)
    try:
        info = build(args.out, examples=args.examples)
    except BuildError as e:
        print(f"build: {e}", file=sys.stderr)
        return 1
    print(
        f"build: {info['out']}: {info['files']} files, {info['bytes'] / 1e6:.1f} MB "
        f"({info['copied']} copied, {info['removed']} removed, "
        f"{info['generated']} header files written) in {info['seconds']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
