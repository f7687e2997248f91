"""Command line for the CPython host: ``python -m edge_infer classify IMAGE...``.

Prints one JSON result per image, one per line, in the same shape the browser produces.
``add-model`` registers a user's ONNX classifier in the manifest (see ``edge_infer.add_model``).
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
    classify.add_argument(
        "images", nargs="*", type=Path, help="image files, or folders (every file inside)"
    )
    classify.add_argument(
        "--files-from",
        type=Path,
        metavar="LIST",
        help="also classify the paths listed in LIST, one per line ('-' reads stdin)",
    )
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
    _add_model_parser(sub)
    _eval_parser(sub)
    return parser


def _eval_parser(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="accuracy on a labelled data set, in CPython and/or the browser, and their agreement",
        description="Classify a labelled data set with each host (exact preprocessing) and "
        "print top-1 and top-5 accuracy, the hosts' agreement and the images they differ on.",
        epilog="DATA is a folder of class-named subfolders (names matched to the model's labels, "
        "ignoring case, spaces, '_' and '-') or a CSV of path,label rows (label: a name or a "
        "class index; paths relative to the CSV). Missing files, unknown labels and images "
        "that do not decode are reported and counted, not fatal. --host browser runs headless "
        "Chromium on this checkout's page (after npm run setup -- --browser or npm test).",
    )
    p.add_argument("data", type=Path, help="a folder of class folders, or a path,label CSV")
    p.add_argument("--model", help="manifest model id (default: the manifest's default)")
    p.add_argument("--host", choices=["native", "browser", "both"], default="native")
    p.add_argument("--limit", type=int, help="evaluate the first N images only")
    p.add_argument("--json", type=Path, dest="json_out", help="also write the report here")
    p.add_argument("--threads", type=int, default=1, help="native onnxruntime threads")
    p.add_argument("--manifest", type=Path, default=None, help="path to manifest.json")


ADD_MODEL_EPILOG = """
labels file: a .json file holds a JSON list of strings; any other file is UTF-8 text with
one label per line, in class-index order (surrounding spaces are stripped, blank lines at
the end are ignored, a blank line elsewhere is an error). Their count must equal the model's
output classes.

