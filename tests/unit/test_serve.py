"""Tests for tools/serve.py, the development server (run as a subprocess on a free port)."""

from __future__ import annotations

import http.client
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVE = REPO / "tools" / "serve.py"
ISOLATION = {
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "cross-origin-resource-policy": "cross-origin",
    "x-content-type-options": "nosniff",
}
SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT"


class Server:
    def __init__(self, *args: str, env: dict | None = None) -> None:
        clean = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVE), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**clean, **(env or {})},
        )
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                break
            if self.proc.poll() is not None:
                break
        m = re.fullmatch(r"edge-infer serving http://(\S+):(\d+)/\n", line)
        if not m:
            self.stop()
            raise AssertionError(f"unexpected start line {line!r}; stderr: {self.stderr}")
        self.host, self.port = m.group(1), int(m.group(2))
        self.stderr = ""
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for chunk in self.proc.stderr:
            self.stderr += chunk

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not hasattr(self, "stderr"):
            self.stderr = self.proc.stderr.read() if self.proc.stderr else ""

    def request(self, method: str, path: str, headers: dict | None = None, body=None):
        """One request with the raw path (http.client does not normalise it)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def raw(self, request_bytes: bytes) -> bytes:
        """Send bytes as they are (for targets http.client refuses to send)."""
        with socket.create_connection((self.host, self.port), timeout=10) as s:
            s.sendall(request_bytes)
            out = b""
            while chunk := s.recv(65536):
                out += chunk
            return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("serve")
    web, models, outside = base / "web", base / "models", base / "outside"
    for d in (web / "vendor" / "ort", web / "sub", web / "withindex", models, outside):
        d.mkdir(parents=True)
    (base / "secret.txt").write_bytes(SECRET)
    (outside / "secret.txt").write_bytes(SECRET)
    (web / "index.html").write_text("<!doctype html><title>edge-infer</title>\n")
    (web / "app.mjs").write_text("export const x = 1;\n")
    (web / "app.js").write_text("var x = 1;\n")
    (web / "style.css").write_text("body{}\n")
    (web / "data.json").write_text("{}\n")
    (web / "notes.md").write_text("# hi\n")
    (web / "blob.xyz").write_bytes(b"\x00\x01")
    (web / "vendor" / "ort" / "ort-wasm-simd-threaded.wasm").write_bytes(b"\x00asm\x01\x00\x00\x00")
    (web / "vendor" / "pkg-0.1-py3-none-any.whl").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (web / "sub" / "listed-file.txt").write_text("hello\n")
    (web / "withindex" / "index.html").write_text("<p>sub index</p>\n")
    (web / ".hidden").write_text("dotfile\n")
    (models / "model.onnx").write_bytes(b"\x08\x07onnx")
    (models / "manifest.json").write_text('{"models": []}\n')
    (web / "escape.txt").symlink_to(base / "secret.txt")
    (web / "escapedir").symlink_to(outside, target_is_directory=True)
    (web / "inside-link.txt").symlink_to(web / "app.js")
    (models / "escape.onnx").symlink_to(base / "secret.txt")
    return base


@pytest.fixture(scope="module")
def server(tree):
    srv = Server("--port", "0", "--root", str(tree / "web"), "--models", str(tree / "models"))
    yield srv
    srv.stop()


def assert_isolation(headers: dict) -> None:
    for name, value in ISOLATION.items():
        assert headers.get(name) == value, (name, headers)


# --------------------------------------------------------------------------- basics


def test_binds_loopback_by_default(server):
    assert server.host == "127.0.0.1"
    # Bound to 127.0.0.1 only: another loopback address is refused.
    with pytest.raises(OSError), socket.create_connection(("127.0.0.2", server.port), timeout=3):
        pass


def test_index_served_at_root(server):
    status, headers, body = server.request("GET", "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"<title>edge-infer</title>" in body
    assert_isolation(headers)


def test_headers_on_200(server):
    status, headers, body = server.request("GET", "/app.mjs")
    assert status == 200
    assert body == b"export const x = 1;\n"
    assert_isolation(headers)
    assert headers["cache-control"] == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', headers["etag"])
    assert headers["last-modified"].endswith("GMT")
    assert headers["content-length"] == str(len(body))


def test_headers_on_404(server):
    status, headers, _ = server.request("GET", "/nope.js")
    assert status == 404
    assert_isolation(headers)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "FOO"])
def test_other_methods_405(server, method):
    status, headers, _ = server.request(method, "/index.html", body=b"x=1")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert_isolation(headers)


def test_malformed_request_has_headers(server):
    # Four words with a valid version: the stdlib answers 400 through send_error.
    out = server.raw(b"GET / extra HTTP/1.1\r\nHost: x\r\n\r\n")
    head = out.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.")
    assert " 400 " in head.splitlines()[0]
    assert "cross-origin-embedder-policy: require-corp" in head


# --------------------------------------------------------------------------- MIME


@pytest.mark.parametrize(
    ("path", "mime"),
    [
        ("/app.mjs", "text/javascript; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/vendor/ort/ort-wasm-simd-threaded.wasm", "application/wasm"),
        ("/vendor/pkg-0.1-py3-none-any.whl", "application/zip"),
        ("/models/model.onnx", "application/octet-stream"),
        ("/models/manifest.json", "application/json"),
        ("/data.json", "application/json"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/notes.md", "text/markdown; charset=utf-8"),
        ("/blob.xyz", "application/octet-stream"),
    ],
)
def test_mime_types(server, path, mime):
    status, headers, _ = server.request("GET", path)
    assert status == 200, path
    assert headers["content-type"] == mime


# --------------------------------------------------------------------------- security


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/vendor/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/vendor/%2e%2e/%2e%2e/secret.txt",
        "/.%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2F..%2Fsecret.txt",
        "/vendor%2F..%2F..%2Fsecret.txt",
        "/..%5csecret.txt",
        "/secret.txt%00.html",
        "/models/../secret.txt",
        "/models/%2e%2e/secret.txt",
        "/models/..%2f..%2fsecret.txt",
        "/%252e%252e/secret.txt",
    ],
)
def test_traversal_refused(server, path):
    status, headers, body = server.request("GET", path)
    assert status in (400, 403, 404), (path, status)
    assert SECRET not in body
    assert_isolation(headers)


@pytest.mark.parametrize(
    "target",
    [b"/..\\secret.txt", b"/vendor\\..\\..\\secret.txt", b"/index.html\x00", b"secret.txt"],
)
def test_raw_backslash_nul_and_relative_refused(server, target):
    out = server.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status_line = out.split(b"\r\n", 1)[0]
    assert re.match(rb"HTTP/1\.[01] (400|403|404) ", status_line), status_line
    assert SECRET not in out


@pytest.mark.parametrize(
    "path", ["/escape.txt", "/escapedir/secret.txt", "/escapedir/", "/models/escape.onnx"]
)
def test_symlink_out_of_root_refused(server, path):
    status, headers, body = server.request("GET", path)
    assert status in (403, 404)
    assert SECRET not in body
    assert_isolation(headers)


def test_symlink_inside_root_allowed(server):
    status, _, body = server.request("GET", "/inside-link.txt")
    assert status == 200
    assert body == b"var x = 1;\n"


def test_dotfiles_hidden(server):
    assert server.request("GET", "/.hidden")[0] == 404


def test_no_directory_listing(server):
    status, headers, body = server.request("GET", "/sub/")
    assert status == 404
    assert b"listed-file" not in body
    assert_isolation(headers)
    status, headers, body = server.request("GET", "/vendor/")
    assert status == 404
    assert b"ort" not in body


def test_directory_without_slash_redirects_then_serves_index(server):
    status, headers, _ = server.request("GET", "/withindex")
    assert status == 301
    assert headers["location"] == "/withindex/"
    status, _, body = server.request("GET", "/withindex/")
    assert status == 200
    assert body == b"<p>sub index</p>\n"


# --------------------------------------------------------------------------- caching, HEAD


def test_etag_304_and_change(server, tree):
    status, headers, _ = server.request("GET", "/data.json")
    assert status == 200
    etag = headers["etag"]
    status, headers304, body = server.request("GET", "/data.json", {"If-None-Match": etag})
    assert status == 304
    assert body == b""
    assert headers304["etag"] == etag
    assert headers304["cache-control"] == "no-cache"
    assert_isolation(headers304)
    # Weak comparison and lists are honoured.
    assert server.request("GET", "/data.json", {"If-None-Match": f'"x", W/{etag}'})[0] == 304
    assert server.request("GET", "/data.json", {"If-None-Match": '"other"'})[0] == 200
    # An edit changes the ETag, so the browser refetches.
    (tree / "web" / "data.json").write_text('{"changed": true}\n')
    status, headers2, body = server.request("GET", "/data.json", {"If-None-Match": etag})
    assert status == 200
    assert body == b'{"changed": true}\n'
    assert headers2["etag"] != etag


def test_if_modified_since(server):
    _, headers, _ = server.request("GET", "/style.css")
    lm = headers["last-modified"]
    assert server.request("GET", "/style.css", {"If-Modified-Since": lm})[0] == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert server.request("GET", "/style.css", {"If-Modified-Since": old})[0] == 200


def test_head(server):
    _, get_headers, get_body = server.request("GET", "/vendor/ort/ort-wasm-simd-threaded.wasm")
    status, headers, body = server.request("HEAD", "/vendor/ort/ort-wasm-simd-threaded.wasm")
    assert status == 200
    assert body == b""
    assert headers["content-length"] == str(len(get_body))
    assert headers["content-type"] == "application/wasm"
    assert headers["etag"] == get_headers["etag"]
    assert_isolation(headers)
    status, headers, body = server.request("HEAD", "/missing")
    assert status == 404
    assert body == b""
    assert_isolation(headers)


def test_keep_alive_several_requests(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        for path in ("/", "/app.mjs", "/nope", "/models/model.onnx"):
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            assert resp.status in (200, 404)
    finally:
        conn.close()


def test_client_disconnect_is_quiet(server):
    for _ in range(3):
        with socket.create_connection((server.host, server.port), timeout=5) as s:
            s.sendall(b"GET /vendor/ort/ort-wasm-simd-threaded.wasm HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(10)
    assert server.request("GET", "/")[0] == 200
    time.sleep(0.2)
    assert "Traceback" not in server.stderr


def test_quiet_access_log(server):
    server.request("GET", "/")
    server.request("GET", "/nope")
    time.sleep(0.2)
    assert "GET /" not in server.stderr


# --------------------------------------------------------------------------- options


def test_port_and_host_env(tree):
    srv = Server("--root", str(tree / "web"), env={"HOST": "127.0.0.1", "PORT": "0"})
    try:
        assert srv.host == "127.0.0.1"
        assert srv.port > 0
        assert srv.request("GET", "/")[0] == 200
    finally:
        srv.stop()


def test_verbose_logs_requests(tree):
    srv = Server("--port", "0", "--root", str(tree / "web"), "--verbose")
    try:
        srv.request("GET", "/app.js")
        time.sleep(0.3)
        assert "GET /app.js" in srv.stderr
    finally:
        srv.stop()


def test_real_tree_vendor_mime():
    """Against the repo's own web/ (after `npm run setup`): the runtime files' MIME types."""
    if not (REPO / "web" / "vendor" / "vendor.json").exists():
        pytest.skip("web/vendor not set up (run npm run setup)")
    srv = Server("--port", "0")
    try:
        for path, mime in [
            ("/vendor/vendor.json", "application/json"),
            ("/vendor/pyodide/pyodide.mjs", "text/javascript; charset=utf-8"),
            ("/vendor/pyodide/pyodide.asm.wasm", "application/wasm"),
            ("/vendor/ort/ort.wasm.min.mjs", "text/javascript; charset=utf-8"),
            ("/vendor/ort/ort-wasm-simd-threaded.wasm", "application/wasm"),
        ]:
            status, headers, _ = srv.request("HEAD", path)
            assert status == 200, path
            assert headers["content-type"] == mime
            assert_isolation(headers)
    finally:
        srv.stop()


def test_cors_on_every_response(server):
    for path in ("/app.mjs", "/nope.js"):
        _, headers, _ = server.request("GET", path)
        assert headers["access-control-allow-origin"] == "*"
        assert headers["cross-origin-resource-policy"] == "cross-origin"


def test_no_isolation_flag_drops_coop_coep(tree):
    srv = Server("--port", "0", "--root", str(tree / "web"), "--no-isolation")
    try:
        status, headers, _ = srv.request("GET", "/app.js")
        assert status == 200
        assert "cross-origin-opener-policy" not in headers
        assert "cross-origin-embedder-policy" not in headers
        assert headers["access-control-allow-origin"] == "*"
    finally:
        srv.stop()


def test_mount_serves_an_extra_folder(tree, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "page.html").write_text("<p>bench</p>")
    srv = Server("--port", "0", "--root", str(tree / "web"), "--mount", f"bench={extra}")
    try:
        status, headers, body = srv.request("GET", "/bench/page.html")
        assert status == 200 and body == b"<p>bench</p>"
        assert_isolation(headers)
        assert srv.request("GET", "/bench/../../etc/passwd")[0] in (400, 403, 404)
    finally:
        srv.stop()


# --------------------------------------------------------------------------- content-addressed
# URLs and precompressed copies

ROOT_HASH = "0123456789abcdef"
IMMUTABLE = "public, max-age=31536000, immutable"
WASM = b"\x00asm\x01\x00\x00\x00" + bytes(range(256)) * 64


@pytest.fixture(scope="module")
def hashed_tree(tmp_path_factory):
    """A vendored runtime with vendor.json's root, a model, and encoded copies of the wasm."""
    import gzip
    import hashlib
    import json

    base = tmp_path_factory.mktemp("hashed")
    web, models = base / "web", base / "models"
    (web / "vendor" / "ort").mkdir(parents=True)
    models.mkdir()
    wasm = web / "vendor" / "ort" / "ort-wasm-simd-threaded.wasm"
    wasm.write_bytes(WASM)
    unlisted = web / "vendor" / "ort" / "extra.js"
    unlisted.write_text("export {};\n")
    files = {"ort/ort-wasm-simd-threaded.wasm": {"sha256": hashlib.sha256(WASM).hexdigest()}}
    vendor = {"root": ROOT_HASH + "/", "files": files}
    (web / "vendor" / "vendor.json").write_text(json.dumps(vendor))
    (web / "index.html").write_text("<!doctype html>\n")
    model = b"\x08\x07onnx" * 1000
    (models / "model.onnx").write_bytes(model)
    (models / "manifest.json").write_text('{"models": []}\n')
    # Not real brotli: the server sends a sibling's bytes as they are.
    (wasm.parent / (wasm.name + ".br")).write_bytes(b"BROTLI-BYTES")
    (wasm.parent / (wasm.name + ".gz")).write_bytes(gzip.compress(WASM, mtime=0))
    st = wasm.stat()
    for suffix in (".br", ".gz"):
        os.utime(wasm.parent / (wasm.name + suffix), ns=(st.st_atime_ns, st.st_mtime_ns))
    return base, hashlib.sha256(model).hexdigest()


