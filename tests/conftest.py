"""Fixtures for end-to-end tests: the real dev server and Debian's Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import ROOT

CHROMIUM = os.environ.get("EDGE_INFER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY_TIMEOUT_MS = 120_000


def start_server(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``tools/serve.py`` on a free loopback port; returns (process, base URL)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "serve.py"), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        match = re.search(r"edge-infer serving (http://\S+)", line)
        if match:
            # Keep draining so the server never blocks on a full pipe; keep the lines (with
            # --verbose they are the access log).
            proc.log = lines
            threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
            return proc, match.group(1)
    raise RuntimeError("serve.py exited before serving:\n" + "".join(lines))


@pytest.fixture(scope="session")
def app_url():
    """Base URL of the app served by the real dev server (COOP/COEP on)."""
    proc, url = start_server()
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium; Playwright cannot download its own browsers here."""
    if not Path(CHROMIUM).exists():
        pytest.exit(f"Chromium not found at {CHROMIUM}; run `npm run setup -- --browser`", 2)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_FLAGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def artifacts_dir():
    """Where tests write screenshots (git-ignored)."""
    path = ROOT / "test-results"
    path.mkdir(exist_ok=True)
    return path
