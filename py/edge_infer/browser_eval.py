"""The browser host for ``eval``.

The app, served by the dev server of this source checkout, in headless Chromium, classifies
through the page's public API (``createClassifier``) in exact mode, as a user's page would.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from edge_infer.evaluate import EvalError, HostRun, Sample

#: The source checkout this package runs from (an editable install): web/, tools/, models/.
ROOT = Path(__file__).resolve().parents[2]

CLASSIFY_JS = """async ({ b64, name, model, topK }) => {
    const { createClassifier } = await import('/edge-infer.js');
    window.evalClassifier ??= createClassifier({ model, topK });
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const file = new File([bytes], name);
    try {
        return await window.evalClassifier.classify(file, { preprocess: 'exact' });
    } catch (err) {
        return { error: `${err.message} [${err.code ?? 'E_INTERNAL'}]` };
    }
}"""


def run_browser(
    samples: list[Sample],
    model_id: str,
    models_dir: Path,
    top_k: int,
    progress: Callable[[int], None],
) -> HostRun:
    """Classify every sample in headless Chromium, serving ``models_dir`` as ``models/``.

    Raises:
        EvalError: no source checkout with a set-up ``web/``, no Chromium, or a page that
            does not load.

    """
    if not (ROOT / "web" / "vendor" / "vendor.json").is_file():
        raise EvalError(
            f"--host browser needs this package's source checkout with its runtime set up "
            f"({ROOT / 'web' / 'vendor'} is missing: run `npm run setup` there)"
        )
    sys.path.insert(0, str(ROOT / "tools"))
    import chromium  # tools/chromium.py: Debian's Chromium and its launch flags

    if not chromium.available():
        raise EvalError(chromium.MISSING)
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    server, url = _start_server(models_dir)
    run = HostRun("browser")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(**chromium.launch_kwargs())
            page = browser.new_page()
            page.goto(url + "models/manifest.json")  # the app's origin; boots nothing itself
            for i, sample in enumerate(samples, start=1):
                try:
                    data = sample.path.read_bytes()
                except OSError as exc:
                    run.failures[sample.path] = f"{sample.path}: {exc.strerror or exc}"
                else:
                    args = {"b64": base64.b64encode(data).decode(), "name": sample.path.name,
                            "model": model_id, "topK": top_k}  # fmt: skip
                    try:
                        answer = page.evaluate(CLASSIFY_JS, args)
                    except PlaywrightError as exc:
                        raise EvalError(f"the browser page failed: {exc.message}") from exc
                    if "error" in answer:
                        run.failures[sample.path] = f"{sample.path}: {answer['error']}"
                    else:
                        run.results[sample.path] = answer
                progress(i)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return run


def _start_server(models_dir: Path) -> tuple[subprocess.Popen, str]:
    """tools/serve.py on a free loopback port, serving ``models_dir`` as ``models/``."""
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "serve.py"), "--port", "0",
         "--mount", f"models={Path(models_dir).resolve()}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines = []
    for line in server.stdout:
        lines.append(line)
        match = re.search(r"edge-infer serving (http://\S+)", line)
        if match:
            # Keep draining so the server never blocks on a full pipe.
            threading.Thread(target=lambda: server.stdout.read(), daemon=True).start()
            return server, match.group(1)
    raise EvalError("the dev server did not start:\n" + "".join(lines))
