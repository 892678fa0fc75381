"""Every dashboard query is real PromQL on metrics that really exist, and the
queries that must not show "No data" or lie really don't (run by promtool).

Needs promtool at the deployed release (built by scripts/setup into .cache/bin).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import rules as r
from tests.support.promql import metric_names, parse, substitute_grafana_macros

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"
SLO_DASHBOARDS = ROOT / "slo_dashboards"
RULES = ROOT / "rules"
CATALOG = ROOT / "catalog" / "metrics.yml"

# The recording rules the contract lets dashboards read (defined by the alerting rules).
CONTRACT_RECORDING_RULES = {
    "name_queue_name:celery_task_succeeded:rate5m",
    "name_queue_name:celery_task_failed:rate5m",
    "name_queue_name_le:celery_task_runtime_bucket:rate5m",
    "job:schedule_generation_duration_seconds:p95_5m",
    "algorithm:schedule_generation_duration_seconds:p95_5m",
    "job:resilience_health_check_duration_seconds:p50_1h",
    "job:resilience_health_check_duration_seconds:p95_1h",
    "job:resilience_contingency_analysis_duration_seconds:mean1d",
    # Task counts per queue in 5-minute windows (rules/scheduler_task_counts.yml): the day's and the hour's
    # stats add them up instead of reading every worker's series.
    "queue_name:celery_task_succeeded:increase5m",
    "queue_name:celery_task_failed:increase5m",
    "queue_name:celery_task_runtime_sum:increase5m",
    "queue_name:celery_task_runtime_count:increase5m",
    # The backend's event counts in 5-minute windows (rules/scheduler_event_counts.yml): the auth, idempotency
    # and health check stats add them up instead of reading every backend's counters and _created series.
    "job:auth_tokens_issued:increase5m",
    "job:auth_verification_failures:increase5m",
    "job_outcome:idempotency_requests:increase5m",
    "job:resilience_health_check_failures:increase5m",
    "job:schedule_generation_duration_seconds_sum:increase5m",
    "job:schedule_generation_duration_seconds_count:increase5m",
    # What the week and month views draw over every queue, worker, task name or violation type, recorded each
    # minute (rules/scheduler_tasks.yml, scheduler_performance.yml, scheduler_compliance.yml): totals, and the 20
    # largest where a panel draws a line each.
    "job:celery_task_succeeded:rate5m", "job:celery_task_failed:rate5m", "le:celery_task_runtime_bucket:rate5m",
    "name:celery_task_succeeded:top20_rate5m", "name:celery_task_failed:top20_rate5m",
    "job:celery_queue_length:sum", "queue_name:celery_queue_length:top20",
    "job:celery_worker_up:sum", "job:celery_worker_tasks_active:sum", "hostname:celery_worker_tasks_active:top20",
    "algorithm_outcome:schedule_generation:rate5m", "violation_type:schedule_violations:top20_rate5m",
    # The resilience gauges and event counters over every backend (rules/scheduler_resilience.yml).
    "job_component:resilience_utilization_rate:max", "job:resilience_defense_level:max",
    "job:resilience_coverage_rate:min", "job:resilience_buffer_remaining:min", "job:resilience_active_fallbacks:max",
    "job:resilience_suspended_activities:max", "job_type:resilience_faculty_available:max",
    "job_severity:resilience_crisis_activations_total:sum", "job_scenario:resilience_fallback_activations_total:sum",
}
# What the SLO dashboard reads: the rules generated from slos/*.yml.
SLO_RECORDING_RULES = {
    "slo:objective:ratio", "slo:error_budget:ratio", "slo:window:seconds", "slo:burn_rate:threshold",
    "slo:sli_valid:rate5m", "slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate1h", "slo:sli_error:ratio_rate6h",
    "slo:sli_error:ratio_rate1d", "slo:sli_error:ratio_window", "slo:error_budget_remaining:ratio",
    "slo_handler:sli_error_nonzero:rate5m",
}


def promtool() -> str:
    return r.tool("promtool")


def dashboard_queries() -> list[tuple[str, int, str, str]]:
    """(dashboard file stem, panel id, refId, expr) for every target of every dashboard."""
    queries = []
    for path in sorted([*DASHBOARDS.glob("*.json"), *SLO_DASHBOARDS.glob("*.json")]):
        model = json.loads(path.read_text())
        panels = [p for top in model["panels"] for p in [top, *top.get("panels", [])]]
        for panel in panels:
            for target in panel.get("targets", []):
                queries.append((path.stem, panel["id"], target["refId"], target["expr"]))
    return queries


def query(stem: str, panel_id: int, ref: str = "A") -> str:
    matches = [expr for s, pid, r, expr in dashboard_queries() if (s, pid, r) == (stem, panel_id, ref)]
    assert len(matches) == 1, f"{stem} panel {panel_id} {ref}"
    return matches[0]


def catalog_series() -> set[str]:
    """Every series name the catalog lists: each metric's name and its exposed series."""
    if not CATALOG.exists():
        pytest.fail(f"{CATALOG.relative_to(ROOT)} is missing: the metrics catalog is what queries are checked against")
    data = yaml.safe_load(CATALOG.read_text())
    entries = data["metrics"] if isinstance(data, dict) else data
    names = set()
    for entry in entries:
        names.add(entry["name"])
        names.update(entry.get("series", []))
    return names


