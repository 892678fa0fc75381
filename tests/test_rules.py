"""The rule files: promtool's checks and unit tests, and the conventions every alert follows."""
from __future__ import annotations

import re

import pytest
import yaml

from components import constants as c
from components.render import render_stack
from components.renderers.prometheus import render_prometheus_command
from components.renderers.rules import prometheus_volume_bytes, render_rule_files
from components.settings import duration_seconds, from_stack_file, quantity_bytes, retention_size_bytes
from tests.support import rules as r
from tests.support.promql import metric_names
from tools.binaries import committed_stacks

# The spec's three tables plus the groups of the spec: name -> (group, severity, for).
SPEC_ALERTS = {
    "CriticalUtilization": ("scheduler_resilience", "critical", "2m"),
    "DefenseLevelCritical": ("scheduler_resilience", "critical", "5m"),
    "BothContingenciesFailed": ("scheduler_resilience", "critical", "30m"),
    "CriticalCoverageGap": ("scheduler_resilience", "critical", "5m"),
    "CriticalFacultyShortage": ("scheduler_resilience", "critical", "5m"),
    "CriticalLoadShedding": ("scheduler_resilience", "critical", "2m"),
    "ACGMEViolationDetected": ("scheduler_compliance", "critical", "2m"),
    "CeleryTaskFailureRateCritical": ("scheduler_tasks", "critical", "5m"),
    "CeleryQueueBacklogCritical": ("scheduler_tasks", "critical", "5m"),
    "CeleryNoWorkers": ("scheduler_tasks", "critical", "2m"),
    "SuspiciousAuthActivity": ("scheduler_security", "critical", "2m"),
    "HighUtilization": ("scheduler_resilience", "warning", "5m"),
    "DefenseLevelDegraded": ("scheduler_resilience", "warning", "10m"),
    "N1ContingencyFailed": ("scheduler_resilience", "warning", "15m"),
    "ScheduleCoverageGap": ("scheduler_resilience", "warning", "10m"),
    "LowFacultyAvailability": ("scheduler_resilience", "warning", "15m"),
    "LoadSheddingActive": ("scheduler_resilience", "warning", "5m"),
    "HighViolationRate": ("scheduler_compliance", "warning", "10m"),
    "CeleryTaskFailureRate": ("scheduler_tasks", "warning", "10m"),
    "CeleryQueueBacklog": ("scheduler_tasks", "warning", "15m"),
    "ResilienceHealthCheckStale": ("scheduler_tasks", "warning", "5m"),
    "SlowScheduleGeneration": ("scheduler_performance", "warning", "10m"),
    "ScheduleGenerationFailures": ("scheduler_performance", "warning", "5m"),
    "HighAuthFailureRate": ("scheduler_security", "warning", "5m"),
    "N2ContingencyFailed": ("scheduler_resilience", "info", "5m"),
    "HighTokenBlacklistRate": ("scheduler_security", "info", "5m"),
    "HighContingencyAnalysisDuration": ("scheduler_performance", "info", "15m"),
}
GROUP_INTERVALS = {"scheduler_resilience": "30s", "scheduler_compliance": "1m", "scheduler_tasks": "1m",
                   "scheduler_performance": "1m", "scheduler_security": "1m",
                   # Task runtimes for the Celery dashboard's quantiles, beside the Celery alerts.
                   "scheduler_task_runtime": "1m",
                   # Task counts for the Celery dashboard's day and hour stats.
                   "scheduler_task_counts": "5m",
                   # The backend's event counts for the auth, idempotency and health check stats.
                   "scheduler_event_counts": "5m",
                   # The monitors run at the stack's evaluationInterval.
                   "scheduler_monitoring": None,
                   # Generated from slos/*.yml (components/renderers/slos.py).
                   "scheduler_slos": "1m"}
