"""Dashboards against the spec, the shared contract and Grafana's conventions.

The expectations are written here as data (from the spec's Dashboard Details and
the contract's fixed uids and panel ids), never read back from the dashboards,
so a lost panel, a renamed title or a changed threshold fails.
"""
from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import promql_parser
import pytest

from components.renderers.dashboards import dashboard_folders
from components.renderers.slos import BURN_RATE_PANEL
from tests.support.promql import substitute_grafana_macros

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"
# The nested "SLOs" folder's dashboards (components/renderers/dashboards.py: DASHBOARD_FOLDERS).
SLO_DASHBOARDS = ROOT / "slo_dashboards"
DIRECTORY = {"scheduler_slos.json": SLO_DASHBOARDS}

DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
DATASOURCE_UID = "scheduler-prometheus"

# The contract's panel ids and the spec's titles, with the visualisation that fits.
SPEC = {
    "scheduler_overview.json": {
        "uid": "scheduler-overview", "title": "Scheduler Overview", "refresh": "30s", "from": "now-6h",
        "variables": {"datasource"},
        "panels": {
            1: ("System Utilization", "gauge"), 2: ("Defense Level", "stat"), 3: ("Schedule Coverage", "stat"),
            4: ("ACGME Compliance", "stat"), 5: ("Faculty Available", "stat"), 6: ("Active Fallbacks", "stat"),
            7: ("Utilization Over Time", "timeseries"), 8: ("Schedule Operations", "timeseries"),
            9: ("ACGME Violations", "timeseries"), 10: ("Task Queue Depth", "timeseries"),
            11: ("Auth Success Rate", "stat"), 12: ("Idempotency Hit Rate", "stat"),
            13: ("Schedule Gen Time", "stat"),
        },
    },
    "resilience_metrics.json": {
        "uid": "resilience-metrics", "title": "Resilience Metrics", "refresh": "1m", "from": "now-12h",
        "variables": {"datasource"},
        "panels": {
            1: ("Utilization Gauge", "gauge"), 2: ("Defense Level Status", "stat"),
            3: ("Defense Level History", "timeseries"), 4: ("N-1 Contingency", "stat"),
            5: ("N-2 Contingency", "stat"), 6: ("Capacity Buffer", "stat"), 7: ("Load Shedding Level", "stat"),
            8: ("Faculty Availability", "timeseries"), 9: ("Coverage vs Utilization", "timeseries"),
            10: ("Crisis Activations", "timeseries"), 11: ("Fallback Activations", "timeseries"),
            12: ("Health Check Duration", "timeseries"), 13: ("Contingency Analysis Duration", "timeseries"),
            14: ("Active Fallbacks", "stat"), 15: ("Suspended Activities", "stat"),
            16: ("Health Check Failures", "stat"),
        },
    },
    "celery_tasks.json": {
        "uid": "celery-tasks", "title": "Celery Tasks", "refresh": "30s", "from": "now-6h",
        "variables": {"datasource", "queue"},
        "panels": {
            1: ("Active Workers", "stat"), 2: ("Total Queue Depth", "stat"), 3: ("Task Success Rate", "stat"),
            4: ("Tasks Running", "stat"), 5: ("Success/Failure Rates", "timeseries"),
            6: ("Queue Depths by Queue", "timeseries"), 7: ("Task Duration", "timeseries"),
            8: ("Active Tasks by Worker", "timeseries"), 9: ("Task Statistics Table", "table"),
            10: ("Resilience Health Check", "stat"), 11: ("N-1/N-2 Analysis Task", "stat"),
            12: ("Total Processed (24h)", "stat"), 13: ("Total Failures (24h)", "stat"),
            14: ("Avg Task Duration (1h)", "stat"),
        },
    },
    # One row per SLO (repeated by $slo), every panel on the slo:* recording rules.
    "scheduler_slos.json": {
        "uid": "scheduler-slos", "title": "Scheduler SLOs", "refresh": "1m", "from": "now-7d",
        "variables": {"datasource", "slo"},
        "panels": {
            1: ("SLI now", "stat"), 2: ("SLI over the window", "stat"), 3: ("Objective and window", "stat"),
            4: ("Error budget left", "stat"), 5: ("Budget left at window end (last day's pace)", "stat"),
            6: ("Budget lasts (last hour's burn)", "stat"), 7: ("Burn rate (1h, 6h)", "timeseries"),
            8: ("Error budget left over time", "timeseries"), 9: ("SLI and objective", "timeseries"),
            10: ("Handlers spending the budget", "table"), 11: ("Bad requests by handler", "timeseries"),
        },
    },
}

