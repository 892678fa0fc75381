"""A tiny Celery application with the scheduler's task names, queues and worker settings.

The real exporter only sees what real workers report through Celery events,
so the game day runs a real worker on a real Redis with tasks named and
routed as the application names and routes them. Task bodies only sleep or
fail: what matters to monitoring is their names, queues, durations and outcomes.
"""
from __future__ import annotations

import os
import random
import time

from celery import Celery

# Queues the application's workers consume. "exports" is left out on purpose:
# it is the queue nobody consumes in the backlog scenario (its producer keeps
# sending while no worker takes anything off it).
CONSUMED_QUEUES = ("default", "resilience", "notifications", "metrics", "security", "maintenance")
UNCONSUMED_QUEUE = "exports"

HEALTH_CHECK = "app.resilience.tasks.periodic_health_check"
CONTINGENCY_ANALYSIS = "app.resilience.tasks.run_contingency_analysis"
SEND_NOTIFICATION = "app.notifications.tasks.send_notification"
COLLECT_METRICS = "app.metrics.tasks.collect_usage_metrics"
EXPORT_SCHEDULE = "app.exports.tasks.export_schedule"

ROUTES = {
    HEALTH_CHECK: "resilience",
    CONTINGENCY_ANALYSIS: "resilience",
    SEND_NOTIFICATION: "notifications",
    COLLECT_METRICS: "metrics",
    EXPORT_SCHEDULE: UNCONSUMED_QUEUE,
}

app = Celery("scheduler-gameday", broker=os.environ.get("GAMEDAY_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    # What the exporter needs, as the application configures it.
    worker_send_task_events=True,
    task_send_sent_event=True,
    # The application's worker settings (scheduler-metrics.md), except
    # concurrency: the test machines have 2 cores.
    worker_prefetch_multiplier=1,
    task_acks_late=False,
    task_ignore_result=True,
    task_time_limit=600,
    task_soft_time_limit=540,
    task_default_queue="default",
    task_routes={name: {"queue": queue} for name, queue in ROUTES.items()},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name=HEALTH_CHECK)
def periodic_health_check() -> str:
    time.sleep(random.uniform(0.2, 1.2))
    return "healthy"


@app.task(name=CONTINGENCY_ANALYSIS)
def run_contingency_analysis() -> str:
    time.sleep(random.uniform(1.0, 3.0))
    return "n1 ok, n2 ok"


class NotificationRelayRefused(RuntimeError):
    """The notification relay turned the message away (the failing task's exception)."""


@app.task(name=SEND_NOTIFICATION)
def send_notification(fail: bool = False) -> str:
    time.sleep(random.uniform(0.05, 0.3))
    if fail:
        raise NotificationRelayRefused("relay refused the message")
    return "sent"


@app.task(name=COLLECT_METRICS)
def collect_usage_metrics() -> str:
    time.sleep(random.uniform(0.05, 0.2))
    return "collected"


@app.task(name=EXPORT_SCHEDULE)
def export_schedule() -> str:
    time.sleep(0.5)
    return "exported"
