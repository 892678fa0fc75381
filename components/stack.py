"""MonitoringStack: the whole monitoring of the Residency Scheduler, composed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_random as random

from components import constants as c
from components.alertmanager import Alertmanager, AlertmanagerArgs
from components.auth_proxy import AuthProxy, AuthProxyArgs
from components.celery_exporter import CeleryExporter, CeleryExporterArgs
from components.grafana import Grafana, GrafanaArgs
from components.grafana_content import GrafanaContent, GrafanaContentArgs
from components.platform.base import Platform
from components.prometheus import Prometheus, PrometheusArgs
from components.render import Rendered
from components.renderers.auth_proxy import proxy_name, published_services
from components.renderers.dashboards import dashboard_folders
from components.renderers.grafana import datasource_definition
from components.rule_groups import RuleGroups, RuleGroupsArgs
from components.settings import Secrets


@dataclass(frozen=True)
class MonitoringStackArgs:
    rendered: Rendered               # every file the stack deploys (components.render)
    secrets: Secrets
    platform: Platform


class MonitoringStack(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringStackArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("scheduler-monitoring:index:MonitoringStack", name, None, opts)
        settings, files, topology = args.rendered.settings, args.rendered.files, args.rendered.topology
        child = pulumi.ResourceOptions(parent=self)

        def under(prefix: str) -> dict[str, str]:
            return {path[len(prefix):]: text for path, text in files.items() if path.startswith(prefix)}

        rules = RuleGroups(f"{name}-rules", RuleGroupsArgs(under("prometheus/rules/"), args.platform), opts=child)
        commands = args.rendered.commands
        prometheus = Prometheus(c.PROMETHEUS, PrometheusArgs(
            settings, args.platform, commands[c.PROMETHEUS], files["prometheus/prometheus.yml"], rules.files),
            opts=child)
        alertmanager = Alertmanager(c.ALERTMANAGER, AlertmanagerArgs(
            settings, args.secrets, args.platform, files["alertmanager/alertmanager.yml"],
            under("alertmanager/templates/"), commands[c.ALERTMANAGER], topology.alertmanager_peers),
            opts=child)

        admin_password = args.secrets.grafana_admin_password
        if admin_password is None:
            admin_password = _generated_secret(f"{name}-grafana-admin-password", 32, child)
        secret_key = args.secrets.grafana_secret_key
        if secret_key is None:
            secret_key = _generated_secret(f"{name}-grafana-secret-key", 40, child)
        grafana = Grafana(c.GRAFANA, GrafanaArgs(settings, args.platform, files["grafana/grafana.ini"],
                                                 admin_password, secret_key, args.secrets.oidc_client_secret),
                          opts=child)
        exporter = CeleryExporter(c.CELERY_EXPORTER, CeleryExporterArgs(
            settings, args.platform, commands[c.CELERY_EXPORTER], args.secrets.celery_broker_url),
            opts=child)
        content = GrafanaContent(f"{name}-content", GrafanaContentArgs(
            grafana_url=settings.grafana_url,
            admin_user=settings.grafana_admin_user,
            admin_password=admin_password,
            datasource=datasource_definition(settings, topology),
            dashboards=under("grafana/dashboards/"),
            folders=dashboard_folders(),
            grafana_ready=grafana.ready,
        ), opts=child)

        for published in published_services(settings):
            proxy = proxy_name(published.service)
            AuthProxy(proxy, AuthProxyArgs(
                settings, args.platform, commands[proxy], published, args.secrets.oidc_client_secret,
                _generated_secret(f"{name}-{proxy}-cookie-secret", 32, child)), opts=child)

        self.prometheus_url = prometheus.external_url
        self.alertmanager_url = alertmanager.external_url
        self.grafana_url = grafana.external_url
        self.exporter_url = exporter.internal_url
        self.dashboard_urls = content.dashboard_urls
        self.grafana_admin_password = pulumi.Output.secret(admin_password)
        self.register_outputs({
            "prometheus_url": self.prometheus_url,
            "alertmanager_url": self.alertmanager_url,
            "grafana_url": self.grafana_url,
            "dashboard_urls": self.dashboard_urls,
        })


def _generated_secret(name: str, length: int, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """A random value kept in state (stable across runs), secret wherever it flows."""
    password = random.RandomPassword(name, length=length, special=False, opts=opts)
    # The provider marks `result` secret too; saying it here keeps that true
    # whatever provider version or test double produces the value.
    return pulumi.Output.secret(password.result)
