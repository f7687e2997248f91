"""First visits over an emulated network: the product against the plain-JS pipeline.

Loopback downloads cost nothing, so the cold-start section cannot show what the bytes of a
first visit cost a real visitor. Here every first visit (a new on-disk profile, as in the
cold-start section) runs with Chromium's network emulation at 50 Mbit/s down and 20 ms
round trip (``benchlib.wire.NETWORK_50MBIT``); the pipelines alternate load by load. The
section reports time to ready and the bytes transferred, per pipeline, and the per-file
bytes of the product's first visit beside each file's raw, brotli and gzip sizes.
"""

from __future__ import annotations

from benchlib.browser import Harness
from benchlib.loads import BASELINE, persistent_profile, retry_once
from benchlib.stats import ratio, summarize
from benchlib.wire import NETWORK_50MBIT, WireLog, emulate_network, stored_sizes, unhashed

PIPELINES = ("product", BASELINE)


def first_visit(browser, base_url: str, pipeline: str) -> dict:
    """One first visit of ``pipeline`` over the emulated network: ready and bytes."""
    with persistent_profile(browser) as (context, _):
        wire = WireLog(context)
        page = context.new_page()
        emulate_network(context, page)
        harness = Harness(page, f"{base_url}bench/harness.html?pipeline={pipeline}")
        page.goto(harness.url)
        info = harness.ready()
        return {"page_ready_ms": info["page_ready_ms"], "wire": wire.summary()}


def measure_network(browser, base_url: str, loads: int, log=print) -> dict:
    """``loads`` throttled first visits per pipeline, interleaved; medians and bytes."""
    samples: dict[str, list[dict]] = {p: [] for p in PIPELINES}
    errors: list[str] = []
    for i in range(loads):
        for pipeline in PIPELINES:
            load = retry_once(lambda p=pipeline: first_visit(browser, base_url, p), errors, log)
            samples[pipeline].append(load)
            log(
                f"  network {i + 1}/{loads} {pipeline}: ready in {load['page_ready_ms']:.0f} ms, "
                f"{load['wire']['bytes'] / 1e6:.2f} MB"
            )
    out = {
        "conditions": NETWORK_50MBIT,
        "loads": loads,
        "errors": errors,
        "pipelines": {
            pipeline: {
                "page_ready_ms": summarize(s["page_ready_ms"] for s in runs),
                "wire_bytes": summarize(s["wire"]["bytes"] for s in runs),
                "requests": summarize(s["wire"]["requests"] for s in runs),
                "samples": runs,
            }
            for pipeline, runs in samples.items()
        },
    }
    out["files"] = file_sizes(samples["product"][0]["wire"]["files"]) if loads else []
    return out


def file_sizes(files: dict[str, dict]) -> list[dict]:
    """Per file of one load: bytes transferred, encoding, and its stored raw/br/gzip sizes."""
    stored = stored_sizes()
    rows = []
    for path, entry in files.items():
        sizes = stored.get(unhashed(path), {})
        rows.append({"path": path, **entry, **{k: sizes.get(k) for k in ("raw", "br", "gzip")}})
    return sorted(rows, key=lambda r: -r["bytes"])


def network_targets(section: dict) -> list[dict]:
    """Issue #15's network target: our first visit / plain JS's, at 50 Mbit/s."""
    rows = section["pipelines"]
    value = ratio(
        rows["product"]["page_ready_ms"]["median"], rows[BASELINE]["page_ready_ms"]["median"]
    )
    return [
        {
            "name": "first visit over 50 Mbit/s, 20 ms RTT: ours / plain JS",
            "value": value,
            "limit": 1.3,
            "op": "<=",
            "met": value is not None and value <= 1.3,
            "note": "median time to ready; bytes per pipeline in the network section",
        }
    ]


def network_md(section: dict) -> str:
    """The section's Markdown: ready and bytes per pipeline, then the product's files."""
    mb = lambda b: "–" if b is None else f"{b / 1e6:.2f}"  # noqa: E731
    ms = lambda v: "–" if v is None else f"{v:.0f}"  # noqa: E731
    c = section["conditions"]
    lines = [
        f"## First visit over an emulated network ({c['downloadThroughput'] * 8 / 1e6:.0f} Mbit/s "
        f"down, {c['latency']} ms RTT; {section['loads']} loads each, interleaved)",
        "",
        "| pipeline | ready p50 (ms) | ready p95 | MB transferred (p50) | requests |",
        "|---|---|---|---|---|",
    ]
    for name, row in section["pipelines"].items():
        lines.append(
            f"| {name} | {ms(row['page_ready_ms']['median'])} | {ms(row['page_ready_ms']['p95'])} "
            f"| {mb(row['wire_bytes']['median'])} | {ms(row['requests']['median'])} |"
        )
    lines += [
        "",
        "Files of the product's first visit over 100 kB (MB; raw, brotli and gzip are the "
        "stored copies in web/vendor/encoded.json):",
        "",
        "| file | transferred | encoding | raw | brotli | gzip |",
        "|---|---|---|---|---|---|",
    ]
    for f in section["files"]:
        if f["bytes"] >= 100_000:
            lines.append(
                f"| {unhashed(f['path'])} | {mb(f['bytes'])} | {f['encoding'] or 'identity'} "
                f"| {mb(f['raw'])} | {mb(f['br'])} | {mb(f['gzip'])} |"
            )
    return "\n".join(lines) + "\n"
