"""A simulated Residency Scheduler backend: the application's metrics, driven by scenarios.

The metric families, types, labels and buckets are the application's own
(shared/reference/scheduler-metrics.md, catalog/metrics.yml), built on
prometheus_client exactly as the application builds them, so the behaviour
that trips dashboards and alerts is real too: a labelled counter has no series
until its first `.labels(...).inc()`, histograms expose only
_bucket/_sum/_count, label-less gauges exist from the start with value 0.

Each scenario that touches the backend gets a backend of its own (its own
port, so its own `instance` label): the resilience gauges are label-less
process-wide values, and two scenarios setting the same gauge on one backend
would overwrite each other.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Mapping, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

from gameday.api import RequestMetrics
from gameday.api import api as instrumented_api
from gameday.procs import free_port

# name -> (type, label names, buckets). Names as exposed (counters without _total,
# prometheus_client adds it).
METRICS: dict[str, tuple[str, tuple[str, ...], Optional[tuple[float, ...]]]] = {
    # Resilience (ResilienceMetrics)
    "resilience_utilization_rate": ("gauge", ("component",), None),
    "resilience_utilization_level": ("gauge", (), None),
    "resilience_defense_level": ("gauge", (), None),
    "resilience_load_shedding_level": ("gauge", (), None),
    "resilience_n1_compliant": ("gauge", (), None),
    "resilience_n2_compliant": ("gauge", (), None),
    "resilience_faculty_available": ("gauge", ("type",), None),
    "resilience_coverage_rate": ("gauge", (), None),
    "resilience_buffer_remaining": ("gauge", (), None),
    "resilience_redundancy_level": ("gauge", ("service",), None),
    "resilience_active_fallbacks": ("gauge", (), None),
    "resilience_suspended_activities": ("gauge", (), None),
    "resilience_crisis_activations": ("counter", ("severity",), None),
    "resilience_fallback_activations": ("counter", ("scenario",), None),
    "resilience_load_shedding_events": ("counter", ("from_level", "to_level"), None),
    "resilience_defense_activations": ("counter", ("level", "action"), None),
    "resilience_health_check_failures": ("counter", ("reason",), None),
    "resilience_health_check_duration_seconds": ("histogram", (), (0.1, 0.25, 0.5, 1, 2.5, 5, 10)),
    "resilience_contingency_analysis_duration_seconds": ("histogram", (), (0.5, 1, 2.5, 5, 10, 30, 60)),
    # Observability (ObservabilityMetrics)
    "auth_tokens_issued": ("counter", ("token_type",), None),
    "auth_tokens_blacklisted": ("counter", ("reason",), None),
    "auth_verification_failures": ("counter", ("reason",), None),
    "idempotency_requests": ("counter", ("outcome",), None),
    "idempotency_cache_size": ("gauge", (), None),
    "idempotency_lookup_duration_seconds": ("histogram", (), (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)),
    "schedule_generation": ("counter", ("algorithm", "outcome"), None),
    "schedule_generation_duration_seconds": ("histogram", ("algorithm",), (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)),
    "schedule_violations": ("counter", ("violation_type",), None),
    "schedule_assignments": ("counter", ("algorithm",), None),
    # The HTTP request metrics come from the instrumentation itself (gameday/api.py).
}

# A healthy hospital: every alert quiet. Utilization 60% is GREEN and leaves
# 20% of buffer below the 80% line; 10 of 20 faculty on duty.
HEALTHY_GAUGES: tuple[tuple[str, Mapping[str, str], float], ...] = (
    ("resilience_utilization_rate", {"component": "overall"}, 0.60),
    ("resilience_utilization_level", {}, 0),
    ("resilience_defense_level", {}, 1),
    ("resilience_load_shedding_level", {}, 0),
    ("resilience_n1_compliant", {}, 1),
    ("resilience_n2_compliant", {}, 1),
    ("resilience_faculty_available", {"type": "total"}, 20),
    ("resilience_faculty_available", {"type": "on_duty"}, 10),
    ("resilience_faculty_available", {"type": "on_leave"}, 2),
    ("resilience_coverage_rate", {}, 0.99),
    ("resilience_buffer_remaining", {}, 0.20),
    ("resilience_redundancy_level", {"service": "inpatient"}, 2),
    ("resilience_redundancy_level", {"service": "clinic"}, 2),
    ("resilience_active_fallbacks", {}, 0),
    ("resilience_suspended_activities", {}, 0),
    ("idempotency_cache_size", {}, 120),
)


# What an application that has served for weeks has counted: a few ACGME
# violations and a few forged tokens, each long since handled. The series
# exist before any Prometheus of the game day starts, as they do when a
# Prometheus replica comes back with an empty data directory or after a long
# scrape outage; no alert may take them for new events. They were born
# HISTORY_AGE ago, which their <name>_created series say.
HISTORY: tuple[tuple[str, Mapping[str, str], float], ...] = (
    ("schedule_violations_total", {"violation_type": "1_in_7"}, 3),
    ("schedule_violations_total", {"violation_type": "supervision_ratio"}, 1),
    ("auth_verification_failures_total", {"reason": "invalid_signature"}, 2),
    ("auth_tokens_blacklisted_total", {"reason": "revoked"}, 14),
)
HISTORY_AGE = 21 * 24 * 3600.0

# The API as its users call it (route templates, as the instrumentator labels
# them), in the proportions of one round of requests.
API_ROUND: tuple[tuple[str, str], ...] = (
    ("/api/v1/schedules", "GET"), ("/api/v1/assignments", "GET"), ("/api/v1/schedules/{schedule_id}", "GET"),
    ("/api/v1/schedules", "GET"), ("/api/v1/auth/login", "POST"), ("/api/v1/assignments", "GET"),
    ("/api/v1/swaps", "POST"), ("/api/v1/schedules/{schedule_id}", "GET"), ("/api/v1/assignments", "GET"),
    ("/api/v1/schedules/generate", "POST"), ("/api/v1/auth/refresh", "POST"),
)
API_RATE = 2.0             # requests per second
API_CLIENT_ERROR_EVERY = 23   # one request in 23 is the client's mistake (4xx): good for the SLO
# A started application is slow at first (cold caches, connection pools): two
# of its first 500 requests take longer than the latency SLO's second. Later
# ones are all fast: a Prometheus that starts empty mid-run (a replaced
# replica) has too few requests for a steady trickle of slow ones to read as
# less than the SLO's 1 % budget, and would open a ticket for nothing.
API_COLD_START_SLOW = (149, 399)


class SimulatedBackend:
    """One backend process's metrics, served at http://127.0.0.1:PORT/metrics."""

    def __init__(self, name: str, port: Optional[int] = None, seed: int = 0, api_client=None):
        self.name = name
        # Who answers the API's requests: the process's instrumented API
        # (gameday/api.py), whose metrics this backend then exposes.
        self._api_client = api_client
        self.port = port or free_port()
        self.registry = CollectorRegistry()
        self.metrics: dict[str, object] = {}
        self._lock = threading.RLock()
        self._server = None
        self._random = random.Random(seed)
        self.api_since: Optional[float] = None     # when the API began serving
        self._api_served = 0
        self._api_failing = 0.0                    # share of requests answered 5xx
        self._api_failing_since = 0                # requests served when that share was set
        self._api_failed = 0                       # failed since then
        for metric, (kind, labels, buckets) in METRICS.items():
            doc = f"{metric} (simulated scheduler backend)"
            if kind == "gauge":
                self.metrics[metric] = Gauge(metric, doc, labels, registry=self.registry)
            elif kind == "counter":
                self.metrics[metric] = Counter(metric, doc, labels, registry=self.registry)
            else:
                self.metrics[metric] = Histogram(metric, doc, labels, buckets=buckets, registry=self.registry)
        Info("resilience", "Resilience framework build", registry=self.registry).info(
            {"version": "1.0.0", "framework": "gameday", "components": "utilization,defense,contingency"})
        for metric, labels, value in HEALTHY_GAUGES:
            self.set(metric, labels, value)

    def record_history(self) -> None:
        """Counters as an application that has run for weeks has them (HISTORY)."""
        born = time.time() - HISTORY_AGE
        with self._lock:
            for metric, labels, amount in HISTORY:
                child = self._child(metric, labels)
                child.inc(amount)
                # prometheus_client stamps a series' birth when it is made and
                # has no public way to say it was made earlier; the exposed
                # <name>_created is read from this attribute.
                child._created = born

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- serving ----------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._server is None:
                self._server, _ = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)

    def stop(self) -> None:
        """The backend goes down: its port refuses connections, as a crashed process's would."""
        with self._lock:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None

    @property
    def serving(self) -> bool:
        return self._server is not None

    # -- what the application does ---------------------------------------
    def _child(self, metric: str, labels: Mapping[str, str]):
        family_name = metric.removesuffix("_total")
        if family_name not in self.metrics:
            raise KeyError(f"{metric}: not a metric of the scheduler backend")
        family = self.metrics[family_name]
        expected = METRICS[family_name][1]
        if set(labels) != set(expected):
            raise KeyError(f"{metric}: labels {sorted(labels)} given, the application uses {list(expected)}")
        return family.labels(**labels) if expected else family

    def set(self, metric: str, labels: Mapping[str, str], value: float) -> None:
        with self._lock:
            self._child(metric, labels).set(value)

    def inc(self, metric: str, labels: Mapping[str, str], amount: float = 1) -> None:
        with self._lock:
            self._child(metric, labels).inc(amount)

    def observe(self, metric: str, labels: Mapping[str, str], value: float) -> None:
        with self._lock:
            self._child(metric, labels).observe(value)

    def api_failing(self, share: float) -> None:
        """From now on, this share of the API's requests fails (an unhandled exception: 5xx)."""
        with self._lock:
            self._api_failing = share
            self._api_failing_since = self._api_served
            self._api_failed = 0

    def serve_api(self, now: Optional[float] = None) -> int:
        """Send the API requests due by `now` at API_RATE to the instrumented API; returns how many.

        Requests take turns over API_ROUND. Exactly the failing share of them
        fail, spread evenly; a failing request is answered at once, so
        failures never count against the latency SLO. The requests are real
        and answered in the background: the instrumentation counts each one
        when its answer goes out.
        """
        now = time.time() if now is None else now
        with self._lock:
            if self.api_since is None:
                self.api_since = now
            due = int((now - self.api_since) * API_RATE)
            served = 0
            while self._api_served < due:
                index = self._api_served
                handler, method = API_ROUND[index % len(API_ROUND)]
                since = index + 1 - self._api_failing_since
                fails = int(since * self._api_failing) > self._api_failed
                if fails:
                    self._api_failed += 1
                    outcome, seconds = "fail", 0.0
                elif index % API_CLIENT_ERROR_EVERY == API_CLIENT_ERROR_EVERY - 1:
                    outcome, seconds = "client-error", 0.0
                else:
                    outcome = "ok"
                    seconds = 1.6 if index in API_COLD_START_SLOW else self._random.uniform(0.02, 0.4)
                self._api().call(method, handler, outcome, seconds)
                self._api_served += 1
                served += 1
            return served

    def _api(self):
        if self._api_client is None:
            self._api_client = instrumented_api()
            self.registry.register(RequestMetrics())
        return self._api_client

    def everyday_traffic(self, tick: int) -> None:
        """What a healthy backend does in one 15 s tick of ordinary use.

        Logins, idempotent API calls and schedule runs keep the rate panels
        alive; the health check runs every minute here (every 15 minutes in the
        application) so the staleness alert stays quiet while the game day is
        much shorter than its 20 minute window.
        """
        r = self._random
        self.inc("auth_tokens_issued_total", {"token_type": "access"}, r.randint(2, 6))
        self.inc("auth_tokens_issued_total", {"token_type": "refresh"}, 1)
        if tick % 4 == 0:
            self.inc("auth_tokens_blacklisted_total", {"reason": "logout"})
            self.inc("auth_verification_failures_total", {"reason": "expired"})
        self.inc("idempotency_requests_total", {"outcome": "cache_hit"}, r.randint(3, 8))
        self.inc("idempotency_requests_total", {"outcome": "cache_miss"}, r.randint(1, 3))
        for _ in range(3):
            self.observe("idempotency_lookup_duration_seconds", {}, r.uniform(0.001, 0.02))
        if tick % 2 == 0:
            algorithm = ("greedy", "cp_sat")[tick // 2 % 2]
            self.inc("schedule_generation_total", {"algorithm": algorithm, "outcome": "success"})
            self.observe("schedule_generation_duration_seconds", {"algorithm": algorithm}, r.uniform(1.5, 8))
            self.inc("schedule_assignments_total", {"algorithm": algorithm}, r.randint(40, 60))
        if tick % 4 == 0:
            self.observe("resilience_health_check_duration_seconds", {}, r.uniform(0.2, 0.8))
        if tick % 8 == 0:
            self.observe("resilience_contingency_analysis_duration_seconds", {}, r.uniform(2, 8))
