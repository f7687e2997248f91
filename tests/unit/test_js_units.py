"""Runs the JavaScript unit tests (node's built-in runner) as part of pytest."""

import os
import shutil
import subprocess

from helpers import ROOT


def concurrency_flags(node: str) -> list[str]:
    """Run the test files side by side where node can (``--test-concurrency``: 20.10+)."""
    version = subprocess.check_output([node, "--version"], text=True).strip().lstrip("v")
    major, minor = (int(n) for n in version.split(".")[:2])
    if (major, minor) < (20, 10):
        return []
    return [f"--test-concurrency={max(2, os.cpu_count() or 1)}"]


def test_node_unit_tests():
    node = shutil.which("node")
    assert node, "node is required (it also runs npm)"
    files = sorted(str(p) for p in (ROOT / "tests").rglob("*.test.mjs"))
    assert files, "no JavaScript unit tests found"
    proc = subprocess.run(
        [node, "--test", *concurrency_flags(node), *files],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# fail 0" in proc.stdout
