"""Prometheus: scrapes the scheduler, evaluates the rule groups, alerts Alertmanager."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components import constants as c
from components.platform.base import File, HttpCheck, Platform, Resources, Workload
from components.settings import Settings, duration_seconds


# How alert state survives a restart. The game day runs the real binary with
# these same flags, so they live here once.
ALERT_STATE_FLAGS = (
    # A restart keeps firing alerts firing instead of restarting every `for:`
    # wait (the state is restored from the TSDB).
    "--rules.alert.for-outage-tolerance=1h",
    # Alerts whose `for:` is shorter than the grace period (default 10m) are
    # not restored after a restart, and restored ones wait at least the grace
    # period again: keep it to a fraction of one evaluation.
    "--rules.alert.for-grace-period=10s",
)


@dataclass(frozen=True)
class PrometheusArgs:
    settings: Settings
    platform: Platform
    config: str                       # rendered prometheus.yml
    rule_files: tuple[File, ...]      # from RuleGroups


class Prometheus(pulumi.ComponentResource):
    internal_url: pulumi.Output[str]
    external_url: pulumi.Output[str]

    def __init__(self, name: str, args: PrometheusArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("scheduler-monitoring:index:Prometheus", name, None, opts)
        s = args.settings
        workload = Workload(
            name=name,
            image=s.prometheus_image,
            args=(
                f"--config.file={c.PROMETHEUS_CONFIG_DIR}/prometheus.yml",
                f"--storage.tsdb.path={c.PROMETHEUS_DATA_DIR}",
                f"--storage.tsdb.retention.time={s.retention_time}",
                f"--storage.tsdb.retention.size={s.retention_size}",
                *ALERT_STATE_FLAGS,
            ),
            port=c.PROMETHEUS_PORT,
            config_files=(File(f"{c.PROMETHEUS_CONFIG_DIR}/prometheus.yml", args.config), *args.rule_files),
            data_path=c.PROMETHEUS_DATA_DIR,
            data_size=s.prometheus_storage_size,
            liveness=HttpCheck("/-/healthy"),
            readiness=HttpCheck("/-/ready"),
            # Replaying a large WAL after a crash takes minutes; killing it for
            # being slow to start would loop forever.
            startup_budget_seconds=900,
            replicas=s.prometheus_replicas,
            run_as_user=65534,
            resources=Resources("250m", "1Gi", "2", "4Gi"),
            host_port=s.prometheus_port,
            health_command=("wget", "-q", "-O", "/dev/null", f"http://localhost:{c.PROMETHEUS_PORT}/-/ready"),
        )
        placed = args.platform.place(workload, parent=self)
        self.internal_url = placed.internal_url
        self.external_url = placed.external_url
        self.ready = placed.ready
        self.register_outputs({"internal_url": self.internal_url, "external_url": self.external_url})


def scrape_budget_seconds(settings: Settings) -> float:
    return duration_seconds(settings.scrape_interval)
