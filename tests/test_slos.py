"""The SLOs: the rules generated from slos/*.yml are the Google SRE workbook's, for the
objective, window and burn rates the stack gives; the error budget in time.

The workbook's alerting table is written here as data, never read from the module
under test, so a changed window, rate or formula fails.
"""
from __future__ import annotations

import math
import re

import promql_parser
import pytest
import yaml

from components import settings as s
from components.render import render_stack
from components.renderers import slos
from components.renderers.rules import check_intervals
from components.settings import SETTINGS, SettingsError, parse, slo_setting_keys
from tests.support.promql import metric_names

# "Alerting on SLOs", multiwindow, multi-burn-rate: severity -> (long window, short window, burn rate).
WORKBOOK = {
    "critical": [("1h", "5m", 14.4), ("6h", "30m", 6)],
    "warning": [("1d", "2h", 3), ("3d", "6h", 1)],
}
RATIO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# What the SLO files promise, as the task states them.
PROMISED = {"api_availability": (0.995, "28d"), "api_latency": (0.99, "28d")}
DOCKER = {"platform": "docker"}


def generated(settings) -> dict:
    """Rule -> rule (alerts by name, records by name and slo) of the group generated for these settings."""
    document = yaml.safe_load(slos.slo_rule_file(settings).text)
    (group,) = document["groups"]
    assert (group["name"], group["interval"]) == ("scheduler_slos", "1m")
    rules = {}
    for rule in group["rules"]:
        key = rule["alert"] if "alert" in rule else (rule["record"], rule["labels"]["slo"],
                                                     rule["labels"].get("long_window"))
        assert key not in rules, f"{key} generated twice"
        rules[key] = rule
    return rules


def comparisons(expr: str) -> list[list[tuple[str, str, float]]]:
    """The alert's branches (joined by `or`), each a list of (recorded metric, slo, threshold) compared with `>`."""
    tree = promql_parser.parse(expr)

    def branches(node) -> list:
        if isinstance(node, promql_parser.ParenExpr):
            return branches(node.expr)
        if isinstance(node, promql_parser.BinaryExpr) and str(node.op) == "or":
            return branches(node.lhs) + branches(node.rhs)
        return [node]

    def conditions(node) -> list:
        if isinstance(node, promql_parser.ParenExpr):
            return conditions(node.expr)
        if isinstance(node, promql_parser.BinaryExpr) and str(node.op) == "and":
            return conditions(node.lhs) + conditions(node.rhs)
        assert isinstance(node, promql_parser.BinaryExpr) and str(node.op) == ">", str(node)
        selector, threshold = node.lhs, node.rhs
        assert isinstance(selector, promql_parser.VectorSelector) and isinstance(threshold, promql_parser.NumberLiteral)
        (slo,) = [m.value for m in selector.matchers.matchers if m.name == "slo"]
        return [(selector.name, slo, threshold.val)]

    return [conditions(branch) for branch in branches(tree)]


def tile_offsets(expr: str, metric: str) -> list[int]:
    """The offsets, in seconds and in the order written, at which an expression reads a metric."""
    found = []

    def walk(node) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name == metric:
                found.append(int(node.offset.total_seconds()) if node.offset else 0)
            return
        for child in ("expr", "lhs", "rhs"):
            if hasattr(node, child):
                walk(getattr(node, child))

    walk(promql_parser.parse(expr))
    return found


def ranges(expr: str) -> set[str]:
    return set(re.findall(r"\[(\w+)\]", expr))


@pytest.fixture(scope="module")
def prod():
    return s.from_stack_file("prod")[0]


def test_the_slo_files_promise_what_was_asked_and_prod_keeps_it(prod):
    files = {slo.name: slo for slo in slos.load_slos()}
    assert {name: (slo.objective, slo.window) for name, slo in files.items()} == PROMISED
    for objective in slos.apply_settings(prod, list(files.values())):
        assert (objective.objective, objective.window) == PROMISED[objective.slo.name]
        assert objective.burn_rates == (14.4, 6, 3, 1)
    availability, latency = files["api_availability"], files["api_latency"]
    assert availability.good.text == 'http_requests_total{job="scheduler-backend", status!="5xx"}'
    assert availability.valid.text == 'http_requests_total{job="scheduler-backend"}'
    assert latency.good.text == 'http_request_duration_highr_seconds_bucket{job="scheduler-backend", le="1.0"}'
    assert latency.valid.text == 'http_request_duration_highr_seconds_count{job="scheduler-backend"}'
    # The high-resolution histogram has no handler label; the per-handler one has a 1 s bucket too.
    assert latency.handler_good.metric == "http_request_duration_seconds_bucket"
    assert 'le="1.0"' in latency.handler_good.text and latency.handler_valid.metric == "http_request_duration_seconds_count"


