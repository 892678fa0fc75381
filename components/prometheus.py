"""Prometheus: scrapes the scheduler, evaluates the rule groups, alerts Alertmanager."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components import constants as c
from components.platform.base import File, HttpCheck, Outside, Platform, Resources, Workload
from components.platform.topology import topology
from components.renderers.command import Command
from components.service import Service
from components.settings import Settings

# Sized for 100 times today's cardinality (README, Sizing), from `python -m
# benchmark` on the deployed release: at 100x a replica holds 270,000 head
# series in 1,705 MiB resident once its rules have settled, and peaked at
# 2,784 MiB (replaying its WAL at start, then serving 30-day dashboards of raw
# series). The request is the resident memory plus a quarter, the limit the
# peak plus half (each rounded up); Prometheus 3 sets its Go memory limit to
# 90 % of the container's, so it collects harder before it would be killed.
# Now that the dashboards read recorded series the benchmark measures 1,163 MiB
# resident and a 1,595 MiB peak; the margin is kept for ad-hoc queries of the
# raw series. CPU: every rule group together takes about 2.5 s of each minute
# at 100x.
RESOURCES = Resources(cpu_request="250m", memory_request="2304Mi", cpu_limit="2", memory_limit="4608Mi")


@dataclass(frozen=True)
class PrometheusArgs:
    settings: Settings
    platform: Platform
    command: Command                  # rendered arguments
    config: str                       # rendered prometheus.yml
    rule_files: tuple[File, ...]      # from RuleGroups


class Prometheus(Service):

    def __init__(self, name: str, args: PrometheusArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("scheduler-monitoring:index:Prometheus", name, None, opts)
        s = args.settings
        workload = Workload(
            name=name,
            image=s.prometheus_image,
            args=args.command.args,
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
            addresses=topology(s).prometheus,
            # Grafana queries it; each replica scrapes both (its own metrics and its partner's).
            admits=(c.GRAFANA, c.PROMETHEUS, *((c.PROMETHEUS_AUTH,) if s.prometheus_ingress else ())),
            # It scrapes every part of the stack and alerts every Alertmanager.
            reaches=((c.PROMETHEUS, c.PROMETHEUS_PORT), (c.ALERTMANAGER, c.ALERTMANAGER_PORT),
                     (c.GRAFANA, c.GRAFANA_PORT), (c.CELERY_EXPORTER, c.CELERY_EXPORTER_PORT)),
            reaches_outside=(Outside.host_port(s.backend_target),
                             *((Outside.url(s.remote_write_url),) if s.remote_write_url else ())),
            run_as_user=65534,
            resources=RESOURCES,
            host_port=s.prometheus_port,
            health_command=("wget", "-q", "-O", "/dev/null", f"http://localhost:{c.PROMETHEUS_PORT}/-/ready"),
        )
        self.run(args.platform, workload)