@pytest.fixture(scope="module")
def hashed_server(hashed_tree):
    base, _ = hashed_tree
    srv = Server("--port", "0", "--root", str(base / "web"), "--models", str(base / "models"))
    yield srv
    srv.stop()


def test_runtime_under_its_root_is_immutable(hashed_server):
    path = f"/vendor/{ROOT_HASH}/ort/ort-wasm-simd-threaded.wasm"
    status, headers, body = hashed_server.request("GET", path)
    assert status == 200 and body == WASM
    assert headers["cache-control"] == IMMUTABLE
    assert headers["content-type"] == "application/wasm"
    assert_isolation(headers)
    # The same file at its plain URL, and vendor.json itself, revalidate.
    for plain in ("/vendor/ort/ort-wasm-simd-threaded.wasm", "/vendor/vendor.json", "/"):
        status, headers, _ = hashed_server.request("GET", plain)
        assert status == 200 and headers["cache-control"] == "no-cache", plain


def test_runtime_under_another_root_is_404(hashed_server):
    status, headers, _ = hashed_server.request(
        "GET", "/vendor/fedcba9876543210/ort/ort-wasm-simd-threaded.wasm"
    )
    assert status == 404
    assert_isolation(headers)
    assert hashed_server.request("GET", f"/vendor/{ROOT_HASH}/ort/")[0] == 404
    assert hashed_server.request("GET", f"/vendor/{ROOT_HASH}/../index.html")[0] in (400, 404)


