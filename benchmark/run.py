"""One scale of the benchmark: synthesise the month, load it into the deployed Prometheus, measure.

Phases (each prints one progress line):
1. model: the raw series at this scale, after the exporter job's metric_relabel_configs;
2. probe: a 20-minute TSDB under the stack's rules, to learn which series the
   recording rules write (their history is synthesised with the raw one, as
   if the rules had run all month);
3. tsdb: the month written as the deployed release would hold it;
4. rules: each group's evaluation time against its interval
   (prometheus_rule_group_last_duration_seconds, the worst after the first
   evaluation) and the samples its queries touch;
5. dashboards: every dashboard's load over 6h, 7d and 30d, as Grafana sends it;
6. storage: head series, resident memory (now and peak), disk per day.
"""
from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import yaml

from benchmark import grafana, model, server, tsdb
from benchmark.model import DAY_MS, HOUR_MS, Series, Shape, Timeline
from components.settings import duration_seconds

PROJECT_DIR = Path(__file__).resolve().parent.parent
RANGES = (("6h", 6 * HOUR_MS), ("7d", 7 * DAY_MS), ("30d", 30 * DAY_MS))
MONTH_MS = 30 * DAY_MS
# How far past the start of the run the synthetic month reaches: every
# measurement is taken before then, so the newest samples are never stale.
FUTURE_MS = 60 * 60_000
# The head holds this much (Prometheus compacts it once it spans 3 hours).
HEAD_MS = 150 * 60_000


@dataclass
class Stack:
    """What a revision of the project deploys, as the benchmark needs it."""
    label: str
    prometheus_yml: str
    rule_files: dict[str, str]
    flags: list[str]
    dashboards: list[grafana.Dashboard]

    @property
    def scrape_interval_ms(self) -> int:
        return int(duration_seconds(yaml.safe_load(self.prometheus_yml)["global"]["scrape_interval"]) * 1000)

    @property
    def retention_ms(self) -> int:
        for flag in self.flags:
            if flag.startswith("--storage.tsdb.retention.time="):
                return int(duration_seconds(flag.split("=", 1)[1]) * 1000)
        return 15 * DAY_MS

    def groups(self) -> list[dict]:
        found = []
        for text in self.rule_files.values():
            found.extend(yaml.safe_load(text)["groups"])
        return found

    def group_interval_ms(self, group: dict) -> int:
        default = yaml.safe_load(self.prometheus_yml)["global"].get("evaluation_interval", "1m")
        return int(duration_seconds(group.get("interval", default)) * 1000)


def current_stack() -> Stack:
    """The working tree's prod stack, rendered in this process."""
    from components.render import render_stack
    from components.settings import from_stack_file
    rendered = render_stack(from_stack_file("prod")[0])
    return _stack_from_files("working tree", rendered.files)


def stack_at(revision: str, work: Path) -> Stack:
    """The prod stack as `revision` of this repository renders it (git archive, then its own renderer)."""
    tree = work / "tree"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", revision], cwd=PROJECT_DIR, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    out = work / "rendered"
    result = subprocess.run([sys.executable, "-m", "components.render", "prod", str(out)], cwd=tree,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"rendering {revision} failed:\n{result.stderr[-3000:]}")
    files = {str(path.relative_to(out)): path.read_text() for path in out.rglob("*") if path.is_file()}
    return _stack_from_files(revision, files)


def _stack_from_files(label: str, files: dict[str, str]) -> Stack:
    rules = {Path(name).name: text for name, text in files.items() if name.startswith("prometheus/rules/")}
    flags = [line for line in files["prometheus/flags.txt"].splitlines() if line.startswith("--")]
    dashboards = []
    with tempfile.TemporaryDirectory() as work:
        for name, text in sorted(files.items()):
            if name.startswith("grafana/dashboards/") and name.endswith(".json"):
                path = Path(work) / Path(name).name
                path.write_text(text)
                dashboards.append(grafana.Dashboard.load(path))
    return Stack(label, files["prometheus/prometheus.yml"], rules, flags, dashboards)


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
@dataclass
class GroupResult:
    name: str
    interval_s: float
    durations: list[float] = field(default_factory=list)
    samples_touched: int = 0
    samples_written: float = 0
    rules: list = field(default_factory=list)     # (rule, seconds) of the last evaluation, slowest first

    @property
    def worst(self) -> float:
        # The first evaluation after a start runs on cold caches; the later ones are the steady state.
        steady = self.durations[1:] or self.durations
        return max(steady) if steady else math.nan

    @property
    def ratio(self) -> float:
        return self.worst / self.interval_s


