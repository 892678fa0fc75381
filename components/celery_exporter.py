"""The Celery exporter: turns the broker's events and queues into metrics."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi

from components import constants as c
from components.platform.base import HttpCheck, Outside, Platform, Resources, Workload
from components.platform.topology import topology
from components.renderers.command import Command
from components.renderers.exporter import BROKER_URL_ENV
from components.service import Service
from components.settings import Settings

REDIS = (Outside(6379), Outside(6380))


@dataclass(frozen=True)
class CeleryExporterArgs:
    settings: Settings
    platform: Platform
    command: Command
    broker_url: Any               # secret Output


class CeleryExporter(Service):

    def __init__(self, name: str, args: CeleryExporterArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("scheduler-monitoring:index:CeleryExporter", name, None, opts)
        workload = Workload(
            name=name,
            image=args.settings.celery_exporter_image,
            args=args.command.args,
            port=c.CELERY_EXPORTER_PORT,
            secret_env={BROKER_URL_ENV: args.broker_url},
            liveness=HttpCheck("/health"),
            readiness=HttpCheck("/health"),
            startup_budget_seconds=60,
            replicas=1,   # two exporters would double-count every task event
            addresses=topology(args.settings).celery_exporter,
            admits=(c.PROMETHEUS,),
            # The broker's address is a secret (it carries the password): its
            # ports, plain and the usual TLS port of managed Redis, are all that can be named.
            reaches_outside=REDIS,
            run_as_user=65534,
            resources=Resources("50m", "64Mi", "500m", "256Mi"),
            # The image has Python but neither wget nor curl.
            health_command=("python", "-c", "import urllib.request as u; "
                            f"u.urlopen('http://localhost:{c.CELERY_EXPORTER_PORT}/health', timeout=4)"),
        )
        self.run(args.platform, workload)
