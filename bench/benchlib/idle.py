"""Wait for Chromium to go idle before the bench opens a page it measures.

On this machine's 2 cores, a main-thread task's wall time is mostly waiting for a core
(``bench/trace_load.py`` prints wall against CPU time), and the Long Tasks API measures wall
time. Two bench habits kept other Chromium processes busy at the worst moment:

- each first visit launches a new browser (a new on-disk profile), whose own start-up keeps
  both cores busy for about a second after launch;
- each steady-state page opens right after the previous page's context closed, while its
  renderer (hundreds of MB, several threads) is still being torn down.

A user's page opens in a browser that is already running and quiet, so the bench waits until
every Chromium process together has gone quiet. Linux only (reads /proc); elsewhere it waits
a fixed time.
"""

from __future__ import annotations

import os
import time

WINDOW_S = 0.25  # one CPU sample
QUIET_TICKS = 2  # at most this many clock ticks (10 ms each) in a window: under 8 % of a core
QUIET_WINDOWS = 2  # consecutive quiet windows that count as idle
TIMEOUT_S = 10.0
FALLBACK_S = 1.5  # without /proc: longer than the start-up measured here
# V8 writes a module's code cache once its optimised code has stopped growing for 2 s
# (--wasm-caching-timeout-ms); a revisit that starts sooner cannot hit it.
CODE_CACHE_DELAY_S = 3.0


def wait_for_chromium_idle() -> dict:
    """Block until all Chromium processes together are quiet, at most ``TIMEOUT_S``.

    Returns ``{"waited_ms", "idle"}``: how long it waited, and whether Chromium went quiet
    (False: the timeout ran out, or /proc could not be read and a fixed time was waited).
    """
    start = time.monotonic()
    last = chromium_ticks()
    if last is None:
        time.sleep(FALLBACK_S)
        return {"waited_ms": round((time.monotonic() - start) * 1000), "idle": False}
    quiet = 0
    while quiet < QUIET_WINDOWS and time.monotonic() - start < TIMEOUT_S:
        time.sleep(WINDOW_S)
        now = chromium_ticks() or 0
        # A process that ended takes its ticks along: a drop counts as quiet, not negative.
        quiet = quiet + 1 if now - last <= QUIET_TICKS else 0
        last = now
    return {"waited_ms": round((time.monotonic() - start) * 1000), "idle": quiet >= QUIET_WINDOWS}


def chromium_ticks() -> int | None:
    """CPU clock ticks (user + system) used so far by every running Chromium process.

    None when /proc cannot be read.
    """
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    total = 0
    for name in names:
        if not name.isdigit():
            continue
        cmdline = _read(f"/proc/{name}/cmdline")
        stat = _read(f"/proc/{name}/stat")
        if cmdline is None or stat is None or b"chromium" not in cmdline.split(b"\0")[0]:
            continue
        fields = stat.rsplit(b")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:  # the process ended
        return None


def wait_for_code_cache(delay_s: float = CODE_CACHE_DELAY_S) -> dict:
    """Before a revisit: wait until Chromium is quiet, then for V8 to write its code caches.

    Returns :func:`wait_for_chromium_idle`'s answer for the first wait, with ``waited_ms``
    covering the whole wait.
    """
    start = time.monotonic()
    idle = wait_for_chromium_idle()
    time.sleep(delay_s)
    wait_for_chromium_idle()  # the cache write itself (serialising several MB)
    return {**idle, "waited_ms": round((time.monotonic() - start) * 1000)}
