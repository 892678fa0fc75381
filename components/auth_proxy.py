"""AuthProxy: the sign-in in front of a published Prometheus or Alertmanager (oauth2-proxy)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi

from components import constants as c
from components.platform.base import File, HttpCheck, Outside, Platform, Resources, Workload
from components.renderers.auth_proxy import CLIENT_SECRET_FILE, COOKIE_SECRET_FILE, Published
from components.renderers.command import Command
from components.service import Service
from components.settings import Settings


@dataclass(frozen=True)
class AuthProxyArgs:
    settings: Settings
    platform: Platform
    command: Command            # rendered arguments
    published: Published        # what it fronts, where, for whom
    client_secret: Any          # secret Output: the OIDC client's, shared with Grafana
    cookie_secret: Any          # secret Output: encrypts its session cookies


class AuthProxy(Service):
    def __init__(self, name: str, args: AuthProxyArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("scheduler-monitoring:index:AuthProxy", name, None, opts)
        s, published = args.settings, args.published
        self.run(args.platform, Workload(
            name=name,
            image=s.auth_proxy_image,
            args=args.command.args,
            port=c.AUTH_PROXY_PORT,
            secret_files=(File(CLIENT_SECRET_FILE, args.client_secret), File(COOKIE_SECRET_FILE, args.cookie_secret)),
            liveness=HttpCheck("/ping"),
            readiness=HttpCheck("/ready"),
            startup_budget_seconds=60,
            # Sessions live in the cookies, so either replica serves anyone; two
            # keep the page reachable while a node drains.
            replicas=2,
            run_as_user=65532,
            resources=Resources("20m", "32Mi", "200m", "128Mi"),
            reaches=((published.service, published.port),),
            # The provider's discovery, keys and token endpoints.
            reaches_outside=(Outside.url(s.oidc_issuer_url),),
            published_url=published.url,
        ))
