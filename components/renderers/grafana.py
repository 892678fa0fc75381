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
        "cookie_samesite": "strict",
        "disable_gravatar": "true",
        "disable_initial_admin_creation": "false",
    }
    ini["auth.anonymous"] = {"enabled": "false"}
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