The model must have one static float32 input, [1, C, H, W] (NCHW) or [1, H, W, C] (NHWC)
with C = 3 (RGB or BGR) or 1 (grey), and one float32 output [1, classes]; H x W is the
centre crop (or the stretched size). It is copied next to the manifest as ID.onnx (a
--python file as ID.hooks.py, each --wheel under its own name), and the manifest is
rewritten atomically; on any error nothing is written (exit status 2).
Python hooks run in both hosts; they may import numpy, the standard library and the
pure-Python wheels given with --wheel (CPython imports them from the zip, the browser
installs them with micropip from this site, never from an index).
Afterwards run `python3 tools/setup.py` (npm start does) so the page's offline cache serves
the new manifest.
"""


def _add_model_parser(sub) -> None:
    p = sub.add_parser(
        "add-model",
        help="check an ONNX image classifier and add it to the manifest",
        description="Check an ONNX image classifier with native onnxruntime (one run on a "
        "generated image included), copy it next to the manifest and add its entry.",
        epilog=ADD_MODEL_EPILOG.strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", type=Path, help="the .onnx file")
    p.add_argument("--labels", type=Path, required=True, help="labels file (see below)")
    p.add_argument("--id", dest="model_id", help="manifest id (default: the file name's stem)")
    p.add_argument("--name", help="display name in the page's picker (default: the id)")
    p.add_argument("--model-version", default="1.0.0", help="entry version (default 1.0.0)")
    p.add_argument("--license", default="unspecified", help="the model's license")
    pre = p.add_argument_group("preprocessing: (v * scale - mean[c]) / std[c] per channel")
    pre.add_argument(
        "--resize",
        choices=["shorter-side", "stretch"],
        default="shorter-side",
        help="shorter-side: resize the shorter side, then centre-crop the model's H x W; "
        "stretch: resize straight to H x W (default shorter-side)",
    )
    pre.add_argument(
        "--resize-shorter-side",
        type=int,
        metavar="N",
        help="resize the shorter side to N, then centre-crop the model's H x W "
        "(default: round(max(H, W) * 256 / 224), 256 for 224)",
    )
    pre.add_argument(
        "--channels",
        choices=["RGB", "BGR", "L"],
        help="channel order of the input; L is grey, as Pillow's convert('L') "
        "(default: RGB for 3 channels, L for 1)",
    )
    pre.add_argument(
        "--layout",
        choices=["NCHW", "NHWC"],
        help="input layout (default: what the input shape shows; NCHW if both fit)",
    )
    pre.add_argument("--scale", type=float, default=1 / 255, help="default 1/255")
    pre.add_argument(
        "--mean",
        type=float,
        nargs="+",
        metavar="M",
        help="one value per channel (default: ImageNet's 0.485 0.456 0.406 for RGB, in "
        "channel order for BGR; 0 for grey)",
    )
    pre.add_argument(
        "--std",
        type=float,
        nargs="+",
        metavar="S",
        help="one value per channel (default: ImageNet's 0.229 0.224 0.225; 1 for grey)",
    )
    pre.add_argument(
        "--offset",
        type=float,
        help="v * scale + offset instead of mean and std (for example --scale 0.00784313725 "
        "--offset -1 for inputs in -1..1)",
    )
    pre.add_argument(
        "--antialias",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="antialiased (Pillow-style) bilinear resize (default on)",
    )
    pre.add_argument(
        "--background",
        type=int,
        nargs=3,
        metavar=("R", "G", "B"),
        help="colour transparent pixels are composited over (default white)",
    )
    p.add_argument(
        "--python",
        type=Path,
        metavar="HOOKS.py",
        help="your own Python for this model: preprocess(pixels, model) and/or "
        "postprocess(logits, model); copied next to the model, run by both hosts",
    )
    p.add_argument(
        "--wheel",
        type=Path,
        action="append",
        default=[],
        metavar="NAME-VERSION-py3-none-any.whl",
        help="a pure-Python wheel the --python file imports (repeatable); copied next to "
        "the model and pinned by sha256",
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--output",
        choices=["softmax", "sigmoid", "none"],
        default="softmax",
        help="softmax: one class per image; sigmoid: independent classes (multi-label); "
        "none: the model already outputs probabilities (default softmax)",
    )
    out.add_argument(
        "--threshold",
        type=float,
        help="with --output sigmoid: the probability a class needs to count as present "
        "(default 0.5)",
    )
    where = p.add_argument_group("where")
    where.add_argument(
        "--manifest",
        type=Path,
        default=None,
        help="manifest.json to extend (default: MODELS_DIR/manifest.json, else as `models`)",
    )
    where.add_argument(
        "--models-dir",
        type=Path,
        default=None,
        help="folder holding manifest.json and the model files (the model is copied here)",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 some image failed, 2 usage)."""
    args = build_parser().parse_args(argv)
    if args.command == "add-model":
        return _add_model(args)
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
    if args.command == "eval":
        return _eval(args, manifest, manifest_path.parent)
    return _classify(args, manifest, manifest_path.parent)