def test_unlisted_or_changed_runtime_file_is_not_immutable(hashed_server, hashed_tree):
    """A file vendor.json does not vouch for is served, but never cached for good."""
    status, headers, _ = hashed_server.request("GET", f"/vendor/{ROOT_HASH}/ort/extra.js")
    assert status == 200 and headers["cache-control"] == "no-cache"


def test_model_under_its_sha256_is_immutable(hashed_server, hashed_tree):
    base, sha = hashed_tree
    status, headers, body = hashed_server.request("GET", f"/models/{sha}/model.onnx")
    assert status == 200 and body == (base / "models" / "model.onnx").read_bytes()
    assert headers["cache-control"] == IMMUTABLE
    # Another sha256 gets the bytes (the runtime's own check names the mismatch), uncached.
    status, headers, _ = hashed_server.request("GET", f"/models/{'0' * 64}/model.onnx")
    assert status == 200 and headers["cache-control"] == "no-cache"
    assert hashed_server.request("GET", f"/models/{sha}/missing.onnx")[0] == 404
    assert hashed_server.request("GET", f"/models/{sha}/")[0] == 404


def test_model_edited_on_disk_loses_immutable(tmp_path):
    import hashlib

    (tmp_path / "web").mkdir()
    models = tmp_path / "models"
    models.mkdir()
    (models / "m.onnx").write_bytes(b"one")
    old = hashlib.sha256(b"one").hexdigest()
    srv = Server("--port", "0", "--root", str(tmp_path / "web"), "--models", str(models))
    try:
        assert srv.request("GET", f"/models/{old}/m.onnx")[1]["cache-control"] == IMMUTABLE
        (models / "m.onnx").write_bytes(b"two!")
        status, headers, body = srv.request("GET", f"/models/{old}/m.onnx")
        assert status == 200 and body == b"two!" and headers["cache-control"] == "no-cache"
    finally:
        srv.stop()


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("br, gzip", "br"),
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("*", "br"),
        ("identity", None),
        ("br;q=0, gzip;q=0", None),
        (None, None),
    ],
)
def test_precompressed_copy_by_accept_encoding(hashed_server, accept, coding):
    import gzip

    path = f"/vendor/{ROOT_HASH}/ort/ort-wasm-simd-threaded.wasm"
    status, headers, body = hashed_server.request(
        "GET", path, {"Accept-Encoding": accept} if accept else {}
    )
    assert status == 200
    assert headers.get("content-encoding") == coding
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-type"] == "application/wasm"
    assert headers["cache-control"] == IMMUTABLE
    assert headers["content-length"] == str(len(body))
    decoded = {None: lambda b: b, "gzip": gzip.decompress, "br": lambda b: b}[coding](body)
    assert decoded == (b"BROTLI-BYTES" if coding == "br" else WASM)