def rule_texts() -> dict[str, str]:
    """File name -> text of every rule file as the repository holds it, and of the generated SLO group."""
    texts = {path.name: path.read_text() for path in sorted(RULES.glob("*.yml"))}
    generated = r.generated_rule_file()
    texts[generated.name] = generated.text
    return texts


def recorded_names() -> set[str]:
    names = set()
    for text in rule_texts().values():
        for group in yaml.safe_load(text)["groups"]:
            names.update(rule["record"] for rule in group["rules"] if "record" in rule)
    return names


def test_dashboards_have_queries():
    # Guards the per-query checks below against passing over an empty list.
    assert len(dashboard_queries()) >= 43 + 15
    assert {stem for stem, *_ in dashboard_queries()} == {"scheduler_overview", "resilience_metrics", "celery_tasks",
                                                          "scheduler_slos"}


@pytest.mark.parametrize("stem,panel_id,ref,expr", dashboard_queries(),
                         ids=[f"{s}-{p}{r}" for s, p, r, _ in dashboard_queries()])
def test_query_parses_and_names_known_metrics(stem, panel_id, ref, expr):
    parse(expr)
    known = catalog_series() | recorded_names()
    unknown = metric_names(expr) - known
    assert not unknown, f"{stem} panel {panel_id} {ref} reads metrics nobody exports or records: {unknown}"


def test_recording_rules_read_are_the_contract_ones():
    used = {name for stem, *_, expr in dashboard_queries() if stem != "scheduler_slos"
            for name in metric_names(expr) if ":" in name}
    assert used, "the dashboards are expected to read the alerting work's recording rules"
    assert used <= CONTRACT_RECORDING_RULES, used - CONTRACT_RECORDING_RULES
    assert used <= recorded_names(), f"not recorded by rules/*.yml: {used - recorded_names()}"


def test_the_slo_dashboard_reads_only_the_generated_slo_rules():
    used = {name for stem, *_, expr in dashboard_queries() if stem == "scheduler_slos" for name in metric_names(expr)}
    assert used == SLO_RECORDING_RULES
    generated = {rule["record"] for group in r.generated_rule_file().document["groups"] for rule in group["rules"]
                 if "record" in rule}
    assert used <= generated, used - generated


