"""Grafana: the dashboards' server, locked down, credentials from secrets."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi

from components import constants as c
from components.platform.base import File, HttpCheck, Outside, Platform, Resources, Workload
from components.platform.topology import topology
from components.renderers.grafana import ADMIN_PASSWORD_FILE, OIDC_CLIENT_SECRET_FILE, SECRET_KEY_FILE
from components.service import Service
from components.settings import Settings


@dataclass(frozen=True)
class GrafanaArgs:
    settings: Settings
    platform: Platform
    config: str                  # rendered grafana.ini
    admin_password: Any          # secret Output
    secret_key: Any              # secret Output
    oidc_client_secret: Any = None   # secret Output, with single sign-on


class Grafana(Service):

    def __init__(self, name: str, args: GrafanaArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("scheduler-monitoring:index:Grafana", name, None, opts)
        s = args.settings
        workload = Workload(
            name=name,
            image=s.grafana_image,
            args=(),
            port=c.GRAFANA_PORT,
            env={"GF_PATHS_CONFIG": "/etc/grafana/grafana.ini"},
            config_files=(File("/etc/grafana/grafana.ini", args.config),),
            secret_files=(File(ADMIN_PASSWORD_FILE, args.admin_password),
                          File(SECRET_KEY_FILE, args.secret_key),
                          *((File(OIDC_CLIENT_SECRET_FILE, args.oidc_client_secret),) if s.oidc_enabled else ())),
            data_path=c.GRAFANA_DATA_DIR,
            data_size=s.grafana_storage_size,
            liveness=HttpCheck("/api/health"),
            readiness=HttpCheck("/api/health"),
            # Database migrations on an upgrade can take a few minutes.
            startup_budget_seconds=300,
            replicas=1,   # SQLite on one volume: a second replica would corrupt it
            addresses=topology(s).grafana,
            admits=(c.PROMETHEUS,),                      # scraped
            reaches=((c.PROMETHEUS, c.PROMETHEUS_PORT),),  # the datasource
            # Sign-in: the pods exchange codes for tokens and read the person's groups.
            reaches_outside=(Outside.url(s.oidc_token_url), Outside.url(s.oidc_userinfo_url)) if s.oidc_enabled else (),
            published_url=s.grafana_url,
            published_tls_secret=s.grafana_tls_secret_name,
            run_as_user=472,
            resources=Resources("100m", "256Mi", "1", "1Gi"),
            host_port=s.grafana_port,
            health_command=("wget", "-q", "-O", "/dev/null", f"http://localhost:{c.GRAFANA_PORT}/api/health"),
        )
        self.run(args.platform, workload)