def test_each_encoding_has_its_own_etag(hashed_server):
    path = f"/vendor/{ROOT_HASH}/ort/ort-wasm-simd-threaded.wasm"
    etags = {}
    for accept in ("br", "gzip", "identity"):
        _, headers, _ = hashed_server.request("GET", path, {"Accept-Encoding": accept})
        etags[accept] = headers["etag"]
        status, h304, body = hashed_server.request(
            "GET", path, {"Accept-Encoding": accept, "If-None-Match": headers["etag"]}
        )
        assert status == 304 and body == b"" and h304["vary"] == "Accept-Encoding"
    assert len(set(etags.values())) == 3
    # A validator of one encoding does not answer a request for another.
    status, _, _ = hashed_server.request(
        "GET", path, {"Accept-Encoding": "gzip", "If-None-Match": etags["br"]}
    )
    assert status == 200


def test_head_of_an_encoded_file(hashed_server):
    path = f"/vendor/{ROOT_HASH}/ort/ort-wasm-simd-threaded.wasm"
    _, get_headers, get_body = hashed_server.request("GET", path, {"Accept-Encoding": "gzip"})
    status, headers, body = hashed_server.request("HEAD", path, {"Accept-Encoding": "gzip"})
    assert status == 200 and body == b""
    assert headers["content-encoding"] == "gzip"
    assert headers["content-length"] == str(len(get_body)) == get_headers["content-length"]


