"""benchlib.idle: the bench's wait for Chromium to go quiet, on a real Chromium."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from benchlib import idle
from benchlib.browser import CHROMIUM, CHROMIUM_FLAGS


def test_waits_until_a_newly_launched_browser_is_quiet(playwright):
    if not Path("/proc/self/stat").exists():
        pytest.skip("reads /proc")
    with tempfile.TemporaryDirectory(prefix="edge-infer-idle-") as profile:
        before = idle.chromium_ticks()
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            result = idle.wait_for_chromium_idle()
            # The new browser's start-up used CPU, and the wait saw it end.
            assert idle.chromium_ticks() > before
            assert result["idle"] is True
            assert result["waited_ms"] >= 500
        finally:
            context.close()


def test_without_proc_it_waits_a_fixed_time(monkeypatch):
    def no_proc(path):
        raise OSError("no /proc here")

    monkeypatch.setattr(idle.os, "listdir", no_proc)
    result = idle.wait_for_chromium_idle()
    assert result["idle"] is False
    assert result["waited_ms"] >= idle.FALLBACK_S * 1000 - 50
