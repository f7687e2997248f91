"""Host adapters: the only modules that touch a host-specific runtime.

``native`` needs CPython with onnxruntime (and Pillow to decode files); ``browser`` needs
Pyodide. Neither is imported by the rest of the package.
"""
