"""Memory: 100 classifications in one page grow neither WASM heap nor the PyProxy count.

Both heaps are judged, Pyodide's and onnxruntime-web's. The short version of the bench's
memory section (``bench/run.py``, ``bench/memory.py``: 500 runs), through the same code
(``bench/benchlib/memory.py``): the page ``bench/memory.html`` boots a classifier with
``debug: true`` so the worker counts live PyProxies and sees ORT's WASM memory, and
``classifier.stats()`` is sampled every ten runs.
"""

from __future__ import annotations

import sys

import pytest
from conftest import start_server
from helpers import ROOT

pytestmark = pytest.mark.browser

RUNS, EVERY, WARMUP = 100, 10, 20


def load_bench_memory():
    """``benchlib.memory`` from ``bench/`` (not a package on the test path)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    from benchlib import memory

    return memory


@pytest.fixture(scope="module")
def bench_url():
    proc, url = start_server("--mount", f"bench={ROOT / 'bench'}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_stats_shape_and_no_leak_over_100_classifications(page, bench_url):
    memory = load_bench_memory()
    memory.open_harness(page, bench_url)
    series = memory.measure(page, RUNS, EVERY)
    assert [s["run"] for s in series] == list(range(0, RUNS + 1, EVERY))
    # Samples follow even runs, which classify coffee.png (the odd ones chelsea.png).
    assert all(s["label"] == "espresso" for s in series[1:])
    for s in series:
        assert isinstance(s["wasm_heap_bytes"], int) and s["wasm_heap_bytes"] > 16 * 2**20
        # ORT's own heap, apart from Pyodide's: it holds the default model's session.
        assert isinstance(s["ort_wasm_heap_bytes"], int) and s["ort_wasm_heap_bytes"] > 16 * 2**20
        assert isinstance(s["pyproxies"], int)  # counted: the page booted with debug: true
        assert s["js_heap_bytes"] is None or s["js_heap_bytes"] > 0

    summary = memory.growth(series, WARMUP)
    assert summary["wasm_heap"]["growth_pct"] < 5, series
    assert summary["ort_wasm_heap"]["growth_pct"] < 5, series
    pyproxies = summary["pyproxies"]
    assert pyproxies["values_after_warmup"] == [pyproxies["start"]], series
    assert pyproxies["leaked_per_run"] == 0


def test_stats_without_debug_does_not_count_pyproxies(ready_page):
    """The app page (no debug): `stats()` answers; PyProxies and ORT's heap are null."""
    page = ready_page
    page.wait_for_selector("body[data-state='ready']", timeout=120_000)
    stats = page.evaluate(
        """async () => {
            const { createClassifier } = await import('./edge-infer.js');
            const c = createClassifier({ debug: true });  // too late: the app booted the runtime
            const stats = await c.stats();
            c.dispose();
            return stats;
        }"""
    )
    assert stats["pyproxies"] is None and stats["wasm_heap_bytes"] > 0
    assert stats["ort_wasm_heap_bytes"] is None