# The recording rules the dashboards read (contract names).
CONTRACT_RECORDS = {
    "name_queue_name:celery_task_succeeded:rate5m", "name_queue_name:celery_task_failed:rate5m",
    "name_queue_name_le:celery_task_runtime_bucket:rate5m", "job:schedule_generation_duration_seconds:p95_5m",
    "job:resilience_health_check_duration_seconds:p50_1h", "job:resilience_health_check_duration_seconds:p95_1h",
}
PANELS = {  # dashboard uid -> (slug, panel ids) from the contract
    "scheduler-overview": ("scheduler-overview", set(range(1, 14))),
    "resilience-metrics": ("resilience-metrics", set(range(1, 17))),
    "celery-tasks": ("celery-tasks", set(range(1, 15))),
    "scheduler-slos": ("scheduler-slos", set(range(1, 12))),
}
# The SLO alerts: a page and a ticket per SLO file (multiwindow, multi-burn-rate).
SLO_ALERTS = {"ApiAvailabilityBudgetBurnCritical": "critical", "ApiAvailabilityBudgetBurn": "warning",
              "ApiLatencyBudgetBurnCritical": "critical", "ApiLatencyBudgetBurn": "warning"}
# Alerts with no Grafana panel to point at: the monitors of Prometheus and
# Alertmanager themselves (and Grafana, which cannot show its own outage).
NO_PANEL = {"Watchdog", "AlertmanagerDown", "GrafanaDown", "PrometheusRuleEvaluationFailures",
            "PrometheusConfigReloadFailed", "AlertmanagerConfigReloadFailed",
            "PrometheusNotConnectedToAlertmanagers", "PrometheusErrorSendingAlerts",
            "PrometheusNotificationsDropped", "AlertmanagerNotificationsFailing",
            "PrometheusReplicaDown", "PrometheusTSDBCompactionsFailing", "PrometheusTSDBReloadsFailing",
            "PrometheusTSDBWALCorrupted", "PrometheusStorageFillingUp", "PrometheusRemoteWriteFailing",
            "PrometheusRemoteWriteBehind"}
MONITORS = {"PrometheusTargetDown", "CeleryExporterDown"} | NO_PANEL
ALWAYS_FIRING = {"Watchdog"}

ALERTS = r.alerting_rules()
# Alerts that page once per new event of a labelled counter: they date a
# series' birth by its `<name>_created` series.
NEW_EVENT_ALERTS = {"ACGMEViolationDetected": "schedule_violations",
                    "SuspiciousAuthActivity": "auth_verification_failures"}
# Prometheus 3.14.0 feature flags under which OpenMetrics `_created` lines
# become start timestamps and no `<name>_created` series is stored (measured,
# and in cmd/prometheus/main.go).
FLAGS_DROPPING_CREATED_SERIES = ("created-timestamp-zero-ingestion", "st-storage")


def test_rule_files_hold_one_group_each_with_the_spec_names_and_intervals():
    seen = {}
    for path, group in r.groups():
        assert path.stem == group["name"], f"{path.name} holds group {group['name']}"
        assert group["name"] not in seen, f"two files hold group {group['name']}"
        seen[group["name"]] = group.get("interval")
    assert seen == GROUP_INTERVALS


def test_every_spec_alert_exists_with_its_group_severity_and_for():
    for name, (group, severity, hold) in SPEC_ALERTS.items():
        assert name in ALERTS, f"{name} is missing"
        rule = ALERTS[name]
        assert (rule["group"], rule["labels"]["severity"], rule.get("for")) == (group, severity, hold), name


def test_the_monitors_group_has_exactly_its_alerts():
    in_group = {name for name, rule in ALERTS.items() if rule["group"] == "scheduler_monitoring"}
    assert in_group == MONITORS
    assert set(ALERTS) == set(SPEC_ALERTS) | MONITORS | set(SLO_ALERTS)
    assert {name: rule["labels"]["severity"] for name, rule in ALERTS.items()
            if rule["group"] == "scheduler_slos"} == SLO_ALERTS


