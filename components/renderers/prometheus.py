"""prometheus.yml from settings and the stack's topology."""
from __future__ import annotations

import yaml

from components import constants as c
from components.platform.topology import Topology
from components.renderers.command import Command
from components.settings import Settings, duration_seconds

# The exporter's task counters that no rule or dashboard reads. Every task
# series carries the worker's hostname, and each deploy (a new pod name) adds a
# full set: these families are most of that growth and nothing uses them, so
# they are dropped at the scrape. What is read (succeeded, failed, runtime) is
# summed over hostname by the scheduler_tasks recording rules, which the
# panels and alerts use.
UNREAD_CELERY_TASK_FAMILIES = ("sent", "received", "started", "rejected", "revoked", "retried")
CELERY_METRIC_RELABEL_CONFIGS = [{
    "source_labels": ["__name__"],
    "regex": f"celery_task_({'|'.join(UNREAD_CELERY_TASK_FAMILIES)})_(total|created)",
    "action": "drop",
}]

# How alert state survives a restart.
ALERT_STATE_FLAGS = (
    # A restart keeps firing alerts firing instead of restarting every `for:`
    # wait (the state is restored from the TSDB).
    "--rules.alert.for-outage-tolerance=1h",
    # Alerts whose `for:` is shorter than the grace period (default 10m) are
    # not restored after a restart, and restored ones wait at least the grace
    # period again: keep it to a fraction of one evaluation.
    "--rules.alert.for-grace-period=10s",
)


def render_prometheus_command(settings: Settings) -> Command:
    """The arguments every Prometheus replica runs with."""
    return Command((
        f"--config.file={c.PROMETHEUS_CONFIG_DIR}/prometheus.yml",
        f"--storage.tsdb.path={c.PROMETHEUS_DATA_DIR}",
        f"--storage.tsdb.retention.time={settings.retention_time}",
        f"--storage.tsdb.retention.size={settings.retention_size}",
        *ALERT_STATE_FLAGS,
        # Alerts link here ("Source"); the API stays at / whatever path the URL has.
        f"--web.external-url={settings.prometheus_url}",
        "--web.route-prefix=/",
    ))


def render_prometheus_config(settings: Settings, topology: Topology) -> str:
    """The Prometheus configuration every replica of the stack runs with."""
    config: dict = {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "scrape_timeout": _scrape_timeout(settings.scrape_interval),
            "evaluation_interval": settings.evaluation_interval,
            # `replica` tells HA replicas apart in their own data and in remote
            # storage; it is dropped from alerts below so both replicas' copies of
            # one alert deduplicate in Alertmanager.
            "external_labels": {"env": settings.environment, "replica": topology.replica_label},
        },
        "alerting": {
            "alert_relabel_configs": [{"action": "labeldrop", "regex": "replica"}],
            # Every Alertmanager is listed on its own: alerts must reach each
            # replica directly (they deduplicate among themselves by gossip), not
            # one of them at random behind a load-balanced Service.
            "alertmanagers": [{
                "api_version": "v2",
                "timeout": "10s",
                "static_configs": [{"targets": list(topology.alertmanager)}],
            }],
        },
        "rule_files": [f"{c.PROMETHEUS_RULES_DIR}/*.yml"],
        "scrape_configs": [
            _job(c.JOB_PROMETHEUS, topology.prometheus),
            {
                **_job(c.JOB_BACKEND, (settings.backend_target,)),
                "scheme": settings.backend_scheme,
                "metrics_path": settings.backend_metrics_path,
            },
            {**_job(c.JOB_CELERY_EXPORTER, topology.celery_exporter),
             "metric_relabel_configs": CELERY_METRIC_RELABEL_CONFIGS},
            _job(c.JOB_ALERTMANAGER, topology.alertmanager),
            _job(c.JOB_GRAFANA, topology.grafana),
        ],
    }
    if settings.remote_write_url:
        config["remote_write"] = [{
            "url": settings.remote_write_url,
            # Each HA replica ships its own copy; the long-term store deduplicates
            # on the `replica` external label.
            "queue_config": {"max_samples_per_send": 2000},
        }]
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def _job(name: str, targets: tuple[str, ...]) -> dict:
    return {"job_name": name, "static_configs": [{"targets": list(targets)}]}


def _scrape_timeout(interval: str) -> str:
    """10s, or the interval itself when shorter (Prometheus rejects a longer timeout)."""
    return interval if duration_seconds(interval) < 10 else "10s"
