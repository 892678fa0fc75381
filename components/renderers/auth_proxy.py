"""oauth2-proxy in front of Prometheus or Alertmanager: the same sign-in as Grafana's, by group.

Prometheus and Alertmanager have no sign-in of their own. When a stack
publishes one of them (prometheusIngress, alertmanagerIngress), its Ingress
leads to an oauth2-proxy that signs people in with the hospital's OIDC
provider and client (the ones Grafana uses) and lets through only the groups
the setting names; everything else stays behind the NetworkPolicies.
"""
from __future__ import annotations

from dataclasses import dataclass

from components import constants as c
from components.renderers.command import Command
from components.settings import Settings

CLIENT_SECRET_FILE = f"{c.AUTH_PROXY_SECRETS_DIR}/client_secret"
COOKIE_SECRET_FILE = f"{c.AUTH_PROXY_SECRETS_DIR}/cookie_secret"


@dataclass(frozen=True)
class Published:
    """A service published behind the sign-in proxy."""
    service: str            # what it fronts (c.PROMETHEUS, c.ALERTMANAGER)
    port: int
    url: str                # where people open it
    groups: tuple[str, ...]  # who may


def published_services(settings: Settings) -> list[Published]:
    """The services a stack publishes, each with the groups that may open it.

    Prometheus answers any query: every group that may see the dashboards may
    use it. Alertmanager's UI creates and expires silences: only editors and
    admins, the people who change what pages.
    """
    admins, editors_only, viewers_only = (settings.oidc_admin_groups or (), settings.oidc_editor_groups or (),
                                          settings.oidc_viewer_groups or ())
    viewers = (*admins, *editors_only, *viewers_only)
    editors = (*admins, *editors_only)
    found = []
    if settings.prometheus_ingress:
        found.append(Published(c.PROMETHEUS, c.PROMETHEUS_PORT, settings.prometheus_url, tuple(dict.fromkeys(viewers))))
    if settings.alertmanager_ingress:
        found.append(Published(c.ALERTMANAGER, c.ALERTMANAGER_PORT, settings.alertmanager_url,
                               tuple(dict.fromkeys(editors))))
    return found


def proxy_name(service: str) -> str:
    return {c.PROMETHEUS: c.PROMETHEUS_AUTH, c.ALERTMANAGER: c.ALERTMANAGER_AUTH}[service]


def render_auth_proxy_command(settings: Settings, published: Published, upstream: str) -> Command:
    """The proxy's arguments: sign in at the provider, then pass to `upstream` (the service's balanced address)."""
    return Command((
        f"--http-address=0.0.0.0:{c.AUTH_PROXY_PORT}",
        "--provider=oidc",
        f"--provider-display-name={settings.oidc_name}",
        f"--oidc-issuer-url={settings.oidc_issuer_url}",
        f"--client-id={settings.oidc_client_id}",
        f"--client-secret-file={CLIENT_SECRET_FILE}",
        f"--cookie-secret-file={COOKIE_SECRET_FILE}",
        f"--cookie-name=_{published.service}_sso",
        "--cookie-secure=true",
        f"--redirect-url={published.url}/oauth2/callback",
        f"--upstream={upstream}",
        # Membership of a group decides, not the e-mail's domain.
        "--email-domain=*",
        f"--oidc-groups-claim={settings.oidc_groups_claim}",
        *(f"--allowed-group={group}" for group in published.groups),
        f"--scope={' '.join(filter(None, ('openid profile email', settings.oidc_groups_scope)))}",
        "--code-challenge-method=S256",
        "--skip-provider-button=true",
        # Behind the ingress controller: take the client's address from its headers.
        "--reverse-proxy=true",
    ))
