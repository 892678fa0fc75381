"""Writing the synthetic TSDB: the sample tiers, the block layout, and the generator that writes them.

The generator (tsdbgen/main.go) is built against the Prometheus module of the
deployed release, like tools/binaries.py builds Prometheus itself: blocks
and WAL are in exactly the format the deployed server reads.

Sample tiers. At 100x a month at the 15 s scrape interval is 5e10 samples,
hours of writing on 2 cores. So:
- the last 26 hours are at the scrape interval: every rule window up to a day
  and every "last 24h" stat reads exactly what production holds;
- from 26 hours to 7 days back, one sample every 2 minutes; before that, one
  every 10 minutes: the 7- and 30-day views still get at least two samples in
  each $__rate_interval window, but read 8 and 40 times fewer raw samples than
  production would, so their raw-series panels are measured optimistic (the
  samples each query touches are printed alongside);
- recorded series (the rules' outputs) keep their group's interval for the
  last 7 days and one sample every 10 minutes before: the 7-day view of a
  panel that reads a recording rule touches what production holds.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from benchmark.model import DAY_MS, HOUR_MS, Series
from tools import binaries

GENERATOR_SOURCE = Path(__file__).resolve().parent / "tsdbgen" / "main.go"
MINUTE_MS = 60_000
# Block ranges of a Prometheus whose retention is 30 days: 2h, then x3 up to a tenth of retention.
MIN_BLOCK_MS = 2 * HOUR_MS


@dataclass(frozen=True)
class Tiers:
    """(from how long ago, sample spacing) pairs; the closest one that applies wins."""
    raw: tuple[tuple[int, int], ...]
    recorded: tuple[tuple[int, int], ...]

    @classmethod
    def default(cls, scrape_interval_ms: int) -> "Tiers":
        return cls(raw=((30 * DAY_MS + DAY_MS, 10 * MINUTE_MS), (7 * DAY_MS, 2 * MINUTE_MS),
                        (26 * HOUR_MS, scrape_interval_ms)),
                   recorded=((30 * DAY_MS + DAY_MS, 10 * MINUTE_MS), (7 * DAY_MS + HOUR_MS, 0)))

    def absolute(self, tiers: tuple[tuple[int, int], ...], now: int) -> list[dict]:
        return [{"from": now - ago, "interval": spacing or 1} for ago, spacing in tiers]


def block_ranges(retention_ms: int) -> list[int]:
    """The block lengths Prometheus compacts into for this retention (cmd/prometheus: max = retention/10)."""
    limit = min(retention_ms // 10, 31 * DAY_MS)
    ranges, length = [], MIN_BLOCK_MS
    while length <= limit or not ranges:
        ranges.append(length)
        length *= 3
    return ranges


def block_layout(start: int, head_from: int, retention_ms: int) -> list[tuple[int, int]]:
    """Blocks covering [start, head_from) as Prometheus's compactor leaves them, so it has nothing to merge.

    Every window of the largest range that ends before the newest data is one
    block; the window holding head_from is split into windows of the next
    smaller range, and so on down to 2 hours (the compactor's planner merges a
    window's blocks only once newer data lies beyond the window).
    """
    ranges = block_ranges(retention_ms)
    blocks: list[tuple[int, int]] = []

    def cover(lo: int, hi: int, level: int) -> None:
        length = ranges[level]
        window = lo - lo % length
        while window < hi:
            window_end = window + length
            piece_lo, piece_hi = max(lo, window), min(hi, window_end)
            if piece_hi >= hi and hi < window_end and level > 0:
                cover(piece_lo, piece_hi, level - 1)
            elif piece_lo < piece_hi:
                blocks.append((piece_lo, piece_hi))
            window = window_end

    cover(start, head_from, len(ranges) - 1)
    return blocks


def generator_binary(say=print) -> Path:
    """tsdbgen built against the deployed Prometheus release's module (cached by the source's content)."""
    release = binaries.deployed("prod")["prometheus"]
    source = GENERATOR_SOURCE.read_bytes()
    digest = hashlib.sha256(source + release.module_version.encode()).hexdigest()[:16]
    target = binaries.CACHE_DIR / "benchmark" / f"tsdbgen-{release.version}-{digest}"
    if target.exists():
        return target
    module = binaries.download(release)
    say(f"benchmark: building the TSDB generator against {release.product.module}@{release.module_version}")
    binaries.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-tsdbgen-", dir=binaries.CACHE_DIR) as work:
        tree = Path(work) / "src"
        shutil.copytree(module["Dir"], tree)
        for path in tree.rglob("*"):
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
        (tree / "cmd" / "tsdbgen").mkdir()
        shutil.copy(GENERATOR_SOURCE, tree / "cmd" / "tsdbgen" / "main.go")
        output = Path(work) / "tsdbgen"
        result = subprocess.run(["nice", "-n", "19", binaries._go(), "build", "-trimpath", "-o", str(output),
                                 "./cmd/tsdbgen"], cwd=tree, capture_output=True, text=True, env=binaries._go_env())
        if result.returncode != 0:
            raise RuntimeError(f"building the TSDB generator failed:\n{result.stderr[-4000:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        output.rename(target)
    return target


@dataclass
class Written:
    samples: int
    seconds: float
    log: str


RAW, RECORDED = 0, 1


def write_tsdb(out: Path, raw: Iterable[Series], recorded: Iterable[Series], *, start: int, now: int,
               head_from: int, tiers: Tiers, retention_ms: int, workers: int = 2,
               piece_samples: int = 30_000_000, say=print) -> Written:
    """Blocks for [start, head_from) and a WAL for [head_from, now], in one run (one block per window)."""
    binary = generator_binary(say)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tsdbgen-input-", dir=out.parent) as work:
        series_path = Path(work) / "series.jsonl"
        with series_path.open("w") as handle:
            for tier_set, group in ((RAW, raw), (RECORDED, recorded)):
                for one in group:
                    record = one.as_json()
                    if tier_set:
                        record["t"] = tier_set
                    handle.write(json.dumps(record, separators=(",", ":")))
                    handle.write("\n")
        plan = {"tier_sets": [tiers.absolute(tiers.raw, now), tiers.absolute(tiers.recorded, now)],
                "blocks": block_layout(start, head_from, retention_ms), "head_from": head_from, "now": now,
                "workers": workers, "retention": retention_ms + 7 * DAY_MS, "piece_samples": piece_samples}
        plan_path = Path(work) / "plan.json"
        plan_path.write_text(json.dumps(plan))
        started = time.time()
        log: list[str] = []
        samples = 0
        # Niced and idle-class I/O: the machine is shared, and nothing else should wait for this.
        # A soft memory limit: the Go runtime collects harder instead of doubling its heap (the machine is shared).
        env = {**os.environ, "GOMEMLIMIT": os.environ.get("BENCHMARK_GOMEMLIMIT", "6GiB")}
        process = subprocess.Popen(["nice", "-n", "19", "ionice", "-c3", str(binary), "-plan", str(plan_path),
                                    "-series", str(series_path), "-out", str(out)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line.rstrip())
            if line.startswith("head:"):
                samples += int(line.split()[1])
            elif line.startswith("block "):
                samples += int(line.split(": ")[1].split()[0])
        if process.wait() != 0:
            raise RuntimeError("the TSDB generator failed:\n" + "\n".join(log[-20:]))
        return Written(samples, time.time() - started, "\n".join(log))