@dataclass
class DashboardResult:
    title: str
    range_name: str
    seconds: float
    requests: int
    samples: int
    slowest: tuple[float, str] = (0.0, "")
    failed: int = 0            # queries that failed (Prometheus's query timeout)
    queries: list = field(default_factory=list)   # (panel, seconds, samples) of each request


@dataclass
class ScaleResult:
    scale: float
    shape: Shape
    series_month: int
    series_live: int
    task_series_head: int
    samples_written: int
    write_seconds: float
    head_series: int = 0
    rss_bytes: int = 0
    peak_bytes: int = 0
    disk_bytes: int = 0
    disk_per_day_bytes: float = 0
    groups: list[GroupResult] = field(default_factory=list)
    dashboards: list[DashboardResult] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------
def raw_series(stack: Stack, scale: float, timeline: Timeline) -> list[Series]:
    built = model.SeriesBuilder(Shape.at(scale), timeline).build()
    return model.apply_metric_relabelling(built, stack.prometheus_yml)


def probe_recorded(stack: Stack, raw: list[Series], timeline: Timeline, wall: int, work: Path,
                   say: Callable[[str], None]) -> list[Series]:
    """The series the recording rules write, learnt from a short TSDB, as month-long series of their own."""
    probe_dir = work / "probe"
    recent = [one for one in raw if one.end > wall - 20 * 60_000 and one.start <= wall]
    # The probe's own month is the 20 minutes before now (and 10 after), all in the head.
    tsdb.write_tsdb(probe_dir / "data", recent, [], start=wall - 20 * 60_000, now=wall + 10 * 60_000,
                    head_from=wall - 20 * 60_000, tiers=tsdb.Tiers.default(stack.scrape_interval_ms),
                    retention_ms=stack.retention_ms, say=say)
    running = server.start(probe_dir, probe_dir / "data", stack.prometheus_yml, stack.rule_files, stack.flags)
    try:
        deadline = time.time() + 600
        while True:
            groups = running.api("/api/v1/rules")["groups"]
            if all(group["lastEvaluation"] > "2000" for group in groups):
                break
            if time.time() > deadline:
                raise RuntimeError("the probe's rule groups did not all evaluate within 10 minutes")
            time.sleep(2)
        recorded: list[Series] = []
        for group_def in stack.groups():
            interval = stack.group_interval_ms(group_def)
            records = {rule["record"] for rule in group_def["rules"] if "record" in rule}
            for record in sorted(records):
                for item in running.api("/api/v1/query", {"query": record})["result"]:
                    value = float(item["value"][1])
                    recorded.append(Series(item["metric"], "const", timeline.start, timeline.now + 1,
                                           a=value, interval=interval))
        return recorded
    finally:
        running.stop()
        shutil.rmtree(probe_dir, ignore_errors=True)