def test_prometheus_parser_accepts_every_query(tmp_path):
    """Prometheus's own parser, via promtool: each query becomes a recording rule in one file."""
    rules = [{"record": f"dashboard_{stem}_panel_{panel_id}_{ref}", "expr": substitute_grafana_macros(expr)}
             for stem, panel_id, ref, expr in dashboard_queries()]
    rule_file = tmp_path / "dashboard_queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard_queries", "rules": rules}]}))
    result = subprocess.run([promtool(), "check", "rules", str(rule_file)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


BACKEND = 'job="scheduler-backend", instance="backend:8000"'
AVAILABILITY_2XX = f'http_requests_total{{{BACKEND}, handler="/api/v1/schedules", method="GET", status="2xx"}}'
AVAILABILITY_5XX = f'http_requests_total{{{BACKEND}, handler="/api/v1/schedules", method="GET", status="5xx"}}'
EXPORTS_2XX = f'http_requests_total{{{BACKEND}, handler="/api/v1/exports/{{export_id}}", method="GET", status="2xx"}}'
EXPORTS_5XX = f'http_requests_total{{{BACKEND}, handler="/api/v1/exports/{{export_id}}", method="GET", status="5xx"}}'
LATENCY_COUNT = f'http_request_duration_highr_seconds_count{{{BACKEND}}}'
LATENCY_FAST = f'http_request_duration_highr_seconds_bucket{{{BACKEND}, le="1.0"}}'
# The SLO panels keep the series' slo label.
AVAILABILITY, LATENCY = '{slo="api_availability"}', '{slo="api_latency"}'

# Behaviour on data. Each case evaluates a panel's own query (macros replaced,
# $queue = "default") against synthetic series, one sample a minute. Values are
# rounded in the check because increase() extrapolates to the window's edges.
# The exporter up, with 3 tasks waiting in the default queue and 4 in exports.
TWO_QUEUES_DEEP_3_AND_4 = {
    "up{job=\"celery-exporter\"}": "1x40",
    "celery_queue_length{job=\"celery-exporter\",queue_name=\"default\"}": "3x40",
    "celery_queue_length{job=\"celery-exporter\",queue_name=\"exports\"}": "4x40",
}

BEHAVIOUR = {
    "no_worker_series_reads_zero_workers": dict(
        panel=("celery_tasks", 1, "A"), round_to=1, at="30m", expected=0,
        series={"up{job=\"celery-exporter\"}": "1x40"}),
    "one_of_two_workers_up": dict(
        panel=("celery_tasks", 1, "A"), round_to=1, at="30m", expected=1,
        series={"celery_worker_up{hostname=\"w1\"}": "1x40", "celery_worker_up{hostname=\"w2\"}": "0x40"}),
    "no_failure_series_reads_zero_failures": dict(
        panel=("celery_tasks", 13, "A"), round_to=1, at="25h", expected=0,
        series={"celery_task_succeeded_total{name=\"t\",hostname=\"w1\",queue_name=\"default\"}": "0+1x1500"}),
    "failures_count_the_first_failure_of_a_new_worker": dict(
        # w1 existed all day and failed twice; w2 was born with its first failure and failed once more.
        panel=("celery_tasks", 13, "A"), round_to=1, at="25h", expected=4,
        series={
            "celery_task_failed_total{name=\"t\",hostname=\"w1\",exception=\"E\",queue_name=\"default\"}":
                "5x600 6x300 7x600",
            "celery_task_failed_total{name=\"t\",hostname=\"w2\",exception=\"E\",queue_name=\"default\"}":
                "_x1000 1x200 2x300",
            "celery_task_failed_created{name=\"t\",hostname=\"w2\",exception=\"E\",queue_name=\"default\"}":
                "_x1000 59990x500",
            "celery_task_failed_total{name=\"t\",hostname=\"w3\",exception=\"E\",queue_name=\"other\"}":
                "_x1000 9x500",
        }),
    "processed_adds_successes_and_failures": dict(
        panel=("celery_tasks", 12, "A"), round_to=1, at="25h", expected=13,
        series={
            "celery_task_succeeded_total{name=\"t\",hostname=\"w1\",queue_name=\"default\"}": "100x600 110x900",
            "celery_task_failed_total{name=\"t\",hostname=\"w2\",exception=\"E\",queue_name=\"default\"}":
                "_x1200 3x300",
            "celery_task_failed_created{name=\"t\",hostname=\"w2\",exception=\"E\",queue_name=\"default\"}":
                "_x1200 71990x300",
        }),
    "health_check_failures_read_zero_when_none_happened": dict(
        panel=("resilience_metrics", 16, "A"), round_to=1, at="25h", expected=0,
        series={"resilience_health_check_duration_seconds_count": "0+1x1500"}),
    "auth_success_rate_counts_a_first_verification_failure": dict(
        # 99 tokens issued; one tampered token, the first of its reason (born at 1).
        panel=("scheduler_overview", 11, "A"), round_to=0.01, at="25h", expected=0.99,
        series={"auth_tokens_issued_total{token_type=\"access\"}": "1x600 100x900",
                "auth_verification_failures_total{reason=\"invalid_signature\"}": "_x1300 1x200",
                "auth_verification_failures_created{reason=\"invalid_signature\"}": "_x1300 77990x200"}),
    # A counter Prometheus sees for the first time is not news: a fresh Prometheus
    # (first deploy, a replaced replica, a lost volume, here started at 23h) or a
    # scrape gap at the window's start. Only a series whose _created falls in the
    # window counts whole; every other one counts what Prometheus saw it rise.
    "fresh_prometheus_reads_old_failures_as_none": dict(
        panel=("celery_tasks", 13, "A"), round_to=1, at="25h", expected=0,
        series={
            "celery_task_failed_total{name=\"t\",hostname=\"w1\",exception=\"E\",queue_name=\"default\"}":
                "_x1380 57x120",
            "celery_task_failed_created{name=\"t\",hostname=\"w1\",exception=\"E\",queue_name=\"default\"}":
                "_x1380 -169200x120",
        }),
    "fresh_prometheus_counts_the_failures_it_saw": dict(
        panel=("celery_tasks", 13, "A"), round_to=1, at="25h", expected=3,
        series={
            "celery_task_failed_total{name=\"t\",hostname=\"w1\",exception=\"E\",queue_name=\"default\"}":
                "_x1380 57x60 60x60",
            "celery_task_failed_created{name=\"t\",hostname=\"w1\",exception=\"E\",queue_name=\"default\"}":
                "_x1380 -169200x120",
        }),
    "fresh_prometheus_counts_only_the_health_checks_it_saw_run": dict(
        # Started at 24h30m on a worker that has run the check 500 times; two runs since.
        panel=("celery_tasks", 10, "A"), round_to=1, at="25h", expected=2,
        series={
            "celery_task_succeeded_total{name=\"app.resilience.tasks.periodic_health_check\",hostname=\"w1\","
            "queue_name=\"resilience\"}": "_x1470 500x9 501x15 502x5",
            "celery_task_succeeded_created{name=\"app.resilience.tasks.periodic_health_check\",hostname=\"w1\","
            "queue_name=\"resilience\"}": "_x1470 -169200x30",
        }),
    "fresh_prometheus_auth_success_rate_ignores_old_failures": dict(
        # 100 tampered tokens days ago; since Prometheus started, 50 tokens issued and none rejected.
        panel=("scheduler_overview", 11, "A"), round_to=0.01, at="25h", expected=1,
        series={"auth_tokens_issued_total{token_type=\"access\"}": "_x1380 100x60 150x60",
                "auth_tokens_issued_created{token_type=\"access\"}": "_x1380 -169200x120",
                "auth_verification_failures_total{reason=\"invalid_signature\"}": "_x1380 100x120",
                "auth_verification_failures_created{reason=\"invalid_signature\"}": "_x1380 -169200x120"}),
    "scrape_gap_at_the_window_start_counts_only_the_rise": dict(
        # No scrape from 50m to 70m, so nothing 24h before 25h; the counter went from 3 to 5 since.
        panel=("resilience_metrics", 16, "A"), round_to=1, at="25h", expected=2,
        series={"resilience_health_check_failures_total{reason=\"timeout\"}": "3x49 _x21 3x600 5x829",
                "resilience_health_check_failures_created{reason=\"timeout\"}": "-100000x49 _x21 -100000x1430"}),
    "backend_restart_in_the_window_keeps_the_failures_before_it": dict(
        # 5 to 6 at 5h; restart at 10h; re-born with 1 at 17h, 2 at 21h: 3 failures in the day.
        panel=("resilience_metrics", 16, "A"), round_to=1, at="25h", expected=3,
        series={"resilience_health_check_failures_total{reason=\"timeout\"}": "5x299 6x299 stale _x419 1x239 2x240",
                "resilience_health_check_failures_created{reason=\"timeout\"}":
                    "-100000x599 stale _x419 61190x480"}),
    "task_success_rate_with_no_failure_series_is_full": dict(
        panel=("celery_tasks", 3, "A"), round_to=0.01, at="30m", expected=1,
        series={"celery_task_succeeded_total{name=\"t\",hostname=\"w1\",queue_name=\"default\"}": "0+3x40"}),
    "task_success_rate_three_to_one": dict(
        panel=("celery_tasks", 3, "A"), round_to=0.01, at="30m", expected=0.75,
        series={"celery_task_succeeded_total{name=\"t\",hostname=\"w1\",queue_name=\"default\"}": "0+3x40",
                "celery_task_failed_total{name=\"t\",hostname=\"w1\",exception=\"E\",queue_name=\"default\"}":
                    "0+1x40"}),
    # The SLO dashboard ($slo given per case). A missing 5xx series is 0 errors: 100 %, not No data.
    "slo_sli_now_reads_full_without_any_server_error_series": dict(
        panel=("scheduler_slos", 1, "A"), variables={"slo": "api_availability"}, labels=AVAILABILITY, round_to=0.0001, at="30m",
        expected=1, series={AVAILABILITY_2XX: "0+60x40"}),
    "slo_sli_now_counts_server_errors": dict(
        panel=("scheduler_slos", 1, "A"), variables={"slo": "api_availability"}, labels=AVAILABILITY, round_to=0.0001, at="30m",
        expected=0.98, series={AVAILABILITY_2XX: "0+98x40", AVAILABILITY_5XX: "_x5 10+2x35"}),
    "slo_sli_over_the_window_reads_full_without_errors": dict(
        panel=("scheduler_slos", 2, "A"), variables={"slo": "api_availability"}, labels=AVAILABILITY, round_to=0.0001, at="30m",
        expected=1, series={AVAILABILITY_2XX: "0+60x40"}),
    "slo_budget_left_is_full_without_errors": dict(
        panel=("scheduler_slos", 4, "A"), variables={"slo": "api_availability"}, labels=AVAILABILITY, round_to=0.0001, at="30m",
        expected=1, series={AVAILABILITY_2XX: "0+60x40"}),
    "slo_budget_left_with_a_quarter_spent": dict(
        # 1 request in 800 failing is a quarter of the 0.5 % budget.
        panel=("scheduler_slos", 4, "A"), variables={"slo": "api_availability"}, labels=AVAILABILITY, round_to=0.001, at="2h",
        expected=0.75, series={AVAILABILITY_2XX: "799+799x130", AVAILABILITY_5XX: "1+1x130"}),
    "slo_projection_at_the_last_days_pace": dict(
        # 0.1 % failing burns at 0.2x: a window at that pace ends with 80 % of its budget.
        panel=("scheduler_slos", 5, "A"), variables={"slo": "api_availability"}, labels=AVAILABILITY, round_to=0.001, at="2h",
        expected=0.8, series={AVAILABILITY_2XX: "999+999x130", AVAILABILITY_5XX: "1+1x130"}),
    "slo_budget_lasts_at_the_last_hours_burn": dict(
        # 75 % of 28 days' budget left, spent at 0.25x: it lasts 0.75 x 28 d / 0.25 = 84 days.
        panel=("scheduler_slos", 6, "A"), variables={"slo": "api_availability"}, labels=AVAILABILITY, round_to=1, at="2h",
        expected=7257600, series={AVAILABILITY_2XX: "799+799x130", AVAILABILITY_5XX: "1+1x130"}),
    "slo_burn_rate_over_an_hour": dict(
        panel=("scheduler_slos", 7, "A"), variables={"slo": "api_availability"}, labels=AVAILABILITY, round_to=0.001, at="2h",
        expected=2, series={AVAILABILITY_2XX: "99+99x130", AVAILABILITY_5XX: "1+1x130"}),
    "slo_handlers_table_names_the_failing_handler_with_the_burn_it_adds": dict(
        # 1 failure in 800 requests, all on one handler: it adds 0.25x; the healthy handler is not listed.
        panel=("scheduler_slos", 10, "A"), variables={"slo": "api_availability"}, round_to=0.001, at="2h",
        labels='{handler="/api/v1/exports/{export_id}"}', expected=0.25,
        series={AVAILABILITY_2XX: "400+400x130", EXPORTS_2XX: "399+399x130", EXPORTS_5XX: "1+1x130"}),
    "slo_latency_sli_now_reads_full_when_every_request_is_fast": dict(
        panel=("scheduler_slos", 1, "A"), variables={"slo": "api_latency"}, labels=LATENCY, round_to=0.0001, at="30m", expected=1,
        series={LATENCY_COUNT: "0+30x40", LATENCY_FAST: "0+30x40"}),
    "slo_latency_sli_now_counts_slow_requests": dict(
        panel=("scheduler_slos", 1, "A"), variables={"slo": "api_latency"}, labels=LATENCY, round_to=0.0001, at="30m",
        expected=0.9, series={LATENCY_COUNT: "0+30x40", LATENCY_FAST: "0+27x40"}),
    # The Celery Tasks dashboard with All queues ($queue = ^$, which no queue name matches): the panels read the
    # series recorded over every queue, let through by the exporter's up series; chosen queues read their own.
    "all_queues_success_rate_is_over_every_queue": dict(
        panel=("celery_tasks", 3, "A"), variables={"queue": "^$"}, round_to=0.01, at="30m", expected=0.75,
        series={"up{job=\"celery-exporter\"}": "1x40",
                "celery_task_succeeded_total{job=\"celery-exporter\",name=\"t\",hostname=\"w1\",queue_name=\"default\"}": "0+3x40",
                "celery_task_failed_total{job=\"celery-exporter\",name=\"u\",hostname=\"w1\",exception=\"E\",queue_name=\"exports\"}":
                    "0+1x40"}),
    "all_queues_total_depth_adds_every_queue": dict(
        panel=("celery_tasks", 2, "A"), variables={"queue": "^$"}, round_to=1, at="30m", expected=7,
        series=TWO_QUEUES_DEEP_3_AND_4),
    "a_chosen_queue_reads_only_its_own_depth": dict(
        panel=("celery_tasks", 2, "A"), round_to=1, at="30m", expected=3,
        series=TWO_QUEUES_DEEP_3_AND_4),
    "all_queues_processed_adds_every_queue": dict(
        panel=("celery_tasks", 12, "A"), variables={"queue": "^$"}, round_to=1, at="25h", expected=23,
        series={"up{job=\"celery-exporter\"}": "1x1500",
                "celery_task_succeeded_total{name=\"t\",hostname=\"w1\",queue_name=\"default\"}": "100x600 110x900",
                "celery_task_succeeded_total{name=\"u\",hostname=\"w1\",queue_name=\"exports\"}": "100x600 110x900",
                "celery_task_failed_total{name=\"t\",hostname=\"w2\",exception=\"E\",queue_name=\"default\"}":
                    "_x1200 3x300",
                "celery_task_failed_created{name=\"t\",hostname=\"w2\",exception=\"E\",queue_name=\"default\"}":
                    "_x1200 71990x300"}),
    "all_queues_median_run_time_over_every_queue": dict(
        # Half of the runs under 1 s, all under 5 s, in two queues: the median is the 1 s bound.
        panel=("celery_tasks", 7, "A"), variables={"queue": "^$"}, round_to=0.01, at="30m", expected=1,
        series={"up{job=\"celery-exporter\"}": "1x40",
                "celery_task_runtime_bucket{name=\"t\",hostname=\"w1\",queue_name=\"default\",le=\"1\"}": "0+1x40",
                "celery_task_runtime_bucket{name=\"t\",hostname=\"w1\",queue_name=\"default\",le=\"5\"}": "0+2x40",
                "celery_task_runtime_bucket{name=\"t\",hostname=\"w1\",queue_name=\"default\",le=\"+Inf\"}": "0+2x40",
                "celery_task_runtime_bucket{name=\"u\",hostname=\"w1\",queue_name=\"exports\",le=\"1\"}": "0+1x40",
                "celery_task_runtime_bucket{name=\"u\",hostname=\"w1\",queue_name=\"exports\",le=\"5\"}": "0+2x40",
                "celery_task_runtime_bucket{name=\"u\",hostname=\"w1\",queue_name=\"exports\",le=\"+Inf\"}": "0+2x40"}),
    "all_queues_table_lists_every_task": dict(
        panel=("celery_tasks", 9, "B"), variables={"queue": "^$"}, labels='{name="u"}', round_to=0.01, at="30m",
        expected=0.05,
        series={"up{job=\"celery-exporter\"}": "1x40",
                "celery_task_succeeded_total{name=\"u\",hostname=\"w1\",queue_name=\"exports\"}": "0+3x40"}),
    "schedule_generation_time_over_the_range": dict(
        panel=("scheduler_overview", 13, "A"), round_to=0.01, at="6h30m", expected=20,
        series={"schedule_generation_duration_seconds_sum{algorithm=\"greedy\"}": "0+40x400",
                "schedule_generation_duration_seconds_count{algorithm=\"greedy\"}": "0+2x400"}),
    "idempotency_hit_rate_is_hits_over_all_outcomes": dict(
        panel=("scheduler_overview", 12, "A"), round_to=0.01, at="2h", expected=0.25,
        series={"idempotency_requests_total{outcome=\"cache_hit\"}": "0+1x150",
                "idempotency_requests_total{outcome=\"cache_miss\"}": "0+2x150",
                "idempotency_requests_total{outcome=\"conflict\"}": "0+1x150"}),
}


def test_behaviour_of_panel_queries_on_data(tmp_path):
    """One promtool run per set of rule files the cases read: each case is its own test group with its own
    series, and evaluates only the rule files that record what it reads (as deployed, placeholders filled):
    every other rule would be evaluated each step of a 25-hour test for nothing."""
    promtool_path = promtool()
    texts = rule_texts()
    recorders = {file_name: {rule.get("record") for group in yaml.safe_load(text)["groups"] for rule in group["rules"]}
                 for file_name, text in texts.items()}
    runs: dict[tuple[str, ...], tuple[list, list]] = {}
    for name, case in BEHAVIOUR.items():
        expr = substitute_grafana_macros(query(*case["panel"]), case.get("variables"))
        needed = {metric for metric in metric_names(expr) if ":" in metric}
        files = tuple(sorted(file_name for file_name, records in recorders.items() if needed & records))
        assert {m for m in needed if any(m in recorders[f] for f in files)} == needed, f"{name}: nothing records {needed}"
        rules, tests = runs.setdefault(files, ([], []))
        rules.append({"record": f"case_{name}", "expr": f"round(({expr}), {case['round_to']})"})
        tests.append({
            "interval": "1m",
            "input_series": [{"series": series, "values": values} for series, values in case["series"].items()],
            "promql_expr_test": [{"expr": f"case_{name}", "eval_time": case["at"],
                                  "exp_samples": [{"labels": f"case_{name}{case.get('labels', '')}",
                                                   "value": case["expected"]}]}],
        })
    assert any(runs), "no case reads a recording rule"
    for file_name, text in texts.items():
        (tmp_path / file_name).write_text(r.render_for_tests(text))
    for index, (files, (rules, tests)) in enumerate(sorted(runs.items())):
        (tmp_path / f"cases{index}.yml").write_text(yaml.safe_dump({"groups": [{"name": "cases", "rules": rules}]}))
        # promtool evaluates every group at the test file's interval, whatever the group's
        # own: each run takes the interval its recording groups are deployed with. That
        # is every minute but for scheduler_task_counts and scheduler_event_counts, whose
        # 5-minute counts only add up when each window follows the last; the panels read
        # those through ranges.
        # (A panel that reads a recorded series at its latest sample needs one-minute
        # evaluations: Prometheus 3 excludes a sample exactly one lookback (5m) old.)
        intervals = {group.get("interval", "1m") for file_name in files
                     for group in yaml.safe_load(texts[file_name])["groups"]} or {"1m"}
        assert len(intervals) == 1, f"{files}: groups of several intervals cannot share a promtool run"
        (tmp_path / f"test{index}.yml").write_text(yaml.safe_dump(
            {"rule_files": [f"cases{index}.yml", *files], "evaluation_interval": intervals.pop(), "tests": tests},
            sort_keys=False))
        result = subprocess.run([promtool_path, "test", "rules", f"test{index}.yml"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{files}: " + result.stdout + result.stderr
        assert "SUCCESS" in result.stdout
