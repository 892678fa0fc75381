"""Write every file a stack deploys, for review, promtool/amtool and game days.

    python -m components.render STACK OUTDIR

Secrets are never written: receivers read theirs from files at run time, and
the exporter's broker URL travels as an environment variable.
"""
from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from components.platform import Topology, topology
from components.renderers.alertmanager import (render_alertmanager_config, render_alertmanager_flags,
                                               render_templates)
from components.renderers.dashboards import render_dashboards
from components.renderers.exporter import render_exporter_command
from components.renderers.grafana import render_datasource_provisioning, render_grafana_ini
from components.renderers.prometheus import render_prometheus_config
from components.renderers.rules import render_rule_files
from components.settings import Settings, SettingsError, from_stack_file


@dataclass(frozen=True)
class Rendered:
    """Every deployed file of one stack: relative path -> text."""
    settings: Settings
    topology: Topology
    files: dict[str, str]


def render_stack(settings: Settings) -> Rendered:
    where = topology(settings)
    files: dict[str, str] = {"prometheus/prometheus.yml": render_prometheus_config(settings, where)}
    rule_files = render_rule_files(settings)
    for name, text in rule_files.items():
        files[f"prometheus/rules/{name}"] = text
    files["alertmanager/alertmanager.yml"] = render_alertmanager_config(settings)
    files["alertmanager/flags.txt"] = render_alertmanager_flags(
        settings, rule_files, replicas=max(1, len(where.alertmanager_peers)))
    for name, text in render_templates().items():
        files[f"alertmanager/templates/{name}"] = text
    files["grafana/grafana.ini"] = render_grafana_ini(settings)
    files["grafana/provisioning/datasources/prometheus.yml"] = render_datasource_provisioning(settings, where)
    for name, text in render_dashboards().items():
        files[f"grafana/dashboards/{name}"] = text
    command = render_exporter_command(settings)
    files["celery-exporter/flags.txt"] = "\n".join(
        list(command.args) + [f"# secret environment: {name}" for name in command.secret_env_names]) + "\n"
    return Rendered(settings, where, files)


def flags_in(text: str) -> tuple[str, ...]:
    """The arguments in a rendered flags file (one or more per line; comments are not flags)."""
    args: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            args.extend(shlex.split(line))
    return tuple(args)


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
    except (SettingsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in write(rendered, Path(outdir)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
