"""The series a Prometheus of this stack holds, at a multiple of today's cardinality.

Names and label names come from catalog/metrics.yml (what the backend and the
exporter really emit); this module says how many label values each has and
how long each series lives.

Today (scale 1), as the reference describes the application:
- 1 backend (job scheduler-backend) serving 30 HTTP route templates, each with
  1 to 4 methods and the status classes it answers;
- 4 Celery workers (prefork) consuming all 7 queues and running 12 task names;
  3 of them are rare (a daily analysis, on-demand exports), so only one
  worker a day runs them;
- 5 ACGME violation types; the resilience, auth, idempotency and schedule
  metrics with the label values of the reference;
- one deploy a day, which restarts every pod: each worker comes back under a
  new hostname (a Kubernetes pod name), its old series are deleted by the
  exporter 10 minutes later (--purge-offline-worker-metrics), the backend's
  counters start again from zero and its `_created` series change.

Scale s multiplies every one of those counts (backends, workers, task names,
queues, violation types, handlers) by s: the stack then watches s shards of
today's application, each with its own backend, workers, queues, task names
and routes, scraped under the same two jobs. Every metric's series count grows
by s, as it would when the hospital group's programmes move onto one
scheduler; crossing them (s backends each serving s times the routes) would
grow it by s squared, which no plausible growth does. Below 1, the counts of
one shard shrink (at least one of each), which keeps a smoke test tiny.

The exporter's per-series choices (which families a scrape keeps) are not
decided here: `apply_metric_relabelling` applies the scrape job's own
metric_relabel_configs from the rendered prometheus.yml.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

import yaml

from components import constants as c

CATALOG = Path(__file__).resolve().parent.parent / "catalog" / "metrics.yml"

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class Today:
    """Today's cardinality, per shard of the application (see the module docstring)."""
    backends: int = 1
    handlers: int = 30
    workers: int = 4
    task_names: int = 12
    rare_task_names: int = 3
    queues: int = 7
    violation_types: int = 5
    deploys_per_day: int = 1


TODAY = Today()

# Celery's runtime buckets as the stack deploys them (celeryRuntimeBuckets).
RUNTIME_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
IDEMPOTENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
HTTP_BUCKETS = (0.1, 0.5, 1)

RESOURCES = ("schedules", "residents", "faculty", "assignments", "blocks", "rotations", "swaps", "leave",
             "reports", "auth")
QUEUE_NAMES = ("default", "resilience", "notifications", "metrics", "exports", "security", "maintenance")
VIOLATION_TYPES = ("80_hour", "1_in_7", "supervision_ratio", "duty_period", "rest_between_shifts")
TASKS = (
    ("app.resilience.tasks.periodic_health_check", "resilience", False),
    ("app.notifications.tasks.send_notification", "notifications", False),
    ("app.notifications.tasks.send_digest", "notifications", False),
    ("app.metrics.tasks.collect_usage_metrics", "metrics", False),
    ("app.metrics.tasks.refresh_utilization", "metrics", False),
    ("app.security.tasks.prune_token_blacklist", "security", False),
    ("app.maintenance.tasks.cleanup_idempotency_keys", "maintenance", False),
    ("app.scheduling.tasks.validate_assignments", "default", False),
    ("app.scheduling.tasks.recompute_coverage", "default", False),
    ("app.resilience.tasks.run_contingency_analysis", "resilience", True),
    ("app.exports.tasks.export_schedule", "exports", True),
    ("app.exports.tasks.export_duty_hours", "exports", True),
)