def test_backend_target_down_is_the_spec_expression_and_also_catches_a_missing_target():
    rule = ALERTS["PrometheusTargetDown"]
    assert 'up{job="scheduler-backend"} == 0' in rule["expr"]
    assert 'absent(up{job="scheduler-backend"})' in rule["expr"]
    assert (rule["for"], rule["labels"]["severity"]) == ("2m", "critical")


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_labels_and_annotations_follow_the_conventions(name):
    rule = ALERTS[name]
    labels, annotations = rule["labels"], rule["annotations"]
    assert {"severity", "component", "tier", "compliance", "page"} <= set(labels)
    assert labels["severity"] in {"critical", "warning", "info", "none"}
    assert labels["page"] == ("true" if labels["severity"] == "critical" else "false")
    assert {"summary", "description", "runbook_url", "action_required"} <= set(annotations)
    assert "{{" not in annotations["summary"], "the summary is a static sentence"
    assert "$value" in annotations["description"] and "$labels" in annotations["description"] or name == "Watchdog"
    assert annotations["runbook_url"] == f"${{RUNBOOK_BASE_URL}}/{name}.md"
    if name in NO_PANEL:
        assert "dashboard_url" not in annotations
        return
    # A dashboard with a variable per row (the SLOs') is opened on the alert's own value.
    match = re.fullmatch(r"\$\{GRAFANA_URL\}/d/([a-z-]+)/([a-z-]+)\?(?:var-[a-z]+=[a-z0-9_]+&)?viewPanel=(\d+)",
                         annotations["dashboard_url"])
    assert match, annotations["dashboard_url"]
    uid, slug, panel = match.group(1), match.group(2), int(match.group(3))
    assert uid in PANELS and PANELS[uid][0] == slug and panel in PANELS[uid][1], annotations["dashboard_url"]


def test_the_watchdog_never_pages_and_always_fires():
    rule = ALERTS["Watchdog"]
    assert rule["expr"].strip() == "vector(1)" and "for" not in rule
    assert rule["labels"]["severity"] == "none" and rule["labels"]["page"] == "false"


def test_recording_rules_are_named_level_metric_operation_and_include_the_contract_ones():
    records = r.recording_rules()
    for name in records:
        assert re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", name), name
    assert CONTRACT_RECORDS <= set(records)


def test_promtool_check_rules_accepts_every_rendered_file(tmp_path):
    r.render_into(tmp_path)
    files = sorted(str(p) for p in tmp_path.glob("*.yml") if not p.name.endswith(".test.yml"))
    assert len(files) == len(GROUP_INTERVALS)
    for promtool in r.tools_of_every_release("promtool"):
        result = r.run(promtool, "check", "rules", *files)
        assert result.returncode == 0, promtool + ": " + result.stdout + result.stderr


def test_promtool_unit_tests_pass_on_the_rendered_rules(tmp_path):
    tests = r.render_into(tmp_path)
    assert {t.name for t in tests} == {f"{g}.test.yml" for g in GROUP_INTERVALS}
    for promtool in r.tools_of_every_release("promtool"):
        result = r.run(promtool, "test", "rules", *(t.name for t in tests), cwd=tmp_path)
        assert result.returncode == 0, promtool + ": " + result.stdout + result.stderr


def _test_documents():
    return {path: yaml.safe_load(path.read_text()) for path in sorted(r.TESTS_DIR.glob("*.test.yml"))}


def test_each_test_file_evaluates_at_its_groups_interval():
    # promtool evaluates every group at the test file's interval, so "one
    # evaluation before firing" is only exact when the two agree.
    for path, document in _test_documents().items():
        group = path.name.removesuffix(".test.yml")
        assert document["rule_files"] == [f"{group}.yml"]
        expected = GROUP_INTERVALS[group] or "30s"
        assert duration_seconds(document["evaluation_interval"]) == duration_seconds(expected), path.name


def test_every_alert_has_promtool_cases_firing_and_not_firing():
    firing, quiet = set(), set()
    for document in _test_documents().values():
        for test in document["tests"]:
            for check in test.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
                for alert in check.get("exp_alerts") or []:
                    # Full assertions: every label and annotation of the rule.
                    rule = ALERTS[check["alertname"]]
                    assert set(rule["labels"]) <= set(alert["exp_labels"]), check["alertname"]
                    assert set(alert["exp_annotations"]) == set(rule["annotations"]), check["alertname"]
    assert set(ALERTS) - firing == set(), "alerts never asserted firing"
    assert set(ALERTS) - ALWAYS_FIRING - quiet == set(), "alerts never asserted silent"