def measure_rules(running: server.Server, stack: Stack, evaluations: int,
                  say: Callable[[str], None]) -> list[GroupResult]:
    results: dict[str, GroupResult] = {}
    seen: dict[str, float] = {}
    definitions = {group["name"]: group for group in stack.groups()}
    for name, group in definitions.items():
        results[name] = GroupResult(name, stack.group_interval_ms(group) / 1000)
    # Groups that run every minute or more often are timed over `evaluations` runs; a slower group
    # (the 5-minute task counts) once, or the benchmark would wait a quarter of an hour for it.
    needed = {name: evaluations if result.interval_s <= 60 else 1 for name, result in results.items()}
    deadline = time.time() + max(result.interval_s * (needed[name] + 1) for name, result in results.items()) + 120
    while time.time() < deadline:
        metrics = running.metrics()
        last = {labels["rule_group"]: value for labels, value in
                metrics.get("prometheus_rule_group_last_evaluation_timestamp_seconds", [])}
        duration = {labels["rule_group"]: value for labels, value in
                    metrics.get("prometheus_rule_group_last_duration_seconds", [])}
        written = {labels["rule_group"]: value for labels, value in
                   metrics.get("prometheus_rule_group_last_evaluation_samples", [])}
        for key, timestamp in last.items():
            name = key.split(";", 1)[1] if ";" in key else key
            if name in results and timestamp > 0 and seen.get(name) != timestamp:
                seen[name] = timestamp
                results[name].durations.append(duration[key])
                results[name].samples_written = written.get(key, 0)
        if all(len(result.durations) >= needed[name] for name, result in results.items()):
            break
        time.sleep(1)
    # Each rule's share of its group's last evaluation, from the rules API.
    for group in running.api("/api/v1/rules")["groups"]:
        if group["name"] in results:
            timed = [(rule["name"], float(rule.get("evaluationTime", 0))) for rule in group["rules"]]
            results[group["name"]].rules = sorted(timed, key=lambda item: -item[1])
    # Samples each group's queries touch, from the query engine's own statistics.
    for name, group in definitions.items():
        for rule in group["rules"]:
            stats = running.api("/api/v1/query", {"query": rule["expr"], "stats": "all"})
            results[name].samples_touched += int(stats.get("stats", {}).get("samples", {})
                                                 .get("totalQueryableSamples", 0))
    return list(results.values())


def selected(dashboards: list[grafana.Dashboard], titles: Optional[list[str]]) -> list[grafana.Dashboard]:
    """The dashboards whose title contains one of `titles` (any case); all of them without a list."""
    if not titles:
        return dashboards
    chosen = [d for d in dashboards if any(t.lower() in d.title.lower() for t in titles)]
    if not chosen:
        raise ValueError(f"no dashboard title contains any of {titles}; the titles: "
                         f"{', '.join(d.title for d in dashboards)}")
    return chosen


def measure_dashboards(running: server.Server, stack: Stack, repeat: int, say: Callable[[str], None],
                       titles: Optional[list[str]] = None) -> list[DashboardResult]:
    results = []
    for dashboard in selected(stack.dashboards, titles):
        for range_name, range_ms in RANGES:
            end_s = int(time.time())
            timing = grafana.Timing.of(range_ms, stack.scrape_interval_ms)
            values: dict[str, list[str]] = {}
            for variable, metric, label in dashboard.variable_queries():
                values[variable] = running.api(f"/api/v1/label/{label}/values",
                                               {"match[]": metric, "start": end_s - range_ms // 1000,
                                                "end": end_s})
            total, samples, slowest = 0.0, 0, (0.0, "")
            requests = dashboard.requests(end_s, timing, stack.scrape_interval_ms, values)
            failed = 0
            details: list = []
            for request in requests:
                times = []
                touched = 0
                # A query slower than a few seconds is timed once: its variance is small next to its length.
                while len(times) < repeat and sum(times) < 3.0:
                    params = dict(request.params)
                    if request.path in ("/api/v1/query_range", "/api/v1/query"):
                        params["stats"] = "all"
                    started = time.perf_counter()
                    try:
                        data = running.api(request.path, params)
                    except (OSError, RuntimeError) as error:
                        # Prometheus gives up after --query.timeout (2m); Grafana shows an error panel.
                        times.append(time.perf_counter() - started)
                        failed += 1
                        say(f"  {dashboard.title} {range_name} {request.panel}: failed after {times[-1]:.0f} s: "
                            f"{str(error)[:120]}")
                        break
                    times.append(time.perf_counter() - started)
                    if isinstance(data, dict):
                        touched = int(data.get("stats", {}).get("samples", {}).get("totalQueryableSamples", 0))
                seconds = statistics.median(times)
                details.append((request.panel, round(seconds, 4), touched))
                total += seconds
                samples += touched
                if seconds > slowest[0]:
                    slowest = (seconds, request.panel)
            results.append(DashboardResult(dashboard.title, range_name, total, len(requests), samples, slowest,
                                           failed, details))
    return results


