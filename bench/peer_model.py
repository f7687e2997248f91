#!/usr/bin/env python3
"""Write Transformers.js's model folder for one of our models (the bench's peer section).

    .venv/bin/python bench/peer_model.py [--out bench/results/peer-models] [--model ID]

Writes ``OUT/ID/config.json``, ``preprocessor_config.json`` and ``onnx/model.onnx`` (our
model with its graph input renamed to ``pixel_values``, checked against the original in native
onnxruntime). ``bench/run.py`` does the same under its ``--out``; see ``benchlib/peer_model.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import BENCH
from benchlib.peer_model import write_model_folder


def main(argv: list[str] | None = None) -> int:
    """Write the folder and print where."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "peer-models")
    ap.add_argument("--model", default="mobilenet_v2-fp32", help="manifest model id")
    args = ap.parse_args(argv)
    print(write_model_folder(args.out, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
