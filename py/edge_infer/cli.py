"""Command line for the CPython host: ``python -m edge_infer classify IMAGE...``.

Prints one JSON result per image, one per line, in the same shape the browser produces.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from edge_infer.manifest import ManifestError, load_manifest


def default_manifest_path() -> Path:
    """``$EDGE_INFER_MANIFEST``, else ``./models/manifest.json``, else the source checkout's."""
    env = os.environ.get("EDGE_INFER_MANIFEST")
    if env:
        return Path(env)
    local = Path("models/manifest.json")
    if local.is_file():
        return local
    return Path(__file__).resolve().parents[2] / "models" / "manifest.json"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per action."""
    parser = argparse.ArgumentParser(prog="edge_infer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    classify = sub.add_parser("classify", help="classify image files, print JSON lines")
    classify.add_argument("images", nargs="+", type=Path, help="image files")
    classify.add_argument("--model", help="manifest model id (default: the manifest's default)")
    classify.add_argument("--top-k", type=int, default=5, help="classes per result (default 5)")
    classify.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    classify.add_argument("--manifest", type=Path, default=None, help="path to manifest.json")
    serve = sub.add_parser(
        "serve-json",
        help="read classic requests {image_data, width, height, model_id}, one JSON per line "
        "on stdin; write one JSON answer per line",
    )
    serve.add_argument("--top-k", type=int, default=5, help="classes per result (default 5)")
    serve.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    serve.add_argument("--manifest", type=Path, default=None, help="path to manifest.json")
    sub.add_parser("models", help="list the manifest's models").add_argument(
        "--manifest", type=Path, default=None
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 some image failed, 2 usage)."""
    args = build_parser().parse_args(argv)
    manifest_path = args.manifest or default_manifest_path()
    try:
        manifest = load_manifest(manifest_path)
    except ManifestError as exc:
        print(f"edge_infer: {exc}", file=sys.stderr)
        return 2
    if args.command == "models":
        for model in manifest.models.values():
            default = " (default)" if model.id == manifest.default_model else ""
            print(f"{model.id}\t{model.version}\t{model.bytes}\t{model.name}{default}")
        return 0
    if args.command == "serve-json":
        return _serve_json(args, manifest, manifest_path.parent)
    return _classify(args, manifest, manifest_path.parent)


def _classify(args, manifest, models_dir: Path) -> int:
    from edge_infer.decode import DecodeError, decode_file
    from edge_infer.hosts.native import ModelIntegrityError, create_pipeline

    if args.top_k < 1 or args.threads < 1:
        print("edge_infer: --top-k and --threads must be at least 1", file=sys.stderr)
        return 2
    try:
        pipeline = create_pipeline(manifest, models_dir, args.model, args.threads)
    except (ManifestError, ModelIntegrityError) as exc:
        print(f"edge_infer: {exc}", file=sys.stderr)
        return 2
    status = 0
    for path in args.images:
        try:
            pixels, decode_ms = decode_file(path)
            result = pipeline.classify(pixels, top_k=args.top_k, decode_ms=decode_ms)
        except (DecodeError, ValueError) as exc:
            code = getattr(exc, "code", "E_INPUT")
            print(f"edge_infer: {exc} [{code}]", file=sys.stderr)
            status = 1
            continue
        result["file"] = str(path)
        print(json.dumps(result), flush=True)
    return status


def _serve_json(args, manifest, models_dir: Path) -> int:
    """Answer classic JSON requests line by line; errors are answers too, never a crash."""
    from edge_infer.hosts.native import ModelIntegrityError, create_pipeline
    from edge_infer.raw_rgb_request import RawRgbRequestError, parse_raw_rgb_request

    pipelines = {}
    status = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except json.JSONDecodeError as exc:
            answer = _error("E_INPUT", f"not valid JSON: {exc.msg} (column {exc.colno})")
        else:
            try:
                pixels, model_id = parse_raw_rgb_request(request)
                model = manifest.get(model_id)
                if model.id not in pipelines:
                    pipelines[model.id] = create_pipeline(
                        manifest, models_dir, model.id, args.threads
                    )
                answer = pipelines[model.id].classify(pixels, top_k=args.top_k)
            except RawRgbRequestError as exc:
                answer = _error(exc.code, str(exc))
            except ManifestError as exc:
                answer = _error("E_MODEL_UNKNOWN", str(exc))
            except ModelIntegrityError as exc:
                answer = _error("E_MODEL_INTEGRITY", str(exc))
        if "error" in answer:
            status = 1
        print(json.dumps(answer), flush=True)
    return status


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}
