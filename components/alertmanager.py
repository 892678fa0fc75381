"""Alertmanager: routes alerts by severity, inhibits siblings, keeps silences."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi

from components import constants as c
from components.platform.base import File, HttpCheck, Outside, Platform, Resources, Workload
from components.platform.topology import topology
from components.renderers.command import Command
from components.service import Service
from components.settings import Secrets, Settings


@dataclass(frozen=True)
class AlertmanagerArgs:
    settings: Settings
    secrets: Secrets
    platform: Platform
    config: str                      # rendered alertmanager.yml
    templates: dict[str, str]        # notification templates, file name -> text
    command: Command                 # rendered arguments: files, retention, peer timeout
    peers: tuple[str, ...]           # gossip addresses of every replica (empty: no cluster)


class Alertmanager(Service):

    def __init__(self, name: str, args: AlertmanagerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("scheduler-monitoring:index:Alertmanager", name, None, opts)
        s = args.settings
        cluster_args: tuple[str, ...] = ("--cluster.listen-address=",)  # a lone instance gossips with nobody
        if args.peers:
            cluster_args = (f"--cluster.listen-address=0.0.0.0:{c.ALERTMANAGER_CLUSTER_PORT}",
                            *(f"--cluster.peer={peer}" for peer in args.peers))
        workload = Workload(
            name=name,
            image=s.alertmanager_image,
            args=(*args.command.args, *cluster_args),
            port=c.ALERTMANAGER_PORT,
            config_files=(
                File(f"{c.ALERTMANAGER_CONFIG_DIR}/alertmanager.yml", args.config),
                *(File(f"{c.ALERTMANAGER_TEMPLATES_DIR}/{n}", t) for n, t in sorted(args.templates.items())),
            ),
            secret_files=tuple(_secret_files(args.secrets)),
            data_path=c.ALERTMANAGER_DATA_DIR,
            data_size=s.alertmanager_storage_size,
            liveness=HttpCheck("/-/healthy"),
            readiness=HttpCheck("/-/ready"),
            startup_budget_seconds=120,
            replicas=s.alertmanager_replicas,
            cluster_port=c.ALERTMANAGER_CLUSTER_PORT if args.peers else None,
            cluster_peers=args.peers,
            addresses=topology(s).alertmanager,
            # Alerts and scrapes; and the sign-in proxy when it is published.
            admits=(c.PROMETHEUS, *((c.ALERTMANAGER_AUTH,) if s.alertmanager_ingress else ())),
            reaches_outside=_receivers_outside(s),
            run_as_user=65534,
            resources=Resources("50m", "64Mi", "500m", "256Mi"),
            host_port=s.alertmanager_port,
            health_command=("wget", "-q", "-O", "/dev/null", f"http://localhost:{c.ALERTMANAGER_PORT}/-/ready"),
        )
        self.run(args.platform, workload)


def _secret_files(secrets: Secrets) -> list[File]:
    """Each configured receiver secret as a file the config points to with *_file."""
    wanted: list[tuple[str, Any]] = [
        (c.PAGERDUTY_ROUTING_KEY_FILE, secrets.pagerduty_routing_key),
        (c.PAGERDUTY_CLINICAL_ROUTING_KEY_FILE, secrets.pagerduty_clinical_routing_key),
        (c.SLACK_WEBHOOK_URL_FILE, secrets.slack_webhook_url),
        (c.SLACK_CLINICAL_WEBHOOK_URL_FILE, secrets.slack_clinical_webhook_url),
        (c.SMTP_PASSWORD_FILE, secrets.smtp_password),
        (c.WATCHDOG_WEBHOOK_URL_FILE, secrets.watchdog_webhook_url),
    ]
    return [File(f"{c.ALERTMANAGER_SECRETS_DIR}/{name}", value) for name, value in wanted if value is not None]


# PagerDuty's Events API, Slack's webhooks and heartbeat services answer on HTTPS;
# their hosts sit in secrets or vary, so only the port can be named.
HTTPS = Outside(443)


def _receivers_outside(settings: Settings) -> tuple[Outside, ...]:
    """Where the switched-on receivers send notifications."""
    r = settings.receivers
    found: list[Outside] = []
    if r.pagerduty or r.slack or r.watchdog:
        found.append(HTTPS)
    if r.email and r.smtp_smarthost:
        found.append(Outside.host_port(r.smtp_smarthost))
    return tuple(found)
