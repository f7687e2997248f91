"""benchlib.idle: the wait for a newly launched browser, on a real Chromium."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from benchlib.browser import CHROMIUM, CHROMIUM_FLAGS
from benchlib.idle import _browser_pid, _tree_ticks, wait_for_browser_idle


def test_waits_until_a_new_browser_is_quiet(playwright):
    if not Path("/proc/self/stat").exists():
        pytest.skip("reads /proc")
    with tempfile.TemporaryDirectory(prefix="edge-infer-idle-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            root = _browser_pid(profile)
            assert root is not None, "the browser for this profile was not found in /proc"
            result = wait_for_browser_idle(profile)
            # Start-up used CPU in the browser's child processes too (GPU, utility,
            # renderer), and the wait saw it end.
            fields = Path(f"/proc/{root}/stat").read_text().rsplit(")", 1)[1].split()
            assert _tree_ticks(root) > int(fields[11]) + int(fields[12])
            assert result["idle"] is True
            assert result["waited_ms"] >= 500
        finally:
            context.close()


def test_unknown_profile_falls_back_to_a_fixed_wait():
    result = wait_for_browser_idle("/nonexistent/profile")
    assert result == {"waited_ms": result["waited_ms"], "idle": False}
    assert result["waited_ms"] >= 1400
