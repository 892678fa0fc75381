"""Grafana's server settings and the Prometheus datasource definition."""
from __future__ import annotations

import configparser
import io

import yaml

from components import constants as c
from components.platform.topology import Topology
from components.settings import Settings

ADMIN_PASSWORD_FILE = f"{c.GRAFANA_SECRETS_DIR}/admin_password"
SECRET_KEY_FILE = f"{c.GRAFANA_SECRETS_DIR}/secret_key"
OIDC_CLIENT_SECRET_FILE = f"{c.GRAFANA_SECRETS_DIR}/oidc_client_secret"
# Grafana's organisation roles, strongest first: a person in several groups gets the first that matches.
ROLE_GROUPS = (("Admin", "oidc_admin_groups"), ("Editor", "oidc_editor_groups"), ("Viewer", "oidc_viewer_groups"))


def _jmespath_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def role_attribute_path(settings: Settings) -> str:
    """The JMESPath that maps the groups claim to a Grafana role (no match: no role, no access)."""
    claim = settings.oidc_groups_claim
    terms = [f"contains({claim}[*], {_jmespath_string(group)}) && '{role}'"
             for role, field in ROLE_GROUPS for group in (getattr(settings, field) or ())]
    return " || ".join(terms)


def _single_sign_on(settings: Settings) -> dict[str, dict[str, str]]:
    """Sections for sign-in through the hospital's OIDC provider; the local admin stays for break-glass."""
    groups = sorted({g for _, field in ROLE_GROUPS for g in (getattr(settings, field) or ())})
    return {
        "auth": {
            # Straight to the provider; the admin reaches the form with /login?disableAutoLogin=true.
            "oauth_auto_login": "true",
            "disable_login_form": "false",
            "oauth_allow_insecure_email_lookup": "false",
        },
        "auth.generic_oauth": {
            "enabled": "true",
            "name": settings.oidc_name,
            "client_id": settings.oidc_client_id,
            "client_secret": f"$__file{{{OIDC_CLIENT_SECRET_FILE}}}",
            "scopes": f"openid profile email {settings.oidc_groups_scope}".strip(),
            "auth_url": settings.oidc_auth_url,
            "token_url": settings.oidc_token_url,
            "api_url": settings.oidc_userinfo_url,
            "use_pkce": "true",
            "use_refresh_token": "true",
            # Accounts are made on first sign-in, for members of the allowed groups only.
            "allow_sign_up": "true",
            "groups_attribute_path": f"{settings.oidc_groups_claim}[*]",
            "allowed_groups": " ".join(groups),
            "role_attribute_path": role_attribute_path(settings),
            # A person whose groups map to no role is refused, not made a Viewer.
            "role_attribute_strict": "true",
            # Grafana server administration stays with the break-glass admin.
            "allow_assign_grafana_admin": "false",
            "skip_org_role_sync": "false",
        },
    }


def render_grafana_ini(settings: Settings) -> str:
    """grafana.ini: locked down, credentials read from secret files at start."""
    ini = configparser.ConfigParser(interpolation=None)
    ini["server"] = {"http_port": str(c.GRAFANA_PORT), "root_url": settings.grafana_url + "/"}
    ini["security"] = {
        "admin_user": settings.grafana_admin_user,
        # Grafana expands $__file{} itself, so the values never sit in this file.
        "admin_password": f"$__file{{{ADMIN_PASSWORD_FILE}}}",
        "secret_key": f"$__file{{{SECRET_KEY_FILE}}}",
        # Browsers accept Secure cookies on http://localhost too, so dev keeps them.
        "cookie_secure": "true",
        # The provider's redirect back to Grafana is a cross-site navigation:
        # a strict cookie would not come along and every sign-in would fail.
        "cookie_samesite": "lax" if settings.oidc_enabled else "strict",
        "disable_gravatar": "true",
        "disable_initial_admin_creation": "false",
    }
    ini["auth.anonymous"] = {"enabled": "false"}
    if settings.oidc_enabled:
        for section, values in _single_sign_on(settings).items():
            ini[section] = values
    ini["users"] = {"allow_sign_up": "false", "allow_org_create": "false"}
    ini["analytics"] = {
        "reporting_enabled": "false",
        "check_for_updates": "false",
        "check_for_plugin_updates": "false",
        "feedback_links_enabled": "false",
    }
    ini["snapshots"] = {"external_enabled": "false"}
    ini["paths"] = {"data": c.GRAFANA_DATA_DIR, "provisioning": c.GRAFANA_PROVISIONING_DIR}
    ini["log"] = {"mode": "console"}
    out = io.StringIO()
    ini.write(out)
    return out.getvalue()


def datasource_definition(settings: Settings, topology: Topology) -> dict:
    """The Prometheus datasource, as both the Pulumi resource and the provisioning file state it."""
    return {
        "name": c.DATASOURCE_NAME,
        "uid": c.DATASOURCE_UID,
        "type": "prometheus",
        "access": "proxy",
        "url": topology.prometheus_url,
        "isDefault": True,
        "jsonData": {
            # Lets $__rate_interval cover at least four scrapes.
            "timeInterval": settings.scrape_interval,
            "httpMethod": "POST",
        },
    }


def render_datasource_provisioning(settings: Settings, topology: Topology) -> str:
    """The same datasource in Grafana's provisioning format, for review and for Grafana without Pulumi."""
    return yaml.safe_dump({"apiVersion": 1, "datasources": [{**datasource_definition(settings, topology),
                                                             "editable": False}]},
                          sort_keys=False)
