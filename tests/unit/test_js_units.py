"""Runs the JavaScript unit tests (node's built-in runner) as part of pytest."""

import shutil
import subprocess

from helpers import ROOT


def test_node_unit_tests():
    node = shutil.which("node")
    assert node, "node is required (it also runs npm)"
    files = sorted(str(p) for p in (ROOT / "tests").rglob("*.test.mjs"))
    assert files, "no JavaScript unit tests found"
    proc = subprocess.run(
        [node, "--test", *files], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# fail 0" in proc.stdout
