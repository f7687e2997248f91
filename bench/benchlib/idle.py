"""Wait for a freshly launched Chromium to finish starting up before a first visit.

A first visit runs in a new on-disk profile, so the bench launches a new browser for each.
For about a second after launch, that browser's own start-up (profile files, its utility and
GPU processes) keeps both of this machine's cores busy. A user's first visit happens in a
browser that is already running, so the bench waits for the new browser's process tree to
go quiet before it navigates. Linux only (reads /proc); elsewhere it waits a fixed time.
"""

from __future__ import annotations

import os
import time

WINDOW_S = 0.25  # one CPU sample
QUIET_TICKS = 2  # at most this many clock ticks (10 ms each) in a window: under 8 % of a core
QUIET_WINDOWS = 2  # consecutive quiet windows that count as idle
TIMEOUT_S = 10.0
FALLBACK_S = 1.5  # without /proc: longer than the start-up measured here


def wait_for_browser_idle(profile_dir: str) -> dict:
    """Block until the Chromium using ``profile_dir`` is idle, at most ``TIMEOUT_S``.

    Returns ``{"waited_ms", "idle"}``: how long it waited, and whether the browser went quiet
    (False: the timeout ran out, or /proc could not be read and a fixed time was waited).
    """
    start = time.monotonic()
    root = _browser_pid(profile_dir)
    if root is None:
        time.sleep(FALLBACK_S)
        return {"waited_ms": round((time.monotonic() - start) * 1000), "idle": False}
    quiet, last = 0, _tree_ticks(root)
    while quiet < QUIET_WINDOWS and time.monotonic() - start < TIMEOUT_S:
        time.sleep(WINDOW_S)
        now = _tree_ticks(root)
        quiet = quiet + 1 if now - last <= QUIET_TICKS else 0
        last = now
    return {"waited_ms": round((time.monotonic() - start) * 1000), "idle": quiet >= QUIET_WINDOWS}


def _browser_pid(profile_dir: str) -> int | None:
    """PID of the browser process started with ``--user-data-dir=profile_dir``."""
    flag = f"--user-data-dir={profile_dir}".encode()
    for pid, cmdline in _processes():
        if flag in cmdline.split(b"\0"):
            return pid
    return None


def _tree_ticks(root: int) -> int:
    """CPU clock ticks (user + system) used so far by ``root`` and all its descendants."""
    parents, ticks = {}, {}
    for pid, _ in _processes():
        stat = _read(f"/proc/{pid}/stat")
        if stat is None:
            continue
        fields = stat.rsplit(b")", 1)[1].split()
        parents[pid] = int(fields[1])
        ticks[pid] = int(fields[11]) + int(fields[12])
    total = 0
    for pid, tick in ticks.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            total += tick
    return total


def _processes():
    """``(pid, raw cmdline)`` of every readable process."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if name.isdigit():
            cmdline = _read(f"/proc/{name}/cmdline")
            if cmdline is not None:
                yield int(name), cmdline


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:  # the process ended
        return None
