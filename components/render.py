"""Write every file a stack deploys, for review, promtool/amtool and game days.

    python -m components.render STACK OUTDIR

Secrets are never written: receivers read theirs from files at run time, and
the exporter's broker URL travels as an environment variable.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from components import constants as c
from components import settings as settings_module
from components.platform.topology import Topology, topology
from components.renderers.alertmanager import render_alertmanager_command, render_alertmanager_config, render_templates
from components.renderers.auth_proxy import proxy_name, published_services, render_auth_proxy_command
from components.renderers.command import Command
from components.renderers.dashboards import render_dashboards
from components.renderers.exporter import render_exporter_command
from components.renderers.grafana import render_datasource_provisioning, render_grafana_ini
from components.renderers.prometheus import render_prometheus_command, render_prometheus_config
from components.renderers.rules import check_intervals, load_rule_files, render_rule_files
from components.renderers.slos import slo_rule_file
from components.revision import REVISION_TOKEN, runbooks_revision
from components.settings import InputError, Settings, from_stack_file


@dataclass(frozen=True)
class Rendered:
    """Every deployed file of one stack (relative path -> text) and each service's command."""
    settings: Settings
    topology: Topology
    files: dict[str, str]
    commands: dict[str, Command]     # service name -> its arguments (also in files as <service>/flags.txt)


def render_stack(settings: Settings) -> Rendered:
    where = topology(settings)
    files: dict[str, str] = {"prometheus/prometheus.yml": render_prometheus_config(settings, where)}
    loaded_rules = load_rule_files()
    # The SLO group is generated from slos/*.yml with the stack's objectives,
    # then deployed and bounded like any group of rules/.
    loaded_rules.append(slo_rule_file(settings, taken=tuple(f.name for f in loaded_rules)))
    check_intervals(settings, loaded_rules)
    runbooks = settings.runbook_base_url
    if REVISION_TOKEN in runbooks:
        runbooks = runbooks.replace(REVISION_TOKEN, runbooks_revision(settings_module.PROJECT_DIR))
    rule_files = render_rule_files(settings, loaded_rules, runbook_base_url=runbooks)
    for name, text in rule_files.items():
        files[f"prometheus/rules/{name}"] = text
    files["alertmanager/alertmanager.yml"] = render_alertmanager_config(settings)
    for name, text in render_templates().items():
        files[f"alertmanager/templates/{name}"] = text
    files["grafana/grafana.ini"] = render_grafana_ini(settings)
    files["grafana/provisioning/datasources/prometheus.yml"] = render_datasource_provisioning(settings, where)
    for name, text in render_dashboards().items():
        files[f"grafana/dashboards/{name}"] = text
    commands = {
        c.PROMETHEUS: render_prometheus_command(settings),
        c.ALERTMANAGER: render_alertmanager_command(settings, rule_files,
                                                    replicas=max(1, len(where.alertmanager_peers))),
        c.CELERY_EXPORTER: render_exporter_command(settings),
        **{proxy_name(p.service): render_auth_proxy_command(
            settings, p, {c.PROMETHEUS: where.prometheus_url, c.ALERTMANAGER: where.alertmanager_url}[p.service])
           for p in published_services(settings)},
    }
    for service, command in commands.items():
        files[f"{service}/flags.txt"] = command.text("components.render")
    return Rendered(settings, where, files, commands)


def write(rendered: Rendered, outdir: Path) -> list[Path]:
    written = []
    for relative, text in sorted(rendered.files.items()):
        path = outdir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m components.render STACK OUTDIR", file=sys.stderr)
        return 2
    stack, outdir = argv
    try:
        settings, _ = from_stack_file(stack)
        rendered = render_stack(settings)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        written = write(rendered, Path(outdir))
    except OSError as error:
        print(f"error: cannot write {outdir}: {error.strerror or error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
