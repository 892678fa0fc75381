"""The metrics catalog, and that every rule only queries metrics that exist."""
from __future__ import annotations

import pytest

from tests.support import catalog
from tests.support import rules as r
from tests.support.promql import metric_names, substitute_grafana_macros

SOURCES = {"scheduler-backend", "celery-exporter", "prometheus", "alertmanager", "grafana"}


def test_catalog_entries_are_complete_and_typed():
    names = set()
    for entry in catalog.entries():
        assert {"name", "type", "labels", "source", "help", "series"} <= set(entry), entry["name"]
        assert entry["name"] not in names, f"{entry['name']} listed twice"
        names.add(entry["name"])
        assert entry["source"] in SOURCES, entry["name"]
        if entry["type"] == "histogram":
            # A histogram never exists under its bare name.
            assert entry["name"] not in entry["series"]
            for suffix in ("_bucket", "_sum", "_count"):
                assert entry["name"] + suffix in entry["series"], entry["name"]
        elif entry["type"] == "summary":
            # The instrumentation's summaries have no quantiles: count and sum only.
            assert entry["name"] not in entry["series"]
            assert {entry["name"] + "_sum", entry["name"] + "_count"} <= set(entry["series"]), entry["name"]
        elif entry["type"] == "counter":
            assert entry["name"].endswith("_total") and entry["name"] in entry["series"], entry["name"]
        else:
            assert entry["type"] in {"gauge", "info"} and entry["series"] == [entry["name"]], entry["name"]


def test_catalog_uses_the_exporters_real_names_not_the_specs():
    series = catalog.series_names()
    assert {"celery_worker_up", "celery_worker_tasks_active", "celery_queue_length"} <= series
    assert not {"celery_workers", "celery_tasks_active"} & series
    failed = next(e for e in catalog.entries() if e["name"] == "celery_task_failed_total")
    assert "exception" in failed["labels"] and "queue_name" in failed["labels"]


@pytest.mark.parametrize("path_group", r.groups(rendered=True), ids=lambda pg: pg[1]["name"])
def test_every_rule_queries_only_catalogued_or_recorded_metrics(path_group):
    _, group = path_group
    known = catalog.series_names() | set(r.recording_rules())
    for rule in group["rules"]:
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('alert') or rule.get('record')} queries {sorted(unknown)}, which nothing emits"


def test_metric_names_reads_selectors_from_the_ast():
    expr = ('sum by (name) (rate(celery_task_failed_total{queue_name=~"$queue"}[$__rate_interval]))'
            ' / on () group_left up + {__name__="celery_queue_length"} + histogram_quantile(0.9, rate(x_bucket[5m:1m]))'
            ' + absent(resilience_info) + count_values("le", foo)')
    assert metric_names(expr) == {"celery_task_failed_total", "up", "celery_queue_length", "x_bucket",
                                  "resilience_info", "foo"}


def test_metric_names_refuses_what_cannot_be_checked():
    with pytest.raises(ValueError, match="name the metric"):
        metric_names('{__name__=~"celery_.*"}')
    with pytest.raises(ValueError, match="invalid PromQL"):
        metric_names("sum(rate(x[5m])")


def test_grafana_macros_and_variables_become_valid_promql():
    text = substitute_grafana_macros(
        'increase(a[$__range]) / $__range_s + rate(b{q=~"${queue:regex}", d="$datasource"}[$__rate_interval])'
        ' + c[$__interval] + d{w="[[worker]]"} + $__interval_ms')
    assert text == ('increase(a[6h]) / 21600 + rate(b{q=~"default", d="scheduler-prometheus"}[1m])'
                    ' + c[15s] + d{w="worker-1"} + 15000')
    assert substitute_grafana_macros("rate(x[$window])", {"window": "10m"}) == "rate(x[10m])"
    with pytest.raises(ValueError, match="unknown Grafana macro"):
        substitute_grafana_macros("rate(x[$__nonsense])")
