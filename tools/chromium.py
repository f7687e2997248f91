"""The one Chromium launch configuration for tests and bench: Debian's binary and its flags.

Playwright cannot download its own browsers here, so both launch Debian's ``chromium``
(``npm run setup -- --browser`` installs it). Without the background-networking flags Chromium
tries to reach outside hosts and gets refused.
"""

from __future__ import annotations

import os
import shutil

EXECUTABLE = (
    os.environ.get("EDGE_INFER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING = f"Chromium not found at {EXECUTABLE}; run `npm run setup -- --browser`"


def available() -> bool:
    """Tell whether the Chromium binary exists."""
    return os.path.exists(EXECUTABLE)


def launch_kwargs(*extra_args: str) -> dict:
    """Keyword arguments for Playwright's ``launch`` or ``launch_persistent_context``.

    The executable, :data:`FLAGS` plus ``extra_args``, headless.
    """
    return {"executable_path": EXECUTABLE, "args": [*FLAGS, *extra_args], "headless": True}