# The spec's thresholds, as Grafana steps: (colour, value from which it applies).
UTILIZATION = [("green", None), ("yellow", 0.7), ("orange", 0.8), ("red", 0.9)]
DEFENSE = [("green", None), ("yellow", 2), ("orange", 3), ("red", 4), ("dark-red", 5)]
COVERAGE = [("red", None), ("yellow", 0.85), ("green", 0.95)]
WORKERS = [("red", None), ("green", 1)]
QUEUE_DEPTH = [("green", None), ("yellow", 50), ("orange", 100), ("red", 500)]
SUCCESS_RATE = [("red", None), ("yellow", 0.9), ("green", 0.95)]
TASK_DURATION = [("green", None), ("yellow", 10), ("red", 60)]

# (file, panel id, field override name or None for the panel's defaults) -> steps.
THRESHOLDS = {
    ("scheduler_overview.json", 1, None): UTILIZATION,
    ("scheduler_overview.json", 7, None): UTILIZATION,
    ("resilience_metrics.json", 1, None): UTILIZATION,
    ("scheduler_overview.json", 2, None): DEFENSE,
    ("resilience_metrics.json", 2, None): DEFENSE,
    ("resilience_metrics.json", 3, None): DEFENSE,
    ("scheduler_overview.json", 3, None): COVERAGE,
    ("celery_tasks.json", 1, None): WORKERS,
    ("celery_tasks.json", 2, None): QUEUE_DEPTH,
    ("celery_tasks.json", 6, None): QUEUE_DEPTH,
    ("scheduler_overview.json", 10, None): QUEUE_DEPTH,
    ("celery_tasks.json", 3, None): SUCCESS_RATE,
    ("celery_tasks.json", 9, "Success rate"): SUCCESS_RATE,
    ("scheduler_overview.json", 11, None): SUCCESS_RATE,
    ("celery_tasks.json", 7, None): TASK_DURATION,
    ("celery_tasks.json", 14, None): TASK_DURATION,
    ("celery_tasks.json", 9, "p95 duration"): TASK_DURATION,
    ("celery_tasks.json", 10, "Mean run time (1h)"): TASK_DURATION,
    ("celery_tasks.json", 11, "Mean run time (25h)"): TASK_DURATION,
}

# Panels that show utilization must show the 80 % line: a gauge's threshold
# markers or a time series' threshold lines, with a step at 0.8.
EIGHTY_PERCENT_LINE = [("scheduler_overview.json", 1), ("scheduler_overview.json", 7),
                       ("resilience_metrics.json", 1), ("resilience_metrics.json", 9)]

DEFENSE_NAMES = {1: "Prevention", 2: "Detection", 3: "Response", 4: "Recovery", 5: "Emergency"}
DEFENSE_COLOURS = {1: "green", 2: "yellow", 3: "orange", 4: "red", 5: "dark-red"}
# The spec's longer descriptions, shown where the panel has room for them.
DEFENSE_DESCRIPTIONS = {1: "Proactive Monitoring", 2: "Early Warning Active", 3: "Load Shedding",
                        4: "Fallback Active", 5: "Crisis Mode"}
DEFENSE_PANELS = {("scheduler_overview.json", 2): False, ("resilience_metrics.json", 2): True,
                  ("resilience_metrics.json", 3): False}
LOAD_SHEDDING_NAMES = {0: "NORMAL", 1: "YELLOW", 2: "ORANGE", 3: "RED", 4: "BLACK", 5: "CRITICAL"}

# One colour scheme: every colour a dashboard uses is one of these named meanings.
PALETTE = {"green": "healthy", "yellow": "warning", "orange": "degraded", "red": "critical",
           "dark-red": "emergency", "blue": "informational"}