def _eval(args, manifest, models_dir: Path) -> int:
    from edge_infer import evaluate
    from edge_infer.hooks import HookError
    from edge_infer.hosts.native import ModelIntegrityError, create_pipeline

    if args.threads < 1 or (args.limit is not None and args.limit < 1):
        print("edge_infer: --threads and --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        model = manifest.get(args.model)
        samples, bad = evaluate.read_dataset(args.data, model.labels)
        if args.limit is not None:
            samples = samples[: args.limit]
        if not samples:
            raise evaluate.EvalError(f"{args.data}: no labelled images to evaluate")
        runs = []
        if args.host in ("native", "both"):
            pipeline = create_pipeline(manifest, models_dir, model.id, args.threads)
            bar = evaluate.progress_bar("native", len(samples))
            runs.append(evaluate.run_native(samples, pipeline, 5, bar))
        if args.host in ("browser", "both"):
            from edge_infer.browser_eval import run_browser

            bar = evaluate.progress_bar("browser", len(samples))
            runs.append(run_browser(samples, model.id, models_dir, 5, bar))
    except (evaluate.EvalError, ManifestError, ModelIntegrityError, HookError) as exc:
        print(f"edge_infer: eval: {exc}", file=sys.stderr)
        return 2
    report = evaluate.summarize(model, samples, bad, runs)
    print(evaluate.format_report(report))
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def _classify(args, manifest, models_dir: Path) -> int:
    from edge_infer.decode import DecodeError, decode_file
    from edge_infer.hooks import HookError
    from edge_infer.hosts.native import ModelIntegrityError, create_pipeline

    if args.top_k < 1 or args.threads < 1:
        print("edge_infer: --top-k and --threads must be at least 1", file=sys.stderr)
        return 2
    try:
        pipeline = create_pipeline(manifest, models_dir, args.model, args.threads)
    except (ManifestError, ModelIntegrityError, HookError) as exc:
        print(f"edge_infer: {exc}", file=sys.stderr)
        return 2
    try:
        paths = image_paths(args.images, args.files_from)
    except OSError as exc:
        print(f"edge_infer: cannot read {args.files_from}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not paths:
        print(
            "edge_infer: classify: no images given (files, folders or --files-from)",
            file=sys.stderr,
        )
        return 2
    status = 0
    for path in paths:
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


def image_paths(arguments: list[Path], files_from: Path | None) -> list[Path]:
    """The files to classify, in order.

    Each argument, or every file under it if it is a folder (sorted, hidden ones skipped),
    then the lines of ``files_from`` (``-`` is stdin).
    """
    paths = []
    for arg in arguments:
        if arg.is_dir():
            found = (p for p in arg.rglob("*") if p.is_file())
            paths += sorted(
                p
                for p in found
                if not any(part.startswith(".") for part in p.relative_to(arg).parts)
            )
        else:
            paths.append(arg)
    if files_from is not None:
        text = (
            sys.stdin.read() if str(files_from) == "-" else files_from.read_text(encoding="utf-8")
        )
        paths += [Path(line.strip()) for line in text.splitlines() if line.strip()]
    return paths


def _serve_json(args, manifest, models_dir: Path) -> int:
    """Answer classic JSON requests line by line; errors are answers too, never a crash."""
    from edge_infer.hooks import HookError
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
            except HookError as exc:
                answer = _error(exc.code, str(exc))
        if "error" in answer:
            status = 1
        print(json.dumps(answer), flush=True)
    return status


def _add_model(args) -> int:
    from edge_infer.add_model import AddModelError, PreprocessOptions, add_model

    manifest_path = args.manifest
    if args.models_dir is not None:
        if manifest_path is None:
            manifest_path = args.models_dir / "manifest.json"
        elif manifest_path.resolve().parent != args.models_dir.resolve():
            # Entries name their file relative to the manifest's folder, nowhere else.
            print(
                f"edge_infer: add-model: --models-dir {args.models_dir} is not the folder of "
                f"--manifest {args.manifest}; the model files must sit next to the manifest",
                file=sys.stderr,
            )
            return 2
    manifest_path = manifest_path or default_manifest_path()
    options = PreprocessOptions(
        resize_shorter_side=args.resize_shorter_side,
        scale=args.scale,
        mean=tuple(args.mean) if args.mean else None,
        std=tuple(args.std) if args.std else None,
        antialias=args.antialias,
        background=tuple(args.background) if args.background else None,
        resize=args.resize.replace("-", "_"),
        channel_order=args.channels,
        layout=args.layout,
        offset=args.offset,
        activation=args.output,
        threshold=args.threshold,
    )
    try:
        added = add_model(
            args.model,
            args.labels,
            manifest_path,
            model_id=args.model_id,
            name=args.name,
            version=args.model_version,
            license=args.license,
            preprocess=options,
            hooks_path=args.python,
            wheel_paths=args.wheel,
        )
    except AddModelError as exc:
        print(f"edge_infer: add-model: {exc}; {manifest_path} is unchanged", file=sys.stderr)
        return 2
    print(
        f"added {added.id}: {added.file} ({added.bytes} bytes, sha256 {added.sha256}), "
        f"input {list(added.input_shape)}, {added.labels} labels (label set {added.label_set}); "
        f"probe on a generated image: {added.probe_top1} {added.probe_probability:.3f}\n"
        f"{manifest_path} updated. Run `python3 tools/setup.py` (npm start does) so the "
        f"page's offline cache serves the new manifest; then ?model={added.id} works."
    )
    if added.reformatted:
        print(f"note: {manifest_path} was rewritten in the canonical format (2-space JSON)")
    return 0


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}
