"""The benchmark's parts (python -m benchmark): the model, Grafana's query timing, the TSDB layout, and a
tiny synthetic TSDB loaded into the deployed Prometheus release. The benchmark itself is never run here."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from benchmark import grafana, model, run, server, tsdb
from benchmark.model import DAY_MS, HOUR_MS, Shape, Timeline
from components.render import render_stack
from components.settings import from_stack_file

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def prod_files() -> dict[str, str]:
    return render_stack(from_stack_file("prod")[0]).files


def test_scale_one_is_todays_application_and_every_count_grows_with_the_scale():
    today = Shape.at(1).totals()
    assert today == {"backends": 1, "workers": 4, "task names": 12, "queues": 7, "violation types": 5,
                     "HTTP handlers": 30}
    hundred = Shape.at(100).totals()
    assert hundred == {name: 100 * count for name, count in today.items()}
    assert all(count == 1 for count in Shape.at(0.01).totals().values())


def test_series_grow_linearly_and_a_deploy_brings_new_worker_hostnames():
    now = 1_800_000_000_000
    timeline = Timeline(start=now - 3 * DAY_MS, now=now, last_deploy=now - HOUR_MS)
    one = model.SeriesBuilder(Shape.at(1), timeline).build()
    ten = model.SeriesBuilder(Shape.at(10), timeline).build()
    live_one = sum(1 for s in one if s.start <= now < s.end)
    live_ten = sum(1 for s in ten if s.start <= now < s.end)
    monitors = sum(1 for s in one if s.labels["job"] in ("prometheus", "alertmanager", "grafana"))
    assert live_ten - monitors == pytest.approx(10 * (live_one - monitors), rel=0.02)
    hostnames = {s.labels["hostname"] for s in one if s.labels["__name__"] == "celery_worker_up"}
    # 4 workers, renamed by each of the 3 deploys in 3 days (the last one an hour ago).
    assert len(hostnames) == 4 * 4
    alive = {s.labels["hostname"] for s in one if s.labels["__name__"] == "celery_worker_up" and s.end > now}
    assert len(alive) == 4


def test_every_series_is_a_catalogued_metric_with_its_labels():
    catalog = model.load_catalog()
    builder = model.SeriesBuilder(Shape.at(1), Timeline(start=0, now=DAY_MS, last_deploy=DAY_MS // 2), catalog)
    with pytest.raises(ValueError, match="not a series of catalog"):
        builder.add("celery_workers", {}, "const", 0, 1)
    with pytest.raises(ValueError, match=r"labels \['worker'\]"):
        builder.add("celery_worker_up", {"worker": "w"}, "const", 0, 1)


def test_the_stacks_scrape_relabelling_decides_which_task_series_are_stored(prod_files):
    now = 1_800_000_000_000
    built = model.SeriesBuilder(Shape.at(1), Timeline(start=now - DAY_MS, now=now, last_deploy=now - HOUR_MS)).build()
    kept = model.apply_metric_relabelling(list(built), prod_files["prometheus/prometheus.yml"])
    names = {s.labels["__name__"] for s in kept}
    assert "celery_task_received_total" not in names and "celery_task_sent_created" not in names
    assert {"celery_task_succeeded_total", "celery_task_runtime_bucket", "http_requests_total"} <= names
    assert len(kept) < len(built)


@pytest.mark.parametrize("range_ms,step_ms,rate_ms", [
    (6 * HOUR_MS, 15_000, 60_000),          # 11.25 s rounds to 10 s, below the 15 s scrape interval
    (7 * DAY_MS, 300_000, 315_000),         # 315 s rounds to 5m
    (30 * DAY_MS, 1_200_000, 1_215_000),    # 1350 s rounds to 20m
])
def test_grafana_interval_for_a_1920_pixel_panel(range_ms, step_ms, rate_ms):
    timing = grafana.Timing.of(range_ms, 15_000)
    assert (timing.interval_ms, timing.rate_interval_ms) == (step_ms, rate_ms)


def test_dashboard_requests_are_promql_with_every_macro_and_variable_filled(prod_files, tmp_path):
    for name, text in prod_files.items():
        if not (name.startswith("grafana/dashboards/") and name.endswith(".json")):
            continue
        path = tmp_path / Path(name).name
        path.write_text(text)
        dashboard = grafana.Dashboard.load(path)
        timing = grafana.Timing.of(7 * DAY_MS, 15_000)
        values = {variable: ["default", "exports"] if variable == "queue" else ["api_availability", "api_latency"]
                  for variable, _, _ in dashboard.variable_queries()}
        requests = dashboard.requests(1_800_000_000, timing, 15_000, values)
        queries = [r for r in requests if r.path in ("/api/v1/query", "/api/v1/query_range")]
        assert queries, name
        for request in queries:
            # No macro or variable left ($name, ${name}); a regex's end anchor (All queues: ^$) is a value.
            assert not re.search(r"\$\{?\w", request.params["query"]), (name, request.panel, request.params["query"])
            if request.path == "/api/v1/query_range":
                assert request.params["step"] == 300 and request.params["start"] % 300 == 0
        if dashboard.uid == "scheduler-slos":
            # The SLO row repeats per SLO: each panel's queries run once for each.
            assert sum('slo="api_latency"' in r.params["query"] for r in queries) == \
                   sum('slo="api_availability"' in r.params["query"] for r in queries) > 0


def test_blocks_cover_the_history_once_in_the_compactors_own_windows():
    start, head_from = 1_700_000_123_456, 1_700_000_123_456 + 30 * DAY_MS
    ranges = tsdb.block_ranges(30 * DAY_MS)
    assert ranges == [2 * HOUR_MS, 6 * HOUR_MS, 18 * HOUR_MS, 54 * HOUR_MS]
    blocks = tsdb.block_layout(start, head_from, 30 * DAY_MS)
    assert blocks[0][0] == start and blocks[-1][1] == head_from
    for (lo, hi), (next_lo, _) in zip(blocks, blocks[1:]):
        assert hi == next_lo, "blocks neither overlap nor leave gaps"
    for lo, hi in blocks:
        # Each block lies within one window of its own length's range, as the compactor would leave it.
        length = min(r for r in ranges if hi - lo <= r)
        assert lo // length == (hi - 1) // length


def test_a_tiny_month_loads_into_the_deployed_prometheus(prod_files, tmp_path):
    """Scale 0.01 over one day: the generator writes blocks and a head that the deployed release reads."""
    stack = run._stack_from_files("working tree", prod_files)
    wall = int(time.time() * 1000)
    now = wall + 10 * 60_000
    timeline = Timeline(start=now - DAY_MS, now=now, last_deploy=wall - HOUR_MS)
    raw = run.raw_series(stack, 0.01, timeline)
    written = tsdb.write_tsdb(tmp_path / "data", raw, [], start=timeline.start, now=now, head_from=now - 2 * HOUR_MS,
                              tiers=tsdb.Tiers.default(stack.scrape_interval_ms), retention_ms=stack.retention_ms,
                              say=lambda line: None)
    assert written.samples > 0
    assert list((tmp_path / "data").glob("*/meta.json")), "no block was written"
    running = server.start(tmp_path, tmp_path / "data", stack.prometheus_yml, {}, stack.flags)
    try:
        up = running.api("/api/v1/query", {"query": 'count(up{job="scheduler-backend"})'})["result"]
        assert up and up[0]["value"][1] == "1"
        # A day ago the blocks answer; the head holds the last two hours.
        day_ago = (wall - 20 * HOUR_MS) / 1000
        old = running.api("/api/v1/query", {"query": "count(resilience_coverage_rate)", "time": day_ago})["result"]
        assert old and old[0]["value"][1] == "1"
        assert running.metric("prometheus_tsdb_head_series") > 100
    finally:
        running.stop()
