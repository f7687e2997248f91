"""Security of the dev server over raw HTTP: the CSP on every response, no path escapes.

The browser side (the CSP holds in the page and its workers, nothing leaves the origin, user
strings stay text) is in ``tests/e2e/test_security.py``.
"""

from __future__ import annotations

import http.client
import socket
from urllib.parse import urlsplit

import pytest
from conftest import start_server
from helpers import CSP

# --------------------------------------------------------------------------- dev server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """serve.py over a small tree with a secret next to (outside) its roots."""
    base = tmp_path_factory.mktemp("serve")
    (base / "web" / "sub").mkdir(parents=True)
    (base / "models").mkdir()
    (base / "web" / "index.html").write_text("<!doctype html><title>t</title>\n")
    (base / "web" / "sub" / "a.js").write_text("export {};\n")
    (base / "models" / "manifest.json").write_text('{"models": []}\n')
    (base / "secret.txt").write_text("TOP-SECRET\n")
    proc, url = start_server("--root", str(base / "web"), "--models", str(base / "models"))
    yield urlsplit(url)
    proc.terminate()
    proc.wait(timeout=10)


def request(server, method: str, target: str, headers: dict | None = None):
    conn = http.client.HTTPConnection(server.hostname, server.port, timeout=10)
    try:
        conn.request(method, target, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("GET", "/", 200),
        ("HEAD", "/sub/a.js", 200),
        ("GET", "/models/manifest.json", 200),
        ("GET", "/missing.js", 404),
        ("GET", "/sub", 301),
        ("POST", "/", 405),
        ("PUT", "/index.html", 405),
        ("OPTIONS", "/", 405),
        ("GET", "/%2e%2e%2fsecret.txt", 400),
    ],
)
def test_csp_on_every_response(server, method, target, status):
    got, headers, _ = request(server, method, target)
    assert got == status
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"


def test_csp_on_304(server):
    _, headers, _ = request(server, "GET", "/index.html")
    got, again, _ = request(server, "GET", "/index.html", {"If-None-Match": headers["etag"]})
    assert got == 304 and again["content-security-policy"] == CSP


def test_csp_on_a_malformed_request(server):
    with socket.create_connection((server.hostname, server.port), timeout=10) as s:
        # Four words with a valid version: the stdlib answers 400 through send_error.
        s.sendall(b"GET / extra HTTP/1.1\r\nHost: x\r\n\r\n")
        head = s.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.") and head.split()[1] == "400"
    assert f"content-security-policy: {CSP}".lower() in head.lower()


@pytest.mark.parametrize(
    "target",
    [
        "/%2e%2e%2fsecret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%5csecret.txt",
        "/%2e%2e%5csecret.txt",
        "/sub/..%5c..%5csecret.txt",
        "/%2e%2e/secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/%c0%af..%c0%afsecret.txt",
        "/models/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/models/..%5c..%5csecret.txt",
        "/%00/../secret.txt",
        "/sub/%2e%2e%00/secret.txt",
    ],
)
def test_encoded_traversal_refused(server, target):
    status, headers, body = request(server, "GET", target)
    assert status in (400, 403, 404), (target, status)
    assert b"TOP-SECRET" not in body
    assert headers["content-security-policy"] == CSP
