"""Composition root: read the settings, render the files, declare the stack."""
import pulumi

from components.platform import create_platform
from components.render import render_stack
from components.settings import from_pulumi
from components.stack import MonitoringStack, MonitoringStackArgs

settings, secrets = from_pulumi()
rendered = render_stack(settings)
platform = create_platform(settings, "scheduler-monitoring")
stack = MonitoringStack("monitoring", MonitoringStackArgs(rendered, secrets, platform))

pulumi.export("prometheusUrl", stack.prometheus_url)
pulumi.export("alertmanagerUrl", stack.alertmanager_url)
pulumi.export("grafanaUrl", stack.grafana_url)
pulumi.export("dashboardUrls", stack.dashboard_urls)
pulumi.export("grafanaAdminUser", settings.grafana_admin_user)
pulumi.export("grafanaAdminPassword", stack.grafana_admin_password)
