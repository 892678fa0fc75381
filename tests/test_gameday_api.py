"""The game day's API is the application's instrumentation answering real requests."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gameday.api import ROUTES, RequestMetrics, api
from gameday.procs import GamedayError

PROJECT = Path(__file__).resolve().parent.parent


def exposed() -> list:
    """What a backend serving the API exposes at /metrics (its registry holds RequestMetrics)."""
    registry = CollectorRegistry()
    registry.register(RequestMetrics())
    return [sample for family in text_string_to_metric_families(generate_latest(registry).decode())
            for sample in family.samples]


def requests_by_status() -> dict[str, float]:
    counted: dict[str, float] = {}
    for sample in exposed():
        if sample.name == "http_requests_total":
            counted[sample.labels["status"]] = counted.get(sample.labels["status"], 0) + sample.value
    return counted


def test_requests_are_counted_by_route_template_and_status_class():
    served = api()
    before, answered_before = requests_by_status(), dict(served.answered)
    outcomes = ["fail", "ok", "ok", "client-error", "ok", "fail"] * len(ROUTES)
    for index, outcome in enumerate(outcomes):
        method, route = ROUTES[index % len(ROUTES)]
        served.call(method, route, outcome, seconds=0.01)
    served.drain()
    answered = {status: count - answered_before.get(status, 0) for status, count in served.answered.items()}
    assert answered == {500: 2 * len(ROUTES), 200: 3 * len(ROUTES), 422: len(ROUTES)}
    assert served.unanswered == 0
    after = requests_by_status()
    # An unhandled exception is 5xx, a refused request 4xx.
    assert {status: after[status] - before.get(status, 0) for status in after} == \
           {"5xx": 2 * len(ROUTES), "2xx": 3 * len(ROUTES), "4xx": len(ROUTES)}
    # The handler is the route template, never the raw path.
    assert {(s.labels["method"], s.labels["handler"]) for s in exposed() if s.name == "http_requests_total"} \
        == set(ROUTES)


def test_the_series_are_the_ones_the_catalog_lists_with_prometheus_3_bucket_bounds():
    served = api()
    def slow_counts() -> dict[str, float]:
        return {s.labels["le"]: s.value for s in exposed() if s.name == "http_request_duration_highr_seconds_bucket"}
    before = slow_counts()
    served.call("GET", "/api/v1/schedules", "ok", seconds=0.01)
    served.call("POST", "/api/v1/schedules/generate", "ok", seconds=1.2)
    served.drain()
    after = slow_counts()
    assert after["1.0"] - before.get("1.0", 0) == 1 and after["1.5"] - before.get("1.5", 0) == 2
    catalog = [entry for entry in yaml.safe_load((PROJECT / "catalog/metrics.yml").read_text())["metrics"]
               if entry["name"].startswith("http_")]
    samples = exposed()
    assert {s.name for s in samples} == {series for entry in catalog for series in entry["series"]}
    for entry in catalog:
        family = [s for s in samples if s.name in entry["series"]]
        for sample in family:
            assert set(sample.labels) - {"le"} == set(entry["labels"]), (entry["name"], sample.labels)
        if "buckets" in entry:
            # The client writes every bound as a float ("1.0"), as Prometheus 3 stores them.
            assert {s.labels["le"] for s in family if "le" in s.labels} == \
                   {repr(float(b)) for b in entry["buckets"]} | {"+Inf"}, entry["name"]


def test_a_route_the_api_does_not_have_is_refused():
    with pytest.raises(GamedayError, match="no GET /api/v1/nowhere"):
        api().call("GET", "/api/v1/nowhere")
