#!/usr/bin/env python3
"""Write ``dist/``: a self-contained static copy of edge-infer for any static host (stdlib only).

    python3 tools/build.py [--out dist] [--examples]

``dist/`` holds the app (``index.html``), ``edge-infer.js`` and ``lib/``, ``embed.html``, the
vendored runtime (``vendor/<root>/``, filled by ``tools/setup.py``; ``<root>`` is a hash
over its files, named by ``vendor/vendor.json``) and the models (``models/manifest.json`` and
each file it lists at ``models/<sha256>/<file>``), with their precompressed ``.br`` and
``.gz`` copies (tools/encode.py), plus two header files for hosts that read them:

- ``_headers`` (Netlify, Cloudflare Pages): COOP/COEP (threads), CORP/CORS (embedding from
  other origins), MIME types for ``.mjs``/``.wasm``, cache rules;
- ``nginx.conf.snippet``: the same for nginx, to ``include`` in a ``server {}`` block, which
  also serves the ``.gz`` copies (and the ``.br`` ones with ngx_brotli).

Cache rules: the content-addressed folders never change their bytes, so they are cached for a
year as ``immutable``; everything else (the pages, the entry modules, ``vendor.json``, the
models' manifest, the service worker) revalidates.

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
from encode import ENCODED_LIST, ENCODINGS, read_list, sibling  # noqa: E402

# Extensions and their types; the header files declare them so no host has to guess (an OS
# table may lack .mjs, and module scripts and streaming WebAssembly compilation check types).
MIME = {ext.lstrip("."): mime for ext, mime in serve.MIME.items()}

# COOP + COEP: cross-origin isolation, so onnxruntime-web may use threads. CORP + CORS: pages
# on other origins may load the module, its worker and the models (public static files).
# Plus whatever else the dev server always sends (nosniff, the Content-Security-Policy).
SECURITY_HEADERS = dict(serve.ISOLATION_HEADERS + serve.ALWAYS_HEADERS)
# Content-addressed folders are cached for good; any other path may change with a deploy, so
# it revalidates (a 304 costs one round trip, no body).
IMMUTABLE = serve.IMMUTABLE
REVALIDATE = serve.REVALIDATE


class BuildError(Exception):
    """A failure with a message meant for the user."""


def plan_web(examples: bool) -> dict[str, Path]:
    """Map dist-relative paths to sources for everything under web/ but the runtime."""
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
            and (rel_dir != Path(".") or d != "vendor")
        )
        for name in filenames:
            if not name.startswith("."):
                files[(rel_dir / name).as_posix()] = Path(dirpath) / name
    return files


def plan_vendor(verified: dict[Path, str]) -> tuple[dict[str, Path], str]:
    """Plan the runtime: returns (plan, vendor.json's root).

    vendor.json and the precache list go to ``vendor/``; every file vendor.json lists,
    checked against it (its sha256 then added to ``verified``), to ``vendor/<root>/``.
    """
    vendor = json.loads((WEB / "vendor" / "vendor.json").read_text())
    root = vendor.get("root")
    if not root:
        raise BuildError("web/vendor/vendor.json has no root: run `npm run setup`")
    files = {
        f"vendor/{name}": WEB / "vendor" / name
        for name in ("vendor.json", "precache.json", "precache.js")
    }
    for name, path in files.items():
        if not path.is_file():
            raise BuildError(f"web/{name} is missing: run `npm run setup`")
    for rel, info in vendor.get("files", {}).items():
        path = WEB / "vendor" / rel
        if not path.is_file():
            raise BuildError(f"web/vendor/{rel} is missing: run `npm run setup`")
        if path.stat().st_size != info["bytes"] or sha256_file(path) != info["sha256"]:
            raise BuildError(f"web/vendor/{rel} does not match vendor.json: run `npm run setup`")
        files[f"vendor/{root}{rel}"] = path
        verified[path] = info["sha256"]
    return files, root


def plan_models(verified: dict[Path, str]) -> tuple[dict[str, Path], list[str]]:
    """Plan the models: returns (plan, their content-addressed folders).

    The manifest goes to ``models/``; each model file it lists, checked against its size and
    sha256 (then added to ``verified``), to ``models/<sha256>/<file>``, and so do a model's
    hooks file and wheels (checked against their sha256).
    """
    manifest_path = MODELS / "manifest.json"
    if not manifest_path.is_file():
        raise BuildError("models/manifest.json is missing")
    manifest = json.loads(manifest_path.read_text())
    files = {"models/manifest.json": manifest_path}
    folders = []
    for model in manifest.get("models", []):
        path = MODELS / model["file"]
        if not path.is_file():
            raise BuildError(f"models/{model['file']} (model {model['id']}) is missing")
        if path.stat().st_size != model["bytes"] or sha256_file(path) != model["sha256"]:
            raise BuildError(f"models/{model['file']} does not match its manifest entry")
        files[f"models/{model['sha256']}/{model['file']}"] = path
        verified[path] = model["sha256"]
        folders.append(f"models/{model['sha256']}/")
        hooks = model.get("hooks")
        for extra in [hooks, *hooks.get("wheels", [])] if hooks else []:
            path = MODELS / extra["file"]
            if not path.is_file() or sha256_file(path) != extra["sha256"]:
                raise BuildError(
                    f"models/{extra['file']} (of model {model['id']}) is missing "
                    "or does not match its manifest entry"
                )
            files[f"models/{extra['sha256']}/{extra['file']}"] = path
            folders.append(f"models/{extra['sha256']}/")
    return files, sorted(set(folders), key=folders.index)


def plan_encoded(plan: dict[str, Path], verified: dict[Path, str]) -> dict[str, Path]:
    """Plan the .br and .gz copies of the ``verified`` files in ``plan`` (see encoded.json).

    A source that encoded.json does not list, or lists with another sha256, ships without
    copies (setup makes them); a copy whose size or sha256 differs fails the build.
    """
    listed = read_list(WEB / "vendor" / ENCODED_LIST)
    by_source = {}
    for rel, info in listed.items():
        source = (WEB / rel) if rel.startswith("vendor/") else (ROOT / rel)
        by_source[source] = info
    files = {}
    for rel, src in plan.items():
        info = by_source.get(src)
        if src not in verified or not info or info.get("sha256") != verified[src]:
            continue
        for coding in ENCODINGS:
            if coding not in info:
                continue
            copy = sibling(src, coding)
            if (
                not copy.is_file()
                or copy.stat().st_size != info[coding]["bytes"]
                or sha256_file(copy) != info[coding]["sha256"]
            ):
                raise BuildError(f"{copy} does not match {ENCODED_LIST}: run `npm run setup`")
            files[rel + copy.name[len(src.name) :]] = copy
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


def revalidated_paths(plan: dict[str, Path], immutable: list[str]) -> list[str]:
    """``_headers`` patterns for every planned file outside the content-addressed folders.

    A top-level folder with none of them inside becomes ``/folder/*``; other files are
    listed one by one.
    """
    outside = sorted(rel for rel in plan if not rel.startswith(tuple(immutable)))
    mixed = {folder.split("/", 1)[0] for folder in immutable}
    patterns = ["/"]
    for rel in outside:
        top, sep, _ = rel.partition("/")
        pattern = f"/{top}/*" if sep and top not in mixed else f"/{rel}"
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns


def headers_file(plan: dict[str, Path], immutable: list[str]) -> str:
    """``_headers`` for Netlify and Cloudflare Pages.

    ``immutable``: the content-addressed folders, dist-relative, each ending in ``/``.
    """
    lines = [
        "# edge-infer: headers for Netlify and Cloudflare Pages (written by tools/build.py).",
        "# COOP + COEP make the app cross-origin isolated, so onnxruntime-web may use threads.",
        "# CORP + CORS let pages on other origins load edge-infer.js, its worker and models.",
        "# These hosts compress responses themselves: the .br and .gz copies are for nginx",
        "# (nginx.conf.snippet), since this file cannot choose a body by Accept-Encoding.",
        "/*",
        *(f"  {k}: {v}" for k, v in SECURITY_HEADERS.items()),
        "",
        "# Content-addressed folders (a hash of their files in the path): cached for good.",
    ]
    for folder in immutable:
        lines += [f"/{folder}*", f"  Cache-Control: {IMMUTABLE}"]
    lines += ["", "# Everything else may change with a deploy: revalidate (ETag)."]
    for pattern in revalidated_paths(plan, immutable):
        lines += [pattern, f"  Cache-Control: {REVALIDATE}"]
    lines += ["", "# Explicit types where a host's table may be wrong (modules are type-checked)."]
    for rel in typed_files(plan):
        lines += [f"/{rel}", f"  Content-Type: {MIME[rel.rsplit('.', 1)[1]]}"]
    return "\n".join(lines) + "\n"


def nginx_snippet(plan: dict[str, Path], immutable: list[str]) -> str:
    """The nginx snippet (``immutable``: content-addressed folders, as for headers_file)."""
    exts = sorted({rel.rsplit(".", 1)[1] for rel in plan if "." in rel} & set(MIME))
    by_type: dict[str, list[str]] = {}
    for ext in exts:
        by_type.setdefault(MIME[ext].split(";")[0], []).append(ext)
    types = "\n".join(f"        {t} {' '.join(e)};" for t, e in sorted(by_type.items()))

    def adds(cache_control: str, indent: str) -> str:
        headers = {**SECURITY_HEADERS, "Cache-Control": cache_control}
        return "\n".join(f'{indent}add_header {k} "{v}" always;' for k, v in headers.items())

    nested = "\n".join(
        f"    location ^~ /{folder} {{\n{adds(IMMUTABLE, '        ')}\n    }}"
        for folder in immutable
    )
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
    # Pages, entry modules and manifests may change with a deploy: revalidate (ETag).
{adds(REVALIDATE, "    ")}
    etag on;

    # Setup compressed the runtime's code and the models ahead of time: X.gz is sent for X
    # to clients that accept gzip. With ngx_brotli (Debian: libnginx-mod-http-brotli-static)
    # also uncomment brotli_static, which sends X.br to clients that accept br.
    gzip_static on;
    # brotli_static on;
    gzip on;
    gzip_vary on;
    gzip_types text/css text/javascript application/json application/wasm;

    try_files $uri $uri/ =404;

    # Content-addressed folders (a hash of their files in the path) never change: cache them
    # for good. add_header here replaces the ones above, so all are repeated.
{nested}
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
    verified: dict[Path, str] = {}
    vendor, root = plan_vendor(verified)
    models, model_folders = plan_models(verified)
    plan.update(vendor)
    plan.update(models)
    plan.update(plan_encoded(plan, verified))
    immutable = [f"vendor/{root}", *model_folders]
    out.mkdir(parents=True, exist_ok=True)
    copied, removed = sync(plan, out)
    generated = write_if_changed(out / "_headers", headers_file(plan, immutable))
    generated += write_if_changed(out / "nginx.conf.snippet", nginx_snippet(plan, immutable))
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