# Celery panels whose series belong to queues, and so follow the $queue filter.
PER_QUEUE_METRICS = {
    "celery_queue_length", "celery_task_succeeded_total", "celery_task_failed_total",
    "celery_task_runtime_sum", "celery_task_runtime_count", "celery_task_runtime_bucket",
    "name_queue_name:celery_task_succeeded:rate5m", "name_queue_name:celery_task_failed:rate5m",
    "name_queue_name_le:celery_task_runtime_bucket:rate5m",
    "queue_name:celery_task_succeeded:increase5m", "queue_name:celery_task_failed:increase5m",
    "queue_name:celery_task_runtime_sum:increase5m", "queue_name:celery_task_runtime_count:increase5m",
}
# Recorded over every queue: read only with All (guarded), never for chosen queues.
ALL_QUEUE_METRICS = {
    "job:celery_queue_length:sum", "queue_name:celery_queue_length:top20", "job:celery_task_succeeded:rate5m",
    "job:celery_task_failed:rate5m", "name:celery_task_succeeded:top20_rate5m", "name:celery_task_failed:top20_rate5m",
    "le:celery_task_runtime_bucket:rate5m",
}
PER_QUEUE_PANELS = {2, 3, 5, 6, 7, 9, 12, 13, 14}
# These two follow one named task each (on the resilience queue), whatever the filter says.
NAMED_TASK_PANELS = {10: "app.resilience.tasks.periodic_health_check",
                     11: "app.resilience.tasks.run_contingency_analysis"}

# The shortest window a range selector may use: four 15 s scrapes, as $__rate_interval's floor.
MIN_RANGE_SECONDS = 60


def load(name: str) -> dict:
    return json.loads((DIRECTORY.get(name, DASHBOARDS) / name).read_text())


def all_panels(model: dict) -> list[dict]:
    """Top-level panels and panels nested in collapsed rows."""
    panels = []
    for panel in model.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []) if panel.get("type") == "row" else [])
    return panels


def content_panels(model: dict) -> list[dict]:
    return [panel for panel in all_panels(model) if panel.get("type") != "row"]


def panel_by_id(model: dict, panel_id: int) -> dict:
    matches = [panel for panel in all_panels(model) if panel.get("id") == panel_id]
    assert len(matches) == 1, f"{model.get('uid')}: expected exactly one panel with id {panel_id}"
    return matches[0]


def as_steps(thresholds: dict) -> list[tuple]:
    return [(step["color"], step["value"]) for step in thresholds["steps"]]


def slug(title: str) -> str:
    return title.lower().replace(" ", "-")


@pytest.fixture(scope="module", params=sorted(SPEC))
def dashboard(request):
    return request.param, load(request.param)


def test_every_dashboard_file_is_known():
    """A dashboard added without entries here would escape every check below."""
    found = {p.name: p.parent for p in [*DASHBOARDS.glob("*.json"), *SLO_DASHBOARDS.glob("*.json")]}
    assert sorted(found) == sorted(SPEC)
    assert {name: directory for name, directory in found.items() if directory != DASHBOARDS} == DIRECTORY


def test_the_main_folder_keeps_its_three_dashboards_and_the_slos_sit_in_a_nested_folder():
    folders = {folder.uid: folder for folder in dashboard_folders()}
    main, slos = folders["residency-scheduler"], folders["residency-scheduler-slos"]
    assert (main.title, main.parent_uid, main.directory) == ("Residency Scheduler", None, DASHBOARDS)
    assert (slos.title, slos.parent_uid, slos.directory) == ("SLOs", "residency-scheduler", SLO_DASHBOARDS)
    assert len(list(DASHBOARDS.glob("*.json"))) == 3


def test_top_level_fields(dashboard):
    name, model = dashboard
    spec = SPEC[name]
    assert model["uid"] == spec["uid"]
    assert model["title"] == spec["title"]
    # Grafana assigns the numeric id; a fixed one clashes across instances.
    assert model["id"] is None
    assert isinstance(model["version"], int) and model["version"] >= 1
    # Grafana 12 (the deployed image) writes schemaVersion 41; 39-41 load without migration surprises.
    assert 39 <= model["schemaVersion"] <= 41
    assert model["refresh"] == spec["refresh"]
    assert model["time"] == {"from": spec["from"], "to": "now"}
    assert "residency-scheduler" in model["tags"]
    assert model["description"].strip()