def storage(running: server.Server, data: Path, head_from: int, now: int) -> dict:
    """Head series, memory and disk (the month's bytes, and a day's at full resolution)."""
    metrics = running.metrics()
    head = int(sum(value for _, value in metrics.get("prometheus_tsdb_head_series", [])))
    memory = running.memory()
    total = sum(path.stat().st_size for path in data.rglob("*") if path.is_file())
    full_resolution_from = now - 26 * HOUR_MS + tsdb.MINUTE_MS
    full_bytes, full_ms = 0, 0
    for meta_path in data.glob("*/meta.json"):
        meta = json.loads(meta_path.read_text())
        if meta["minTime"] >= full_resolution_from and meta["maxTime"] <= head_from + 1:
            full_ms += meta["maxTime"] - meta["minTime"]
            full_bytes += sum(path.stat().st_size for path in meta_path.parent.rglob("*") if path.is_file())
    per_day = full_bytes / full_ms * DAY_MS if full_ms else math.nan
    return {"head": head, "rss": memory["rss"], "peak": memory["peak"], "disk": total, "per_day": per_day}


PHASES = ("rules", "dashboards")


def run_scale(stack: Stack, scale: float, work: Path, *, evaluations: int = 3, repeat: int = 3,
              keep: bool = False, say: Callable[[str], None] = print, phases: tuple[str, ...] = PHASES,
              titles: Optional[list[str]] = None) -> ScaleResult:
    wall = int(time.time() * 1000)
    now = wall + FUTURE_MS
    timeline = Timeline(start=now - MONTH_MS, now=now, last_deploy=wall - HOUR_MS)
    head_from = now - HEAD_MS
    step = f"[{stack.label} {scale:g}x]"

    started = time.time()
    raw = raw_series(stack, scale, timeline)
    shape = Shape.at(scale)
    live = sum(1 for one in raw if one.start <= wall < one.end)
    task_head = sum(1 for one in model.task_series(raw) if one.end > head_from and one.start <= wall)
    say(f"{step} model: {len(raw)} series over the month, {live} live now; {shape.totals()} "
        f"({time.time() - started:.0f} s)")

    started = time.time()
    recorded = probe_recorded(stack, raw, timeline, wall, work, say)
    say(f"{step} probe: the recording rules write {len(recorded)} series ({time.time() - started:.0f} s)")

    started = time.time()
    data = work / "data"
    written = tsdb.write_tsdb(data, raw, recorded, start=timeline.start, now=now, head_from=head_from,
                              tiers=tsdb.Tiers.default(stack.scrape_interval_ms), retention_ms=stack.retention_ms,
                              say=say)
    say(f"{step} tsdb: {written.samples / 1e6:.0f} M samples written in {written.seconds:.0f} s")
    del raw

    result = ScaleResult(scale, shape, 0, live, task_head, written.samples, written.seconds)
    started = time.time()
    running = server.start(work, data, stack.prometheus_yml, stack.rule_files, stack.flags)
    try:
        say(f"{step} server: Prometheus ready on the month in {time.time() - started:.0f} s")
        if "rules" in phases:
            started = time.time()
            result.groups = measure_rules(running, stack, evaluations, say)
            worst = max(result.groups, key=lambda g: g.ratio)
            say(f"{step} rules: {len(result.groups)} groups, worst {worst.name} {worst.worst * 1000:.1f} ms of "
                f"{worst.interval_s:g} s ({time.time() - started:.0f} s)")
        if "dashboards" in phases:
            started = time.time()
            result.dashboards = measure_dashboards(running, stack, repeat, say, titles)
            slowest = max((d for d in result.dashboards if d.range_name == "7d"), key=lambda d: d.seconds)
            say(f"{step} dashboards: slowest 7-day load {slowest.title} {slowest.seconds:.2f} s "
                f"({time.time() - started:.0f} s)")
        if time.time() * 1000 > now:
            say(f"{step} warning: the run outlasted the synthetic month's end; the last measurements saw stale data")
        sizes = storage(running, data, head_from, now)
        result.head_series, result.rss_bytes, result.peak_bytes = sizes["head"], sizes["rss"], sizes["peak"]
        result.disk_bytes, result.disk_per_day_bytes = sizes["disk"], sizes["per_day"]
        say(f"{step} storage: {result.head_series} head series, {result.rss_bytes / 2**20:.0f} MiB resident "
            f"(peak {result.peak_bytes / 2**20:.0f} MiB), {result.disk_per_day_bytes / 2**20:.0f} MiB/day")
    finally:
        running.stop()
        if keep:
            say(f"{step} kept the TSDB in {data}")
        else:
            shutil.rmtree(data, ignore_errors=True)
    return result