def test_bucket_bounds_are_written_as_prometheus_3_stores_them():
    # Prometheus 3 normalizes every `le` to float form on ingestion (1 -> "1.0"):
    # a matcher on le="1" selects no series, and the SLI would read every
    # request as slow.
    for slo in slos.load_slos():
        for query in (slo.good, slo.valid, slo.handler_good, slo.handler_valid):
            if query is None:
                continue
            for bound in re.findall(r'\ble="([^"]*)"', query.text):
                assert bound == "+Inf" or repr(float(bound)) == bound, f"{slo.name}: le=\"{bound}\" in {query.text}"


@pytest.mark.parametrize("overrides,expected", [
    ({}, {"api_availability": (0.995, "28d", (14.4, 6, 3, 1)), "api_latency": (0.99, "28d", (14.4, 6, 3, 1))}),
    # A dev stack relaxing both SLOs, one window and one SLO's burn rates.
    ({"sloApiAvailabilityObjective": "0.99", "sloApiAvailabilityWindow": "14d",
      "sloApiLatencyObjective": "0.95", "sloApiLatencyBurnRates": "10,5,2,1"},
     {"api_availability": (0.99, "14d", (14.4, 6, 3, 1)), "api_latency": (0.95, "28d", (10, 5, 2, 1))}),
], ids=["files", "stack overrides"])
def test_generated_rules_are_the_workbooks_formulas(overrides, expected):
    settings = parse("dev", {**DOCKER, **overrides})
    rules = generated(settings)
    for slo, (objective, window, rates) in expected.items():
        budget = 1 - objective
        stem = "".join(part.capitalize() for part in slo.split("_"))
        # Alerts: a page and a ticket, each the OR of its pairs, each pair both windows above rate x (1 - objective).
        for severity, name in (("critical", f"{stem}BudgetBurnCritical"), ("warning", f"{stem}BudgetBurn")):
            rule = rules[name]
            assert rule["labels"]["severity"] == severity and rule["labels"]["slo"] == slo
            assert rule["labels"]["page"] == ("true" if severity == "critical" else "false")
            assert rule["labels"]["scrape_job"] == "scheduler-backend"
            assert "for" not in rule, "the short window already stops a blip; a for: would delay the page"
            pairs = [(long, short, rate) for (long, short, _), rate in
                     zip(WORKBOOK[severity], rates[:2] if severity == "critical" else rates[2:])]
            found = comparisons(rule["expr"])
            assert len(found) == len(pairs), rule["expr"]
            for branch, (long, short, rate) in zip(found, pairs):
                assert [(metric, name_) for metric, name_, _ in branch] == [
                    (f"slo:sli_error:ratio_rate{long}", slo), (f"slo:sli_error:ratio_rate{short}", slo)]
                for _, _, threshold in branch:
                    assert math.isclose(threshold, rate * budget, rel_tol=1e-12), (name, long, threshold)
            assert f"{objective * 100:g} % over {window}" in rule["annotations"]["description"]
        # Every error ratio the alerts read, over exactly its window.
        for ratio_window in RATIO_WINDOWS:
            rule = rules[(f"slo:sli_error:ratio_rate{ratio_window}", slo, None)]
            assert "> 0" in rule["expr"], "no division by zero when nothing was requested"
            recorded = s.duration_seconds(ratio_window) >= 2 * 3600
            if ratio_window == "5m":
                # From the recorded 5m rates, which the SLO window's ratio sums too.
                assert metric_names(rule["expr"]) == {"slo:sli_error:rate5m", "slo:sli_valid:rate5m"}
                assert metric_names(rules[("slo:sli_error:rate5m", slo, None)]["expr"]) == {
                    "slo:sli_valid:rate5m", "slo:sli_good:rate5m"}
            if ratio_window == "5m":
                # The only window rated over the raw counters: the valid and good rates, each recorded once.
                for name in ("slo:sli_valid:rate5m", "slo:sli_good:rate5m"):
                    rate = rules[(name, slo, None)]["expr"]
                    if slo == "api_availability":
                        # Good requests are valid ones with status!="5xx": both are summed from one rate of
                        # the valid requests per status, so each raw series is read once.
                        split = "slo_status:sli_valid:rate5m"
                        assert metric_names(rate) == {split}, rate
                        rate = rules[(split, slo, None)]["expr"]
                        assert "sum by (status) (rate(" in rate
                    assert ranges(rate) == {"5m"}, rate
            elif not recorded:
                # Under 2h, the recorded 5m rates of the tiles that make up the window, back to back
                # (offsets 0, 5m, ...), an absent tile counting as none: no lag behind a rate over
                # the raw counters, and no raw series read again.
                assert not ranges(rule["expr"]), rule["expr"]
                assert metric_names(rule["expr"]) == {"slo:sli_error:rate5m", "slo:sli_valid:rate5m",
                                                      "slo:objective:ratio"}, rule["expr"]
                tiles = int(s.duration_seconds(ratio_window) // 300)
                for name in ("slo:sli_error:rate5m", "slo:sli_valid:rate5m"):
                    assert tile_offsets(rule["expr"], name) == [300 * k for k in range(tiles)], (name, rule["expr"])
            else:
                assert ranges(rule["expr"]) == {ratio_window}, rule["expr"]
                # From 2h on, the recorded 5m rates summed over the window: a rate over every raw
                # series for hours or days on each evaluation is what makes the group slow at scale.
                assert metric_names(rule["expr"]) == {"slo:sli_error:rate5m", "slo:sli_valid:rate5m"}, \
                    (ratio_window, rule["expr"])
        assert ranges(rules[("slo:sli_error:ratio_window", slo, None)]["expr"]) == {window}
        remaining = rules[("slo:error_budget_remaining:ratio", slo, None)]["expr"]
        assert math.isclose(float(remaining.rsplit("/", 1)[1]), budget, rel_tol=1e-12)
        # The constants the dashboard reads instead of repeating a setting.
        assert rules[("slo:objective:ratio", slo, None)]["expr"] == f"vector({objective!r})"
        assert math.isclose(float(rules[("slo:error_budget:ratio", slo, None)]["expr"][7:-1]), budget, rel_tol=1e-12)
        assert rules[("slo:window:seconds", slo, None)]["expr"] == f"vector({int(s.duration_seconds(window))})"
        for severity, pairs in WORKBOOK.items():
            for (long, short, _), rate in zip(pairs, rates[:2] if severity == "critical" else rates[2:]):
                rule = rules[("slo:burn_rate:threshold", slo, long)]
                assert rule["expr"] == f"vector({rate:g})"
                assert (rule["labels"]["severity"], rule["labels"]["short_window"]) == (severity, short)


def test_every_slo_has_its_settings_and_every_slo_setting_its_file():
    names = [path.stem for path in slos.slo_files()]
    wanted = {key for name in names for key in slo_setting_keys(name)}
    assert {setting.key for setting in SETTINGS if setting.key.startswith("slo")} == wanted


@pytest.mark.parametrize("objective,window,expected", [
    (0.995, "28d", "3h21m36s"),
    (0.99, "28d", "6h43m12s"),
    (0.999, "30d", "43m12s"),
    (0.9999, "28d", "4m1s920ms"),
    (0.99, "14d", "3h21m36s"),
    (0.5, "1d", "12h"),
])
def test_the_error_budget_in_time(objective, window, expected):
    assert slos.error_budget_text(objective, window) == expected


def test_the_error_budget_refuses_what_is_not_an_objective():
    with pytest.raises(ValueError, match="between 0 and 1"):
        slos.error_budget_seconds(1, "28d")
    with pytest.raises(ValueError):
        slos.error_budget_seconds(0.99, "four weeks")
    assert slos.error_budget_seconds(0.995, "28d") == 12096


def test_every_queried_metric_is_catalogued_and_the_group_is_deployed(prod):
    from tests.support import catalog
    rendered = render_stack(prod)
    deployed = rendered.files["prometheus/rules/scheduler_slos.yml"]
    assert "${" not in deployed and f"{prod.runbook_base_url}/ApiAvailabilityBudgetBurnCritical.md" in deployed
    document = yaml.safe_load(deployed)
    recorded = {rule["record"] for rule in document["groups"][0]["rules"] if "record" in rule}
    for rule in document["groups"][0]["rules"]:
        unknown = metric_names(rule["expr"]) - catalog.series_names() - recorded
        assert not unknown, f"{rule.get('alert') or rule.get('record')} reads {unknown}"


def test_the_generated_group_bounds_the_scrape_interval(prod):
    import dataclasses
    generated_file = slos.slo_rule_file(prod)
    # Alone, its shortest window (5m) allows a scrape every 75 s at most.
    check_intervals(dataclasses.replace(prod, scrape_interval="75s"), [generated_file])
    with pytest.raises(SettingsError, match=r"at most 1m15s, a quarter of the rules' shortest range window \(5m\)"):
        check_intervals(dataclasses.replace(prod, scrape_interval="90s"), [generated_file])


def test_a_relaxed_window_longer_than_retention_is_refused_and_a_longer_retention_accepts_it():
    with pytest.raises(SettingsError, match="sloApiLatencyWindow is 40d; allowed: at most retentionTime"):
        slos.apply_settings(parse("dev", {**DOCKER, "sloApiLatencyWindow": "40d"}), slos.load_slos())
    accepted = slos.apply_settings(parse("dev", {**DOCKER, "sloApiLatencyWindow": "40d", "retentionTime": "45d"}),
                                   slos.load_slos())
    assert {o.slo.name: o.window for o in accepted}["api_latency"] == "40d"


def test_slo_files_are_read_from_their_folder_only(tmp_path):
    (tmp_path / "slos").mkdir()
    with pytest.raises(s.InputError, match="slos/: no SLO files"):
        slos.slo_rule_file(parse("dev", DOCKER), slos.load_slos(tmp_path / "slos"))
