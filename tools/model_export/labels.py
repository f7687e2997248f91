"""Class names: each registry label set read from its package file and checked."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model_export import ExportError
from model_export.environment import package_file
from model_export.registry import LabelSet


def imagenet1k_labels(path: Path) -> list[str]:
    """First synonym of each class, in the standard 0..999 order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or sorted(data, key=int) != [str(i) for i in range(1000)]:
        raise ExportError(f"{path.name}: expected keys '0'..'999'")
    labels = [data[str(i)].split(",")[0].strip() for i in range(1000)]
    expected = {0: "tench", 281: "tabby", 285: "Egyptian cat", 967: "espresso"}
    for index, name in expected.items():
        if labels[index] != name:
            raise ExportError(f"label {index} is {labels[index]!r}, expected {name!r}")
    if any(not label for label in labels):
        raise ExportError("empty label")
    return labels


# label set id -> the parser of its file
PARSERS: dict[str, Callable[[Path], list[str]]] = {"imagenet1k": imagenet1k_labels}


def load_label_set(label_set: LabelSet, pins: dict[str, str]) -> dict[str, Any]:
    """The manifest's ``label_sets`` entry: where the names come from, and the names."""
    path = package_file(label_set.module, label_set.file, label_set.sha256)
    labels = PARSERS[label_set.id](path)
    repeats = {
        name: [i for i, v in enumerate(labels) if v == name]
        for name, n in Counter(labels).items()
        if n > 1
    }
    print(f"labels {label_set.id}: {len(labels)} classes; duplicate short names: {repeats}")
    return {
        "source": {
            "package": label_set.package,
            "version": pins[label_set.package],
            "file": label_set.file,
            "sha256": label_set.sha256,
            "license": label_set.license,
        },
        "labels": labels,
    }