def test_uids_and_titles_are_unique_and_short():
    models = [load(name) for name in SPEC]
    uids = [m["uid"] for m in models]
    titles = [m["title"] for m in models]
    assert len(set(uids)) == len(uids)
    assert len(set(titles)) == len(titles), "titles must be unique in the Residency Scheduler folder"
    # Grafana rejects uids longer than 40 characters.
    assert all(len(uid) <= 40 and re.fullmatch(r"[a-z0-9-]+", uid) for uid in uids)


def test_panels_match_the_spec(dashboard):
    name, model = dashboard
    found = {p["id"]: (p.get("title"), p.get("type")) for p in content_panels(model)}
    assert found == SPEC[name]["panels"]


def test_panel_ids_are_unique_and_rows_use_ids_from_100(dashboard):
    _, model = dashboard
    ids = [panel.get("id") for panel in all_panels(model)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(ids)}"
    rows = [p for p in all_panels(model) if p.get("type") == "row"]
    assert all(row["id"] >= 100 for row in rows)


def test_grid_layout_fits_and_nothing_overlaps(dashboard):
    _, model = dashboard
    panels = all_panels(model)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["y"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, f"{panel['title']} is wider than the 24-column grid"
    for a, b in itertools.combinations(panels, 2):
        ga, gb = a["gridPos"], b["gridPos"]
        apart = (ga["x"] + ga["w"] <= gb["x"] or gb["x"] + gb["w"] <= ga["x"]
                 or ga["y"] + ga["h"] <= gb["y"] or gb["y"] + gb["h"] <= ga["y"])
        assert apart, f"{a['title']!r} overlaps {b['title']!r}"


def test_every_panel_and_target_uses_the_datasource_variable(dashboard):
    name, model = dashboard
    assert "${DS_" not in (DIRECTORY.get(name, DASHBOARDS) / name).read_text(), \
        "import placeholders do not resolve when provisioned"
    for panel in content_panels(model):
        assert panel.get("datasource") == DATASOURCE_REF, panel["title"]
        assert panel.get("targets"), f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target.get("datasource") in (DATASOURCE_REF, {"type": "prometheus", "uid": DATASOURCE_UID}), \
                f"{panel['title']} {target.get('refId')}"


def test_datasource_variable_defaults_to_the_provisioned_uid(dashboard):
    name, model = dashboard
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert set(variables) == SPEC[name]["variables"]
    datasource = variables["datasource"]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    assert datasource["current"]["value"] == DATASOURCE_UID


def test_queue_variable_is_multi_select_with_all():
    variables = {v["name"]: v for v in load("celery_tasks.json")["templating"]["list"]}
    queue = variables["queue"]
    assert queue["type"] == "query"
    assert queue["query"] == "label_values(celery_queue_length, queue_name)"
    assert queue["multi"] is True and queue["includeAll"] is True
    assert queue["datasource"] == DATASOURCE_REF


def _selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    # A marker value shows which matchers came from $queue.
    promql_parser.walk(promql_parser.parse(substitute_grafana_macros(expr, {"queue": "QUEUE_VARIABLE"})), visit)
    return found


def _all_queue_branches(expr: str) -> list[str]:
    """The selectors of each `X and on () up{job="celery-exporter", queue_name=~"$queue"}`'s X: the series a panel
    reads over every queue, which the guard lets through only with All (^$, which no queue name matches)."""
    found: list[str] = []

    def unwrap(node):
        return unwrap(node.expr) if isinstance(node, promql_parser.ParenExpr) else node

    def visit(node):
        if isinstance(node, promql_parser.BinaryExpr) and str(node.op) == "and":
            guard = unwrap(node.rhs)
            if isinstance(guard, promql_parser.VectorSelector) and guard.name == "up":
                matchers = [(m.name, m.op, m.value) for m in guard.matchers.matchers]
                assert ("queue_name", promql_parser.MatchOp.Re, "QUEUE_VARIABLE") in matchers, str(guard)
                assert ("job", promql_parser.MatchOp.Equal, "celery-exporter") in matchers, str(guard)
                assert str(node.modifier.matching) == "on ()", "the guard matches on () every series"
                promql_parser.walk(node.lhs, lambda inner: found.append(str(inner))
                                   if isinstance(inner, promql_parser.VectorSelector) else None)

    promql_parser.walk(promql_parser.parse(substitute_grafana_macros(expr, {"queue": "QUEUE_VARIABLE"})), visit)
    return found


def test_per_queue_panels_follow_the_queue_filter():
    model = load("celery_tasks.json")
    (variable,) = [v for v in model["templating"]["list"] if v["name"] == "queue"]
    # All stands for no queue name: the queues' own series drop out, and the guarded series over every queue come in.
    assert variable["includeAll"] and variable["allValue"] == "^$"
    for panel in content_panels(model):
        for target in panel["targets"]:
            every_queue = _all_queue_branches(target["expr"])
            for selector in _selectors(target["expr"]):
                if selector.name in ALL_QUEUE_METRICS:
                    assert str(selector) in every_queue, f"{panel['title']}: {selector} is read for chosen queues"
                if selector.name not in PER_QUEUE_METRICS:
                    continue
                # MatchOp is not hashable: a list, compared with ==.
                matchers = [(m.name, m.op, m.value) for m in selector.matchers.matchers]
                filtered = ("queue_name", promql_parser.MatchOp.Re, "QUEUE_VARIABLE") in matchers
                if panel["id"] in NAMED_TASK_PANELS:
                    assert ("name", promql_parser.MatchOp.Equal, NAMED_TASK_PANELS[panel["id"]]) in matchers, \
                        f"{panel['title']}: {selector}"
                else:
                    assert panel["id"] in PER_QUEUE_PANELS, f"{panel['title']} reads per-queue series"
                    assert filtered or str(selector) in every_queue, f"{panel['title']}: {selector} ignores $queue"
    # Every panel listed as per-queue really is filtered (not merely allowed to be), and reads something with All.
    for panel in content_panels(model):
        if panel["id"] in PER_QUEUE_PANELS:
            for target in panel["targets"]:
                assert 'queue_name=~"$queue"' in target["expr"], f"{panel['title']} ignores $queue"
                assert _all_queue_branches(target["expr"]), f"{panel['title']} reads nothing with All queues"


def test_every_panel_has_a_unit(dashboard):
    _, model = dashboard
    for panel in content_panels(model):
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']} has no unit"


def test_spec_thresholds():
    for (name, panel_id, field), expected in THRESHOLDS.items():
        panel = panel_by_id(load(name), panel_id)
        if field is None:
            thresholds = panel["fieldConfig"]["defaults"]["thresholds"]
        else:
            overrides = [o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == field]
            values = [p["value"] for o in overrides for p in o["properties"] if p["id"] == "thresholds"]
            assert len(values) == 1, f"{name} {panel['title']}: no thresholds for {field}"
            thresholds = values[0]
        assert thresholds["mode"] == "absolute"
        assert as_steps(thresholds) == expected, f"{name} {panel['title']} {field or ''}"
        if field is not None:
            continue
        defaults = panel["fieldConfig"]["defaults"]
        if panel["type"] == "timeseries" and defaults["color"]["mode"] != "thresholds":
            # Series keep their own colours (one per queue, per quantile); the thresholds show as lines.
            assert defaults["custom"]["thresholdsStyle"]["mode"] != "off", f"{name} {panel['title']} hides them"
        else:
            assert defaults["color"]["mode"] == "thresholds", f"{name} {panel['title']} is not coloured by them"


def test_eighty_percent_line_is_drawn():
    for name, panel_id in EIGHTY_PERCENT_LINE:
        panel = panel_by_id(load(name), panel_id)
        defaults = panel["fieldConfig"]["defaults"]
        assert 0.8 in [step["value"] for step in defaults["thresholds"]["steps"]], panel["title"]
        if panel["type"] == "gauge":
            assert panel["options"]["showThresholdMarkers"] is True, panel["title"]
        else:
            assert defaults["custom"]["thresholdsStyle"]["mode"] != "off", panel["title"]


def _value_mapping(panel: dict) -> dict:
    mappings = [m for m in panel["fieldConfig"]["defaults"]["mappings"] if m["type"] == "value"]
    assert len(mappings) == 1, f"{panel['title']}: expected one value mapping"
    return mappings[0]["options"]


def test_defense_levels_are_named_and_coloured():
    for (name, panel_id), long_form in DEFENSE_PANELS.items():
        panel = panel_by_id(load(name), panel_id)
        options = _value_mapping(panel)
        assert set(options) == {str(level) for level in DEFENSE_NAMES} | {"0"}, panel["title"]
        # The backend reports 0 until its first health check: that must not read as a healthy level.
        assert options["0"]["color"] == "blue" and "Not assessed" in options["0"]["text"], panel["title"]
        for level, level_name in DEFENSE_NAMES.items():
            text = options[str(level)]["text"]
            assert level_name in text, f"{panel['title']}: level {level} reads {text!r}"
            assert options[str(level)]["color"] == DEFENSE_COLOURS[level]
            if long_form:
                assert DEFENSE_DESCRIPTIONS[level] in text, f"{panel['title']}: level {level} reads {text!r}"


def test_defense_history_steps_after_each_change():
    panel = panel_by_id(load("resilience_metrics.json"), 3)
    assert panel["fieldConfig"]["defaults"]["custom"]["lineInterpolation"] == "stepAfter"


def test_load_shedding_levels_are_named():
    panel = panel_by_id(load("resilience_metrics.json"), 7)
    options = _value_mapping(panel)
    assert set(options) == {str(level) for level in LOAD_SHEDDING_NAMES}
    for level, level_name in LOAD_SHEDDING_NAMES.items():
        assert level_name in options[str(level)]["text"]


def _colours(node) -> list[str]:
    """Every colour named anywhere in a panel: threshold steps, mappings, fixed colours."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("color", "fixedColor") and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_colours(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_colours(item))
    return found


def test_one_colour_scheme_across_dashboards(dashboard):
    _, model = dashboard
    for panel in content_panels(model):
        unknown = set(_colours(panel)) - set(PALETTE)
        assert not unknown, f"{panel['title']} uses colours outside the shared scheme: {unknown}"


def test_quick_time_ranges_on_the_overview():
    picker = load("scheduler_overview.json")["timepicker"]
    offered = {quick["from"] for quick in picker["quick_ranges"]}
    assert {"now-1h", "now-12h", "now-24h", "now-7d"} <= offered
    assert "30s" in picker["refresh_intervals"]


def _links(model: dict) -> list[str]:
    urls = [link["url"] for link in model.get("links", []) if link.get("url")]
    for panel in content_panels(model):
        urls.extend(link["url"] for link in panel.get("links", []))
    return urls


def test_overview_drills_down_to_the_other_dashboards():
    urls = _links(load("scheduler_overview.json"))
    for uid in ("resilience-metrics", "celery-tasks"):
        assert any(url.startswith(f"/d/{uid}/") for url in urls), f"no link to {uid}"


def test_links_point_at_existing_dashboards_and_panels(dashboard):
    _, model = dashboard
    by_uid = {SPEC[name]["uid"]: (SPEC[name]["title"], set(SPEC[name]["panels"])) for name in SPEC}
    for url in _links(model):
        match = re.match(r"^/d/([^/?]+)/([^/?]+)(?:\?(.*))?$", url)
        assert match, f"not a dashboard link: {url}"
        uid, link_slug, query = match.groups()
        assert uid in by_uid, url
        title, panel_ids = by_uid[uid]
        assert link_slug == slug(title), url
        view = re.search(r"viewPanel=(\d+)", query or "")
        if view:
            assert int(view.group(1)) in panel_ids, url


def test_range_windows_fit_the_scrape_interval(dashboard):
    """A window shorter than four scrapes can hold fewer than two samples: rate() then has nothing."""
    _, model = dashboard
    for panel in content_panels(model):
        for target in panel["targets"]:
            def visit(node):
                if isinstance(node, promql_parser.MatrixSelector):
                    assert node.range.total_seconds() >= MIN_RANGE_SECONDS, f"{panel['title']}: {target['expr']}"

            promql_parser.walk(promql_parser.parse(substitute_grafana_macros(target["expr"])), visit)


def test_raw_counter_rates_in_time_series_use_the_rate_interval(dashboard):
    """Grafana's $__rate_interval follows zoom and scrape interval; a fixed short window aliases."""
    _, model = dashboard
    for panel in content_panels(model):
        if panel["type"] != "timeseries":
            continue
        for target in panel["targets"]:
            for window in re.findall(r"\brate\([^\[]*\[([^\]]+)\]", target["expr"]):
                assert window == "$__rate_interval", f"{panel['title']}: {target['expr']}"


def test_active_workers_reads_zero_when_every_worker_is_gone():
    panel = panel_by_id(load("celery_tasks.json"), 1)
    (target,) = panel["targets"]
    assert re.fullmatch(r"sum\(job:celery_worker_up:sum\)\s+or\s+vector\(0\)", target["expr"])


def test_summary_prints_every_dashboard_panel_and_threshold():
    result = subprocess.run([sys.executable, "-m", "components.dashboard_summary"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for name, spec in SPEC.items():
        assert f"{spec['title']}  (uid {spec['uid']}" in result.stdout
        for panel_id, (title, kind) in spec["panels"].items():
            assert f"[{panel_id}] {title} ({kind}," in result.stdout, title
    assert "yellow from 0.7, orange from 0.8, red from 0.9" in result.stdout
    assert 'sum(job:celery_worker_up:sum) or vector(0)' in result.stdout


def test_summary_of_one_file_and_of_a_missing_file(tmp_path):
    one = subprocess.run([sys.executable, "-m", "components.dashboard_summary", "dashboards/celery_tasks.json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert one.returncode == 0 and "Celery Tasks  (uid" in one.stdout
    assert "Scheduler Overview  (uid" not in one.stdout
    missing = subprocess.run([sys.executable, "-m", "components.dashboard_summary", str(tmp_path / "none.json")],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "none.json" in missing.stderr


# ------------------------------------------------------------------ SLO dashboard
SLO_BUDGET = [("red", None), ("orange", 0), ("yellow", 0.25), ("green", 0.5)]


def test_slo_rows_repeat_for_each_slo_the_rules_record():
    model = load("scheduler_slos.json")
    variables = {v["name"]: v for v in model["templating"]["list"]}
    slo = variables["slo"]
    assert slo["type"] == "query" and slo["datasource"] == DATASOURCE_REF
    assert slo["query"] == "label_values(slo:objective:ratio, slo)"
    assert slo["multi"] is True and slo["includeAll"] is True
    (row,) = [p for p in model["panels"] if p["type"] == "row"]
    assert row["repeat"] == "slo" and row["collapsed"] is False and "$slo" in row["title"]
    # Every other panel sits below the row, so Grafana repeats it with the row.
    assert all(p["gridPos"]["y"] > row["gridPos"]["y"] for p in content_panels(model))


def test_every_slo_query_follows_the_slo_variable():
    model = load("scheduler_slos.json")
    for panel in content_panels(model):
        for target in panel["targets"]:
            selectors = [s for s in _selectors(target["expr"]) if s.name.startswith("slo")]
            assert selectors, f"{panel['title']}: reads no SLO recording rule"
            for selector in selectors:
                matchers = [(m.name, m.op, m.value) for m in selector.matchers.matchers]
                assert ("slo", promql_parser.MatchOp.Equal, "slo") in matchers, f"{panel['title']}: {selector}"


def test_slo_budget_panels_are_coloured_by_what_is_left():
    model = load("scheduler_slos.json")
    for panel_id in (4, 5):
        panel = panel_by_id(model, panel_id)
        assert as_steps(panel["fieldConfig"]["defaults"]["thresholds"]) == SLO_BUDGET, panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"] == "percentunit"
    # The SLI panels read a missing error series as no errors; only no traffic at all is empty.
    for panel_id in (1, 2, 4):
        assert panel_by_id(model, panel_id)["fieldConfig"]["defaults"]["noValue"] == "No traffic"


def test_the_alerts_link_to_the_burn_rate_panel():
    panel = panel_by_id(load("scheduler_slos.json"), BURN_RATE_PANEL)
    assert panel["title"] == "Burn rate (1h, 6h)"
    exprs = [t["expr"] for t in panel["targets"]]
    assert any("ratio_rate1h" in e for e in exprs) and any("ratio_rate6h" in e for e in exprs)
    assert any("slo:burn_rate:threshold" in e and 'severity="critical"' in e for e in exprs)
