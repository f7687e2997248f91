"""Helpers for ``bench/run.py``: server, inputs, browser sessions, baselines and reports."""

from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
ROOT = BENCH.parent
MODELS = ROOT / "models"
MANIFEST = MODELS / "manifest.json"
