"""Facts about the machine and the checkout, recorded with every benchmark."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

from benchlib import ROOT


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux), if available."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def other_chromium_processes() -> int:
    """How many Chromium processes are running (other benchmarks or tests add noise)."""
    count = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in ("chromium", "chrome"):
                count += 1
        except OSError:
            continue
    return count


def loadavg() -> list[float] | None:
    """1, 5 and 15 minute load averages."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _git(*args: str) -> str | None:
    """Output of a read-only git command (never takes optional locks), or None."""
    try:
        out = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine_facts() -> dict:
    """Cores, CPU, OS, Python, git commit and how busy the machine is right now."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "loadavg_start": loadavg(),
        "other_chromium_processes": other_chromium_processes(),
    }