@dataclass
class Series:
    """One series and how its value moves (see benchmark/tsdbgen/main.go for the kinds)."""
    labels: dict
    kind: str                  # counter | created | gauge | const
    start: int                 # ms
    end: int                   # ms, exclusive
    a: float = 0.0
    b: float = 0.0
    period: int = 0
    interval: int = 0          # own minimum spacing (a rule's interval)
    phase: float = 0.0
    restart: int = 0           # ms between process restarts (deploys); 0: never
    restart_at: int = 0        # one restart time

    def as_json(self) -> dict:
        out = {"l": self.labels, "k": self.kind, "s": self.start, "e": self.end, "a": self.a}
        if math.isnan(self.a):
            # JSON has no NaN; a recording rule's output can be one (a quantile of nothing).
            out["a"], out["nan"] = 0, True
        for key, value in (("b", self.b), ("p", self.period), ("i", self.interval), ("ph", self.phase),
                           ("r", self.restart), ("ra", self.restart_at)):
            if value:
                out[key] = value
        return out


@dataclass(frozen=True)
class Shape:
    """How many of each thing one shard has at a scale, and how many shards there are."""
    shards: int
    backends: int
    handlers: int
    workers: int
    task_names: int
    rare_task_names: int
    queues: int
    violation_types: int

    @classmethod
    def at(cls, scale: float, today: Today = TODAY) -> "Shape":
        if scale <= 0:
            raise ValueError(f"scale must be positive, not {scale}")
        shards = max(1, round(scale))
        per_shard = scale / shards

        def count(base: int) -> int:
            return max(1, round(base * per_shard))

        task_names = count(today.task_names)
        return cls(shards=shards, backends=count(today.backends), handlers=count(today.handlers),
                   workers=count(today.workers), task_names=task_names,
                   rare_task_names=min(task_names - 1, round(today.rare_task_names * per_shard)),
                   queues=count(today.queues), violation_types=count(today.violation_types))

    def totals(self) -> dict[str, int]:
        return {"backends": self.shards * self.backends, "workers": self.shards * self.workers,
                "task names": self.shards * self.task_names, "queues": self.shards * self.queues,
                "violation types": self.shards * self.violation_types,
                "HTTP handlers": self.shards * self.backends * self.handlers}


