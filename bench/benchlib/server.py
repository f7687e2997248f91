"""Start and stop ``tools/serve.py`` on a free loopback port (like ``tests/conftest.py``)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from benchlib import ROOT

START_TIMEOUT_S = 30


@contextlib.contextmanager
def serve(mounts: dict[str, Path]) -> Iterator[str]:
    """Serve the app with extra ``/NAME/`` mounts; yields the base URL (ending in ``/``)."""
    args = [sys.executable, str(ROOT / "tools" / "serve.py"), "--port", "0"]
    for name, directory in mounts.items():
        args += ["--mount", f"{name}={directory}"]
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield _wait_for_url(proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_url(proc: subprocess.Popen) -> str:
    """Read the server's output until it prints its URL; keep draining it afterwards."""
    lines = []
    timer = threading.Timer(START_TIMEOUT_S, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            lines.append(line)
            match = re.search(r"edge-infer serving (http://\S+)", line)
            if match:
                threading.Thread(target=proc.stdout.read, daemon=True).start()
                return match.group(1)
    finally:
        timer.cancel()
    raise RuntimeError("tools/serve.py exited before serving:\n" + "".join(lines))
