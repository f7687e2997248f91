"""Faults: the memory snapshot cannot be used, so Python boots without it, in the same worker.

Each case serves a copy of ``web/vendor`` (``serve.py --mount vendor=DIR``; the real folder is
never touched) whose snapshot is missing or corrupt, was made from another stdlib zip, or
fails half-way through its restore (after the heap was copied in). The runtime must still
boot, say why in ``runtime.notes``, and classify exactly as the app booted from its snapshot
does. A corrupt runtime file that the normal boot needs too still fails the boot:
``test_runtime_faults.py``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import READY_TIMEOUT_MS, start_server
from helpers import CAT_LABELS, ROOT, photo

pytestmark = pytest.mark.browser

VENDOR = ROOT / "web" / "vendor"
VENDOR_JSON = json.loads((VENDOR / "vendor.json").read_text())
SNAPSHOT = VENDOR_JSON["bytecode"]["snapshot"]["file"]
STDLIB = VENDOR_JSON["bytecode"]["stdlib"]["file"]

# Boots a classifier with the public API, then classifies chelsea.png; a hang fails the test.
BOOT_AND_CLASSIFY_JS = """async ({ b64, ms }) => {
    const { createClassifier } = await import('/edge-infer.js');
    const classifier = createClassifier();
    const image = new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'chelsea.png',
                           { type: 'image/png' });
    const run = (async () => {
        const info = await classifier.ready;
        return { info, result: await classifier.classify(image) };
    })();
    try {
        return await Promise.race([run, new Promise((_, reject) => setTimeout(
            () => reject(new Error('no answer in time')), ms))]);
    } finally {
        classifier.dispose();
    }
}"""


def boot_and_classify(page) -> dict:
    b64 = base64.b64encode(photo("chelsea.png").read_bytes()).decode()
    return page.evaluate(BOOT_AND_CLASSIFY_JS, {"b64": b64, "ms": READY_TIMEOUT_MS})


def read_snapshot(data: bytes) -> tuple[dict, bytes]:
    """The header and the rest of a snapshot file (readSnapshot in pyodide-loader.js)."""
    raw = gzip.decompress(data)
    length = int.from_bytes(raw[:4], "little")
    return json.loads(raw[4 : 4 + length]), raw[4 + length :]


def write_snapshot(meta: dict, heap: bytes) -> bytes:
    """A snapshot file with a changed header, laid out as tools/make_snapshot.mjs does."""
    header = json.dumps(meta).encode()
    header += b" " * (-(4 + len(header)) % 16)  # the heap stays 16-byte aligned
    return gzip.compress(len(header).to_bytes(4, "little") + header + heap)


def replace_file(vendor: Path, rel: str, data: bytes) -> None:
    """Serve ``data`` as ``rel``, with vendor.json saying so (as setup would have)."""
    (vendor / rel).write_bytes(data)
    path = vendor / "vendor.json"
    listing = json.loads(path.read_text())
    sha256 = hashlib.sha256(data).hexdigest()
    listing["files"][rel] = {"bytes": len(data), "sha256": sha256}
    for entry in listing["bytecode"].values():
        if entry["file"] == rel:
            entry["sha256"] = sha256
    path.write_text(json.dumps(listing, indent=2) + "\n")


def another_stdlib(data: bytes) -> bytes:
    """The same stdlib with one more entry in front: a valid zip whose offsets all moved."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        dst.writestr("edge_infer_test_marker.txt", "not in the snapshot's zip\n")
        for info in src.infolist():
            dst.writestr(info, src.read(info))
    return out.getvalue()


def break_snapshot(vendor: Path, fault: str) -> str:
    """Make the fault; returns what the note must say."""
    snapshot = vendor / SNAPSHOT
    if fault == "missing":
        snapshot.unlink()
        return "HTTP 404"
    if fault == "corrupt":
        data = bytearray(snapshot.read_bytes())
        middle = len(data) // 2
        data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
        snapshot.write_bytes(data)
        return "fails its integrity check"
    if fault == "other-stdlib":
        replace_file(vendor, STDLIB, another_stdlib((vendor / STDLIB).read_bytes()))
        return f"it was made from another {STDLIB}"
    assert fault == "half-restored", fault
    # Restored and relinked, then refused: the first library's recorded name no longer
    # matches the one its handle relinks.
    meta, heap = read_snapshot(snapshot.read_bytes())
    first = meta["libraries"][0]
    first["name"] += ".renamed"
    replace_file(vendor, SNAPSHOT, write_snapshot(meta, heap))
    return f"relinking {first['name']} failed"


@pytest.fixture(params=["missing", "corrupt", "other-stdlib", "half-restored"])
def site_without_snapshot(request, tmp_path):
    """The app served with a snapshot the boot cannot use; yields (base URL, expected note)."""
    vendor = tmp_path / "vendor"
    shutil.copytree(VENDOR, vendor)
    reason = break_snapshot(vendor, request.param)
    proc, url = start_server("--mount", f"vendor={vendor}")
    yield url, reason
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def from_snapshot(ready_page):
    """chelsea.png classified by the app as shipped, which boots from its snapshot."""
    out = boot_and_classify(ready_page)
    startup, notes = out["info"]["startup_ms"], out["info"]["runtime"]["notes"]
    assert "snapshot_restore" in startup and "numpy_load" not in startup, startup
    assert not [n for n in notes if "snapshot" in n], notes
    return out["result"]


def test_without_a_usable_snapshot_python_boots_normally_and_says_why(
    page, site_without_snapshot, from_snapshot
):
    url, reason = site_without_snapshot
    page.goto(url + "models/manifest.json")  # same origin, boots nothing itself
    out = boot_and_classify(page)

    notes = [n for n in out["info"]["runtime"]["notes"] if "memory snapshot" in n]
    assert len(notes) == 1 and reason in notes[0], out["info"]["runtime"]["notes"]
    startup = out["info"]["startup_ms"]
    assert "snapshot_attempt" in startup and "numpy_load" in startup, startup
    assert "snapshot_restore" not in startup, startup

    result = out["result"]
    assert result["label"] in CAT_LABELS
    assert result["runtime"]["notes"] == out["info"]["runtime"]["notes"]
    got, want = result["top_k"], from_snapshot["top_k"]
    assert [t["index"] for t in got] == [t["index"] for t in want]
    for a, b in zip(got, want, strict=True):
        assert abs(a["probability"] - b["probability"]) <= 1e-6, (got, want)
