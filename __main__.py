"""Composition root: read the settings, render the files, declare the stack."""
import pulumi

from components.platform import create_platform
from components.render import render_stack
from components.settings import InputError, from_pulumi
from components.stack import MonitoringStack, MonitoringStackArgs

try:
    settings, secrets = from_pulumi()
    rendered = render_stack(settings)
except InputError as error:
    # Bad input stops the program before any resource, with the message only:
    # RunError is how a Pulumi program ends without a stack trace.
    raise pulumi.RunError(str(error)) from None
platform = create_platform(settings, "scheduler-monitoring")
stack = MonitoringStack("monitoring", MonitoringStackArgs(rendered, secrets, platform))

pulumi.export("prometheusUrl", stack.prometheus_url)
pulumi.export("alertmanagerUrl", stack.alertmanager_url)
pulumi.export("grafanaUrl", stack.grafana_url)
pulumi.export("dashboardUrls", stack.dashboard_urls)
pulumi.export("grafanaAdminUser", settings.grafana_admin_user)
pulumi.export("grafanaAdminPassword", stack.grafana_admin_password)
