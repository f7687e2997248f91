"""edge-infer: image classification whose numpy pre/postprocessing runs in Pyodide and CPython.

The package is pure numpy. Host adapters (``edge_infer.hosts.browser`` for Pyodide and
``edge_infer.hosts.native`` for CPython + onnxruntime) are imported only by their host.
"""

from edge_infer.manifest import Manifest, ManifestError, ModelSpec, PreprocessSpec, load_manifest
from edge_infer.pipeline import Pipeline
from edge_infer.postprocess import softmax, top_k
from edge_infer.preprocess import PreprocessError, preprocess

__version__ = "0.1.0"

__all__ = [
    "Manifest",
    "ManifestError",
    "ModelSpec",
    "Pipeline",
    "PreprocessError",
    "PreprocessSpec",
    "__version__",
    "load_manifest",
    "preprocess",
    "softmax",
    "top_k",
]