def _fraction(*parts) -> float:
    """A stable pseudo-random number in [0, 1) from the parts (the same on every run)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _pod(prefix: str, *parts) -> str:
    letters = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()
    template = "".join(letters[b % len(letters)] for b in digest[:10])
    return f"{prefix}-{template[:5]}{template[5:]}-{letters[digest[10] % 27]}{letters[digest[11] % 27]}" \
           f"{letters[digest[12] % 27]}{letters[digest[13] % 27]}{letters[digest[14] % 27]}"


def load_catalog(path: Path = CATALOG) -> dict[str, dict]:
    return {entry["name"]: entry for entry in yaml.safe_load(path.read_text())["metrics"]}


@dataclass
class Timeline:
    """The simulated month: when it starts and ends, and when the deploys happen."""
    start: int                 # ms
    now: int                   # ms
    last_deploy: int           # ms; the others are whole deploy periods before it
    deploy_period: int = DAY_MS

    def deploys(self) -> list[int]:
        """Deploy times from the first one after start to the last one, oldest first."""
        times = []
        t = self.last_deploy
        while t > self.start:
            times.append(t)
            t -= self.deploy_period
        return sorted(times)

    def generations(self) -> list[tuple[int, int]]:
        """[(from, until)) of each run of the pods; the first began before the month did."""
        bounds = [self.start, *self.deploys(), self.now + 1]
        return list(zip(bounds[:-1], bounds[1:]))


class SeriesBuilder:
    """Every raw series of the month at one scale, checked against the catalog's names and labels."""

    def __init__(self, shape: Shape, timeline: Timeline, catalog: Optional[dict] = None,
                 purge_after_ms: int = 600_000):
        self.shape = shape
        self.t = timeline
        self.catalog = catalog or load_catalog()
        self.purge_after = purge_after_ms
        self.series: list[Series] = []

    # -- helpers ---------------------------------------------------------------
    def _check(self, name: str, labels: dict) -> None:
        base = re.sub(r"_(bucket|sum|count|created|total)$", "", name)
        entry = self.catalog.get(name) or self.catalog.get(base) or self.catalog.get(base + "_total")
        if entry is None or name not in entry["series"]:
            raise ValueError(f"{name} is not a series of catalog/metrics.yml")
        allowed = set(entry["labels"]) | {"job", "instance", "le", "quantile"}
        extra = set(labels) - allowed
        if extra:
            raise ValueError(f"{name} has labels {sorted(extra)} that catalog/metrics.yml does not list")

    def add(self, name: str, labels: dict, kind: str, start: int, end: int, **values) -> None:
        self._check(name, labels)
        self.series.append(Series({"__name__": name, **labels}, kind, start, end, **values))

    def counter(self, name: str, labels: dict, per_second: float, start: int, end: int, *,
                restart: int = 0, restart_at: int = 0, created: bool = True) -> None:
        """A prometheus_client counter (x_total and, if labelled, x_created)."""
        self.add(name + "_total", labels, "counter", start, end, a=per_second, restart=restart,
                 restart_at=restart_at)
        if created:
            self.add(name + "_created", labels, "created", start, end, restart=restart, restart_at=restart_at)

    def histogram(self, name: str, labels: dict, buckets: Iterable[float], per_second: float, start: int,
                  end: int, *, restart: int = 0, restart_at: int = 0, typical: float = 1.0) -> None:
        """x_bucket for each bound and +Inf, x_sum, x_count, x_created; observations around `typical` s."""
        bounds = list(buckets)
        for bound in [*bounds, math.inf]:
            # Cumulative share of observations at or below the bound: a smooth
            # distribution centred on `typical`, so quantiles fall inside the buckets.
            share = 1.0 if bound == math.inf else 1 - math.exp(-bound / typical)
            le = "+Inf" if bound == math.inf else _le(bound)
            self.add(name + "_bucket", {**labels, "le": le}, "counter", start, end, a=per_second * share,
                     restart=restart, restart_at=restart_at)
        self.add(name + "_sum", labels, "counter", start, end, a=per_second * typical, restart=restart,
                 restart_at=restart_at)
        self.add(name + "_count", labels, "counter", start, end, a=per_second, restart=restart,
                 restart_at=restart_at)
        self.add(name + "_created", labels, "created", start, end, restart=restart, restart_at=restart_at)

    def gauge(self, name: str, labels: dict, level: float, swing: float, start: int, end: int, *,
              period_hours: float = 6.0) -> None:
        self.add(name, labels, "gauge", start, end, a=level, b=swing, period=int(period_hours * HOUR_MS),
                 phase=_fraction(name, sorted(labels.items())) * 2 * math.pi)

    def const(self, name: str, labels: dict, value: float, start: int, end: int) -> None:
        self.add(name, labels, "const", start, end, a=value)

    def scrape_series(self, job: str, instance: str, start: int, end: int, samples: int) -> None:
        target = {"job": job, "instance": instance}
        self.const("up", target, 1, start, end)
        for name, value in (("scrape_duration_seconds", 0.05), ("scrape_samples_scraped", samples),
                            ("scrape_samples_post_metric_relabeling", samples), ("scrape_series_added", 0)):
            self.series.append(Series({"__name__": name, **target}, "const", start, end, a=value))

    # -- the month -------------------------------------------------------------
    def build(self) -> list[Series]:
        for shard in range(self.shape.shards):
            for backend in range(self.shape.backends):
                self._backend(shard, backend)
            self._celery_shard(shard)
        self._exporter_process()
        self._monitors()
        return self.series

    def _restarts(self) -> dict:
        return {"restart": self.t.deploy_period, "restart_at": self.t.last_deploy}

    def _backend(self, shard: int, number: int) -> None:
        s, start, end = self.shape, self.t.start, self.t.now + 1
        instance = ("scheduler-backend.scheduler.svc.cluster.local:8000" if s.shards == 1 and s.backends == 1
                    else f"scheduler-backend-{shard}-{number}.scheduler.svc.cluster.local:8000")
        target = {"job": c.JOB_BACKEND, "instance": instance}
        before = len(self.series)
        restarts = self._restarts()
        # Resilience gauges (label-less ones exist from process start).
        self.gauge("resilience_utilization_rate", {**target, "component": "overall"}, 0.6, 0.15, start, end)
        for name, level, swing in (("resilience_utilization_level", 1, 0), ("resilience_defense_level", 1, 0),
                                   ("resilience_load_shedding_level", 0, 0), ("resilience_n1_compliant", 1, 0),
                                   ("resilience_n2_compliant", 1, 0), ("resilience_coverage_rate", 0.98, 0.01),
                                   ("resilience_buffer_remaining", 0.25, 0.1),
                                   ("resilience_active_fallbacks", 0, 0),
                                   ("resilience_suspended_activities", 0, 0),
                                   ("idempotency_cache_size", 400, 150)):
            self.gauge(name, target, level, swing, start, end)
        for kind, count in (("total", 40), ("on_duty", 12), ("on_leave", 3)):
            self.gauge("resilience_faculty_available", {**target, "type": kind}, count, 2, start, end)
        for service in ("scheduling", "notifications", "auth", "exports"):
            self.const("resilience_redundancy_level", {**target, "service": service}, 2, start, end)
        self.const("resilience_info", {**target, "version": "1.0.0", "framework": "fastapi",
                                       "components": "all"}, 1, start, end)
        # Labelled counters: born with their first event; rare ones exist for some label values only.
        for name, label, values, rate in (
                ("resilience_crisis_activations", "severity", ("minor", "moderate"), 1 / 86400),
                ("resilience_fallback_activations", "scenario", ("faculty_shortage", "surge"), 1 / 86400),
                ("resilience_health_check_failures", "reason", ("timeout", "stale_data"), 1 / 43200),
                ("auth_tokens_issued", "token_type", ("access", "refresh"), 0.5),
                ("auth_tokens_blacklisted", "reason", ("logout", "revoked", "password_change"), 0.02),
                ("auth_verification_failures", "reason", ("expired", "invalid_signature", "blacklisted",
                                                          "malformed"), 0.01),
                ("idempotency_requests", "outcome", ("cache_hit", "cache_miss", "conflict", "pending"), 0.2),
                ("schedule_assignments", "algorithm", ("greedy", "cp_sat", "pulp", "hybrid"), 0.05)):
            for value in values:
                self.counter(name, {**target, label: value}, rate, start, end, **restarts)
        for source, dest in (("0", "1"), ("1", "2"), ("2", "0")):
            self.counter("resilience_load_shedding_events", {**target, "from_level": source, "to_level": dest},
                         1 / 86400, start, end, **restarts)
        for level, action in (("2", "alert"), ("3", "activate_fallback"), ("1", "stand_down")):
            self.counter("resilience_defense_activations", {**target, "level": level, "action": action},
                         1 / 86400, start, end, **restarts)
        for algorithm in ("greedy", "cp_sat", "pulp", "hybrid"):
            for outcome, rate in (("success", 1 / 3600), ("failure", 1 / 86400)):
                self.counter("schedule_generation", {**target, "algorithm": algorithm, "outcome": outcome},
                             rate, start, end, **restarts)
            self.histogram("schedule_generation_duration_seconds", {**target, "algorithm": algorithm},
                           (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600), 1 / 3600, start, end, typical=20,
                           **restarts)
        for kind in range(s.violation_types):
            violation = VIOLATION_TYPES[kind % len(VIOLATION_TYPES)]
            if shard or kind >= len(VIOLATION_TYPES):
                violation = f"{violation}_{shard}_{kind}"
            self.counter("schedule_violations", {**target, "violation_type": violation}, 1 / 86400, start, end,
                         **restarts)
        # Label-less histograms exist from process start.
        self.histogram("resilience_health_check_duration_seconds", target, (0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                       1 / 900, start, end, typical=0.8, **restarts)
        self.histogram("resilience_contingency_analysis_duration_seconds", target, (0.5, 1, 2.5, 5, 10, 30, 60),
                       1 / 86400, start, end, typical=20, **restarts)
        self.histogram("idempotency_lookup_duration_seconds", target, IDEMPOTENCY_BUCKETS, 0.2, start, end,
                       typical=0.01, **restarts)
        self.histogram("http_request_duration_highr_seconds", target,
                       (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10,
                        30, 60), 5.0, start, end, typical=0.15, **restarts)
        # HTTP routes of this backend.
        for route in range(s.handlers):
            handler = _handler(shard * s.backends + number, route)
            methods = ["GET"] + [m for m, every in (("POST", 3), ("PUT", 5), ("DELETE", 7)) if route % every == 0]
            rate = 5.0 / s.handlers
            # The size summaries are emitted (reference) but read by nothing, so the catalog leaves them out.
            for name, size in (("http_request_size_bytes", 300), ("http_response_size_bytes", 4000)):
                labels = {**target, "handler": handler}
                for suffix, per_second in (("_count", rate), ("_sum", rate * size)):
                    self.series.append(Series({"__name__": name + suffix, **labels}, "counter", start, end,
                                              a=per_second, **restarts))
                self.series.append(Series({"__name__": name + "_created", **labels}, "created", start, end,
                                          **restarts))
            for method in methods:
                labels = {**target, "handler": handler, "method": method}
                statuses = ["2xx"] + [status for status, present in (
                    ("4xx", (route + len(method)) % 3 != 0), ("5xx", route % 6 == 0), ("3xx", route % 10 == 1))
                    if present]
                for status in statuses:
                    share = {"2xx": 0.9, "4xx": 0.08, "5xx": 0.002, "3xx": 0.02}[status]
                    self.counter("http_requests", {**labels, "status": status}, rate * share / len(methods),
                                 start, end, **restarts)
                self.histogram("http_request_duration_seconds", labels, HTTP_BUCKETS, rate / len(methods),
                               start, end, typical=0.12, **restarts)
                self.gauge("http_requests_inprogress", labels, 0.5, 0.5, start, end)
        # The process collector of prometheus_client and the scrape's own series.
        for name in ("process_virtual_memory_bytes", "process_resident_memory_bytes", "process_start_time_seconds",
                     "process_cpu_seconds_total", "process_open_fds", "process_max_fds"):
            self.series.append(Series({"__name__": name, **target}, "gauge", start, end, a=1e6, b=1e5,
                                      period=6 * HOUR_MS))
        self.scrape_series(c.JOB_BACKEND, instance, start, end, len(self.series) - before)

    def _celery_shard(self, shard: int) -> None:
        s = self.shape
        target = {"job": c.JOB_CELERY_EXPORTER, "instance": "celery-exporter.monitoring.svc:9808"}
        queues = [QUEUE_NAMES[q % len(QUEUE_NAMES)] + ("" if shard == 0 and q < len(QUEUE_NAMES) else f"-{shard}-{q}")
                  for q in range(s.queues)]
        tasks = []
        for number in range(s.task_names):
            name, queue, rare = TASKS[number % len(TASKS)]
            if shard or number >= len(TASKS):
                name = f"{name}_{shard}_{number}"
            queue_index = QUEUE_NAMES.index(queue) % len(queues)
            rare = number >= s.task_names - s.rare_task_names
            tasks.append((name, queues[queue_index], rare))
        start, end = self.t.start, self.t.now + 1
        for queue in queues:
            self.gauge("celery_queue_length", {**target, "queue_name": queue}, 3, 3, start, end)
            self.gauge("celery_active_worker_count", {**target, "queue_name": queue}, s.workers, 0, start, end)
            self.gauge("celery_active_process_count", {**target, "queue_name": queue}, 4 * s.workers, 0, start,
                       end)
        for generation, (born, replaced) in enumerate(self.t.generations()):
            gone = min(replaced + self.purge_after, self.t.now + 1)
            backend_pod = _pod("scheduler-backend", shard, generation)
            for worker in range(s.workers):
                hostname = _pod("celery-worker", shard, worker, generation)
                self.const("celery_worker_up", {**target, "hostname": hostname}, 1, born, gone)
                self.gauge("celery_worker_tasks_active", {**target, "hostname": hostname}, 2, 2, born, gone)
                for number, (name, queue, rare) in enumerate(tasks):
                    # A rare task runs on one worker a day; the others never see it.
                    if rare and worker != (generation + number) % s.workers:
                        continue
                    per_second = (1 / 86400 if rare else 0.05) / (1 if rare else s.workers)
                    labels = {**target, "name": name, "hostname": hostname, "queue_name": queue}
                    for event in ("received", "started", "succeeded"):
                        self.counter(f"celery_task_{event}", labels, per_second, born, gone)
                    if number % 4 == 0:
                        self.counter("celery_task_retried", labels, per_second / 50, born, gone)
                    if number % 3 == 0:
                        self.counter("celery_task_failed", {**labels, "exception": "TimeoutError"},
                                     per_second / 100, born, gone)
                    self.histogram("celery_task_runtime", labels, RUNTIME_BUCKETS, per_second, born, gone,
                                   typical=30 if rare else 1.5)
            # task-sent events carry the sender's hostname: the backend pod that sent them.
            for name, queue, rare in tasks:
                labels = {**target, "name": name, "hostname": backend_pod, "queue_name": queue}
                self.counter("celery_task_sent", labels, 1 / 86400 if rare else 0.05, born, gone)

    def _exporter_process(self) -> None:
        start, end = self.t.start, self.t.now + 1
        instance = "celery-exporter.monitoring.svc:9808"
        self.scrape_series(c.JOB_CELERY_EXPORTER, instance, start, end, 0)

    def _monitors(self) -> None:
        """The self-metrics the monitors' rules read, which do not grow with the application."""
        start, end = self.t.start, self.t.now + 1
        prometheuses = [f"prometheus-{n}.prometheus.monitoring.svc:9090" for n in range(2)]
        alertmanagers = [f"alertmanager-{n}.alertmanager.monitoring.svc:9093" for n in range(3)]
        for instance in prometheuses:
            target = {"job": c.JOB_PROMETHEUS, "instance": instance}
            self.scrape_series(c.JOB_PROMETHEUS, instance, start, end, 1500)
            for name in ("prometheus_config_last_reload_successful",):
                self.const(name, target, 1, start, end)
            self.const("prometheus_notifications_alertmanagers_discovered", target, 3, start, end)
            self.const("process_start_time_seconds", target, start / 1000, start, end)
            for name in ("prometheus_tsdb_compactions_failed_total", "prometheus_tsdb_reloads_failures_total",
                         "prometheus_tsdb_wal_corruptions_total"):
                self.const(name, target, 0, start, end)
            for name, level in (("prometheus_tsdb_storage_blocks_bytes", 5e9),
                                ("prometheus_tsdb_wal_storage_size_bytes", 3e8),
                                ("prometheus_tsdb_head_chunks_storage_size_bytes", 1e8)):
                self.gauge(name, target, level, level / 10, start, end, period_hours=2)
            for group in ("scheduler_resilience", "scheduler_compliance", "scheduler_tasks", "scheduler_performance",
                          "scheduler_security", "scheduler_monitoring", "scheduler_slos"):
                self.add("prometheus_rule_evaluation_failures_total", {**target, "rule_group": group}, "const",
                         start, end, a=0)
            for am in alertmanagers:
                labels = {**target, "alertmanager": f"http://{am}/api/v2/alerts"}
                self.add("prometheus_notifications_sent_total", labels, "counter", start, end, a=0.02)
                self.add("prometheus_notifications_errors_total", labels, "const", start, end, a=0)
                self.add("prometheus_notifications_dropped_total", labels, "const", start, end, a=0)
        for instance in alertmanagers:
            target = {"job": c.JOB_ALERTMANAGER, "instance": instance}
            self.scrape_series(c.JOB_ALERTMANAGER, instance, start, end, 400)
            self.const("alertmanager_config_last_reload_successful", target, 1, start, end)
            for integration in ("pagerduty", "slack", "email", "webhook"):
                self.add("alertmanager_notifications_total", {**target, "integration": integration}, "counter",
                         start, end, a=0.01)
                self.add("alertmanager_notifications_failed_total",
                         {**target, "integration": integration, "reason": "other"}, "const", start, end, a=0)
        self.scrape_series(c.JOB_GRAFANA, "grafana.monitoring.svc:3000", start, end, 300)
        self.const("grafana_build_info", {"job": c.JOB_GRAFANA, "instance": "grafana.monitoring.svc:3000",
                                          "version": "13.2.3", "edition": "oss"}, 1, start, end)


def _le(bound: float) -> str:
    """The le label as Prometheus 3 stores it, whatever the exposition wrote: 1 reads as "1.0", 0.1 as "0.1"."""
    return repr(float(bound))


def _handler(backend: int, route: int) -> str:
    resource = RESOURCES[route % len(RESOURCES)]
    prefix = "/api/v1" if backend == 0 else f"/api/v1/programs/p{backend}"
    variant = route // len(RESOURCES)
    if variant == 0:
        return f"{prefix}/{resource}"
    if variant == 1:
        return f"{prefix}/{resource}/{{{resource[:-1] if resource.endswith('s') else resource}_id}}"
    return f"{prefix}/{resource}/{{id}}/action{variant}"


# ---------------------------------------------------------------------------
# What a scrape keeps: the job's metric_relabel_configs, as Prometheus applies them.
# ---------------------------------------------------------------------------
def apply_metric_relabelling(series: list[Series], prometheus_yml: str) -> list[Series]:
    """The series left after each scrape job's metric_relabel_configs (keep, drop, labeldrop, labelkeep).

    Only the actions the stack uses are understood; another one is an error
    rather than a silently wrong head count.
    """
    config = yaml.safe_load(prometheus_yml)
    rules_by_job = {job["job_name"]: job.get("metric_relabel_configs", []) for job in config["scrape_configs"]}
    kept = []
    for one in series:
        rules = rules_by_job.get(one.labels.get("job"), [])
        labels: Optional[dict] = dict(one.labels)
        for rule in rules:
            labels = _relabel(labels, rule)
            if labels is None:
                break
        if labels is not None:
            one.labels = labels
            kept.append(one)
    return kept


def _relabel(labels: dict, rule: dict) -> Optional[dict]:
    action = rule.get("action", "replace")
    regex = re.compile(f"^(?:{rule.get('regex', '(.*)')})$")
    if action in ("keep", "drop"):
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule.get("source_labels", []))
        matched = bool(regex.match(value))
        return labels if matched == (action == "keep") else None
    if action == "labeldrop":
        return {k: v for k, v in labels.items() if not regex.match(k)}
    if action == "labelkeep":
        return {k: v for k, v in labels.items() if regex.match(k) or k == "__name__"}
    raise ValueError(f"metric_relabel_configs action {action!r} is not modelled by the benchmark")


def count_by_job(series: Iterable[Series], at: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for one in series:
        if one.start <= at < one.end:
            job = one.labels.get("job", "")
            counts[job] = counts.get(job, 0) + 1
    return counts


def task_series(series: Iterable[Series]) -> Iterator[Series]:
    return (one for one in series if one.labels["__name__"].startswith("celery_task_"))