def test_stale_copy_is_never_sent(tmp_path):
    """A sibling whose mtime differs from its source's (the source was edited) is ignored."""
    web = tmp_path / "web"
    web.mkdir()
    (web / "app.wasm").write_bytes(b"\x00asm new")
    (web / "app.wasm.gz").write_bytes(b"old gzip bytes")
    os.utime(web / "app.wasm.gz", ns=(0, 10**18))
    srv = Server("--port", "0", "--root", str(web))
    try:
        status, headers, body = srv.request("GET", "/app.wasm", {"Accept-Encoding": "gzip"})
        assert status == 200 and body == b"\x00asm new"
        assert "content-encoding" not in headers and "vary" not in headers
    finally:
        srv.stop()


def brotli_decode(data: bytes) -> bytes:
    """Decode brotli with Node's zlib (Python's standard library has no brotli)."""
    script = "const z = require('zlib'), fs = require('fs');"
    script += "process.stdout.write(z.brotliDecompressSync(fs.readFileSync(0)));"
    proc = subprocess.run(["node", "-e", script], input=data, capture_output=True, check=True)
    return proc.stdout


def test_real_tree_content_addressed_and_encoded():
    """Against the repo's own web/ and models/ (after `npm run setup`): the runtime and the
    default model at their content-addressed URLs, immutable, and each encoding the server
    sends decodes to the bytes vendor.json and the manifest hash."""
    import gzip
    import hashlib
    import json

    if not (REPO / "web" / "vendor" / "encoded.json").exists():
        pytest.skip("web/vendor not set up (run npm run setup)")
    vendor = json.loads((REPO / "web" / "vendor" / "vendor.json").read_text())
    manifest = json.loads((REPO / "models" / "manifest.json").read_text())
    model = next(m for m in manifest["models"] if m["id"] == manifest["default_model"])
    targets = {
        f"/vendor/{vendor['root']}{rel}": vendor["files"][rel]["sha256"]
        for rel in ("pyodide/pyodide.asm.wasm", "ort/ort-wasm-simd-threaded.wasm")
    }
    targets[f"/models/{model['sha256']}/{model['file']}"] = model["sha256"]
    decode = {None: lambda b: b, "gzip": gzip.decompress, "br": brotli_decode}
    srv = Server("--port", "0")
    try:
        for path, sha256 in targets.items():
            seen = set()
            for accept in ("br, gzip", "gzip", None):
                status, headers, body = srv.request(
                    "GET", path, {"Accept-Encoding": accept} if accept else {}
                )
                assert status == 200, path
                assert headers["cache-control"] == "public, max-age=31536000, immutable"
                coding = headers.get("content-encoding")
                seen.add(coding)
                assert hashlib.sha256(decode[coding](body)).hexdigest() == sha256, (path, coding)
            assert None in seen, path  # a client without Accept-Encoding gets the bytes as is
            if path.endswith(".wasm"):
                assert seen == {"br", "gzip", None}, path
    finally:
        srv.stop()