@pytest.mark.parametrize("stack", ("dev", "prod"))
def test_the_new_event_alerts_read_created_series_that_prometheus_keeps(stack):
    for alert, family in NEW_EVENT_ALERTS.items():
        assert f"{family}_created" in metric_names(ALERTS[alert]["expr"]), alert
    args = render_stack(from_stack_file(stack)[0]).commands[c.PROMETHEUS].args
    features = {feature for arg in args if arg.startswith("--enable-feature=")
                for feature in arg.partition("=")[2].split(",")}
    assert not features & set(FLAGS_DROPPING_CREATED_SERIES), f"{stack}: {features}"


# Prometheus's default --rules.alert.resend-delay: a firing alert is resent once
# this much time has passed, at the first evaluation strictly after it.
RESEND_DELAY_SECONDS = 60


@pytest.mark.parametrize("stack", committed_stacks())
def test_the_dropped_alerts_page_outlasts_the_watchdogs_resend_gap(stack):
    """PrometheusNotificationsDropped reads "nothing accepted in the window" as "alerts are lost".

    That holds only if a working Alertmanager accepts something in every window:
    the Watchdog, always firing, is resent every `gap`, and the window must hold
    a sample before and one after such a send. After a fresh start or a scrape
    gap the first samples can show a drop with no accepted alert for up to a gap,
    a scrape and an evaluation: `for:` must outlast that.
    """
    settings, _ = from_stack_file(stack)
    assert not any(arg.startswith("--rules.alert.resend-delay")
                   for arg in render_prometheus_command(settings).args), "the gap below assumes the default"
    evaluation = duration_seconds(settings.evaluation_interval)
    scrape = duration_seconds(settings.scrape_interval)
    gap = (RESEND_DELAY_SECONDS // evaluation + 1) * evaluation
    rule = ALERTS["PrometheusNotificationsDropped"]
    windows = {duration_seconds(w) for w in re.findall(r"\[(\w+)\]", rule["expr"])}
    assert len(windows) == 1, rule["expr"]
    window = windows.pop()
    assert window - scrape > gap, f"{stack}: a {window}s window can miss a resend every {gap}s"
    assert duration_seconds(rule["for"]) > gap + scrape + evaluation, stack


def test_rendered_rules_know_how_many_bytes_fill_the_prometheus_volume():
    prod, _ = from_stack_file("prod")
    dev, _ = from_stack_file("dev")
    assert (prod.platform, prod.prometheus_storage_size) == ("kubernetes", "50Gi")
    assert (dev.platform, dev.retention_size) == ("docker", "8GB")
    # The claim on Kubernetes; on Docker retentionSize, which Prometheus reads as base-2 bytes.
    assert prometheus_volume_bytes(prod) == 50 * 2**30
    assert prometheus_volume_bytes(dev) == 8 * 2**30
    for settings in (prod, dev):
        files = render_rule_files(settings)
        assert not [name for name, text in files.items() if "${" in text], "a placeholder left unfilled"
        rule = next(rule for group in yaml.safe_load(files["scheduler_monitoring.yml"])["groups"]
                    for rule in group["rules"] if rule.get("alert") == "PrometheusStorageFillingUp")
        assert rule["expr"].rstrip().endswith(f"> {prometheus_volume_bytes(settings)}")


@pytest.mark.parametrize("text,expected", [("512Mi", 512 * 2**20), ("50Gi", 50 * 2**30), ("1Ti", 2**40)])
def test_kubernetes_quantities_in_bytes(text, expected):
    assert quantity_bytes(text) == expected


@pytest.mark.parametrize("text,expected", [("100B", 100), ("512MB", 512 * 2**20), ("8GB", 8 * 2**30),
                                           ("2TB", 2 * 2**40)])
def test_retention_sizes_in_bytes_as_prometheus_reads_them(text, expected):
    assert retention_size_bytes(text) == expected
