"""A model's own Python, run unchanged by both hosts.

A file stored next to the model defines ``preprocess(pixels, model)`` and/or
``postprocess(logits, model)``.

``preprocess`` gets the decoded pixels (uint8, ``(H, W, 4)`` RGBA in the browser, ``(H, W,
3)`` RGB or ``(H, W)`` grey in CPython) and the model's :class:`~edge_infer.manifest.ModelSpec`,
and returns the input tensor (``model.input_shape``, float32). ``postprocess`` gets the
model's output row and returns one probability per label. A hook that raises, or returns
the wrong thing, fails that image with an error naming the hook file and line; the next
image runs as usual.

A hook may import pure-Python packages its manifest entry declares as wheels
(``hooks.wheels``, next to the model). The CPython host puts each wheel on ``sys.path``
(:func:`put_wheels_on_path`: Python imports a pure-Python wheel straight from its zip, no pip
and no install); the browser installs them with micropip (``web/lib/hook-wheels.js``).
"""

from __future__ import annotations

import hashlib
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_infer.manifest import ModelSpec

HOOK_NAMES = ("preprocess", "postprocess")


class HookError(ValueError):
    """A hook file does not load, or a hook failed; the message names the file and line."""

    code = "E_HOOK"


@dataclass(frozen=True)
class Hooks:
    """The hook functions one file defines (``None`` where it defines none)."""

    file: str
    preprocess: Callable | None
    postprocess: Callable | None

    def run_preprocess(self, pixels: np.ndarray, model: ModelSpec, out: np.ndarray) -> np.ndarray:
        """Call the preprocess hook and copy its tensor into ``out`` (checked)."""
        x = self._call("preprocess", pixels, model)
        x = np.asarray(x)
        if x.shape != out.shape:
            raise HookError(
                f"{self.file}: preprocess returned shape {list(x.shape)}; the model's input "
                f"is {list(out.shape)}"
            )
        if not np.issubdtype(x.dtype, np.number):
            raise HookError(f"{self.file}: preprocess returned {x.dtype} values, not numbers")
        np.copyto(out, x, casting="unsafe")
        return out

    def run_postprocess(self, logits: np.ndarray, model: ModelSpec) -> np.ndarray:
        """Call the postprocess hook; returns its probabilities (checked) as float64."""
        p = np.asarray(self._call("postprocess", logits, model), dtype=np.float64).reshape(-1)
        if p.size != len(model.labels):
            raise HookError(
                f"{self.file}: postprocess returned {p.size} values for {len(model.labels)} labels"
            )
        if not np.isfinite(p).all():
            raise HookError(f"{self.file}: postprocess returned NaN or infinity")
        return p

    def _call(self, name: str, *args):
        try:
            return getattr(self, name)(*args)
        except Exception as exc:  # the user's code: any exception is that image's failure
            raise HookError(
                f"{where(exc, self.file)}, in {name}: {type(exc).__name__}: {exc}"
            ) from exc


def put_wheels_on_path(paths: list[Path]) -> None:
    """Make the pure-Python wheels at ``paths`` importable in CPython, ahead of installed packages.

    A wheel already on the path stays where it is. Python's zipimport reads modules straight
    from a wheel; a package that needs its files on disk (``__file__`` paths) does not work
    this way, and neither would it in a zip-imported egg.
    """
    for path in reversed(paths):
        entry = str(Path(path).resolve())
        if entry not in sys.path:
            sys.path.insert(0, entry)


def where(exc: BaseException, file: str) -> str:
    """``FILE, line N`` of the innermost frame of ``exc`` inside the hook file."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == file]
    return f"{file}, line {frames[-1].lineno}" if frames else file


def load_hooks(source: str | bytes, file: str, sha256: str | None = None) -> Hooks:
    """Run a hook file's source as a module and pick up its hooks.

    Args:
        source: the file's content.
        file: its name, as errors and tracebacks show it.
        sha256: the manifest's hash of the file; checked when given.

    Raises:
        HookError: a wrong hash, a syntax error or an exception while importing (with the
            line), no hook defined, or a hook that is not callable.

    """
    data = source.encode("utf-8") if isinstance(source, str) else source
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise HookError(
                f"{file} fails its integrity check (sha256 {digest}, expected {sha256})"
            )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HookError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    module = types.ModuleType(f"edge_infer_hooks_{hashlib.sha256(data).hexdigest()[:12]}")
    module.__file__ = file
    try:
        code = compile(text, file, "exec")
        sys.modules[module.__name__] = module  # dataclasses and pickling look modules up
        exec(code, module.__dict__)
    except SyntaxError as exc:
        raise HookError(
            f"{file}, line {exc.lineno}: does not import: SyntaxError: {exc.msg}"
        ) from exc
    except Exception as exc:
        raise HookError(
            f"{where(exc, file)}: does not import: {type(exc).__name__}: {exc}"
        ) from exc
    found = {name: getattr(module, name, None) for name in HOOK_NAMES}
    for name, fn in found.items():
        if fn is not None and not callable(fn):
            raise HookError(f"{file}: {name} is a {type(fn).__name__}, not a function")
    if not any(found.values()):
        raise HookError(
            f"{file}: defines neither preprocess(pixels, model) nor postprocess(logits, model)"
        )
    return Hooks(file, found["preprocess"], found["postprocess"])
