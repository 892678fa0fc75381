"""Prometheus rule files as deployed: `rules/*.yml` with their link placeholders filled.

Every file in rules/ must be a rule file: one group per file, named after it,
ending in `.yml`. Anything else there is an error rather than a file silently
neither deployed nor tested.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from components.constants import GRAFANA_URL_TOKEN, PROMETHEUS_VOLUME_BYTES_TOKEN, RUNBOOK_BASE_URL_TOKEN
from components.renderers.folders import data_files
from components.settings import (
    PROJECT_DIR,
    InputError,
    Settings,
    duration_seconds,
    quantity_bytes,
    retention_size_bytes,
    settings_error,
    yaml_error_text,
)

RULES_DIR = PROJECT_DIR / "rules"
RULE_SUFFIX = ".yml"


def rule_files(directory: Optional[Path] = None) -> list[Path]:
    """Every rule file, in a stable order; InputError naming any other file in the folder."""
    directory = directory or RULES_DIR
    entries = data_files(directory, RULE_SUFFIX, holds="the Prometheus rule files", one="a rule file",
                         convention=f"rule files end in {RULE_SUFFIX} (one group per file)",
                         renameable=(".yaml", ".yml"))
    if not entries:
        raise InputError(f"{directory.name}/: no rule files")
    return entries


@dataclass(frozen=True)
class RuleTiming:
    """The shortest range window and `for:` of a set of rules, which bound the intervals."""
    shortest_window: Optional[float]
    shortest_for: Optional[float]


_RANGE = re.compile(r"\[\s*((?:\d+[a-z]+)+)\s*(?::[^\]]*)?\]")


def check_rule_file(name: str, text: str) -> dict:
    """The parsed rule file, or InputError naming the file, line and column of what is wrong."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(yaml_error_text(f"rules/{name}", error)) from None
    where = f"rules/{name}"
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise InputError(f"{where}: a rule file is a mapping with a `groups:` list")
    if len(document["groups"]) != 1:
        raise InputError(f"{where}: holds {len(document['groups'])} groups; one group per file, named after it")
    group = document["groups"][0]
    stem = name[: -len(RULE_SUFFIX)]
    if not isinstance(group, dict) or group.get("name") != stem:
        raise InputError(f"{where}: its group must be named {stem!r} after the file")
    if not isinstance(group.get("rules"), list) or not group["rules"]:
        raise InputError(f"{where}: group {stem} has no `rules:` list")
    for index, rule in enumerate(group["rules"], 1):
        kinds = [k for k in ("alert", "record") if isinstance(rule, dict) and k in rule]
        if len(kinds) != 1 or not isinstance(rule.get("expr"), str) or not rule["expr"].strip():
            raise InputError(f"{where}: rule {index} of group {stem} needs exactly one of alert/record "
                             "and an expr")
        for key in ("for", "keep_firing_for"):
            if key in rule:
                try:
                    duration_seconds(str(rule[key]))
                except ValueError:
                    raise InputError(f"{where}: {kinds[0]} {rule[kinds[0]]}: {key} {rule[key]!r} is not a "
                                     "Prometheus duration") from None
    return document


def rule_timing(documents: list[dict], *, without_interval_only: bool = False) -> RuleTiming:
    """Shortest range window and non-zero `for:` over the rules (only groups without their own
    interval, when `without_interval_only`)."""
    windows: list[float] = []
    holds: list[float] = []
    for document in documents:
        for group in document["groups"]:
            if without_interval_only and group.get("interval"):
                continue
            for rule in group["rules"]:
                windows += [duration_seconds(m) for m in _RANGE.findall(rule["expr"])]
                if rule.get("for") and duration_seconds(str(rule["for"])) > 0:
                    holds.append(duration_seconds(str(rule["for"])))
    return RuleTiming(min(windows, default=None), min(holds, default=None))


def prometheus_volume_bytes(settings: Settings) -> int:
    """How many bytes make a Prometheus data volume full, as far as the stack knows.

    On Kubernetes the claim's size. A Docker named volume lives on the host's
    disk, whose size the stack does not know; the disk budget it gives
    Prometheus there (retentionSize, read as Prometheus reads it) stands in.
    """
    if settings.on_kubernetes:
        return quantity_bytes(settings.prometheus_storage_size)
    return retention_size_bytes(settings.retention_size)


def render_rule_text(text: str, *, runbook_base_url: str, grafana_url: str, prometheus_volume_bytes: int) -> str:
    """Fill the link and volume-size placeholders; nothing else changes.

    Plain text replacement keeps the file byte-for-byte what the repository
    holds (comments included) apart from those values.
    """
    return (text.replace(RUNBOOK_BASE_URL_TOKEN, runbook_base_url.rstrip("/"))
                .replace(GRAFANA_URL_TOKEN, grafana_url.rstrip("/"))
                .replace(PROMETHEUS_VOLUME_BYTES_TOKEN, str(int(prometheus_volume_bytes))))


@dataclass(frozen=True)
class RuleFile:
    name: str
    text: str          # as the repository holds it
    document: dict     # parsed and checked


def load_rule_files(directory: Optional[Path] = None) -> list[RuleFile]:
    """Every rule file, read and checked."""
    loaded = []
    for path in rule_files(directory):
        try:
            text = path.read_text()
        except UnicodeDecodeError as error:
            raise InputError(f"rules/{path.name}: not UTF-8 text ({error.reason})") from None
        loaded.append(RuleFile(path.name, text, check_rule_file(path.name, text)))
    return loaded


def render_rule_files(settings: Settings, files: Optional[list[RuleFile]] = None, *,
                      runbook_base_url: Optional[str] = None) -> dict[str, str]:
    """File name -> deployed text, for every rule file (`runbook_base_url`: the setting with its revision filled)."""
    volume = prometheus_volume_bytes(settings)
    return {rule_file.name: render_rule_text(rule_file.text, grafana_url=settings.grafana_url,
                                             runbook_base_url=runbook_base_url or settings.runbook_base_url,
                                             prometheus_volume_bytes=volume)
            for rule_file in (files if files is not None else load_rule_files())}


def check_intervals(settings: Settings, files: list[RuleFile]) -> None:
    """The scrape and evaluation intervals the rules can work with, or a SettingsError naming the setting.

    A rate over a window needs several samples to survive one missed scrape
    (Grafana's $__rate_interval asks for four), and an alert on `up == 0`
    must need at least two failed scrapes before its `for:` elapses, or one
    blip pages. So the scrape interval is at most a quarter of the shortest
    range window and half the shortest `for:`. The evaluation interval governs
    the groups without their own: at most half their shortest `for:`, or the
    `for:` is rounded up to whole evaluations and means something else.
    """
    documents = [f.document for f in files]
    every = rule_timing(documents)
    scrape = duration_seconds(settings.scrape_interval)
    limits = [(every.shortest_window / 4, f"a quarter of the rules' shortest range window "
                                          f"({_seconds(every.shortest_window)})")] if every.shortest_window else []
    if every.shortest_for:
        limits.append((every.shortest_for / 2, f"half the rules' shortest for: ({_seconds(every.shortest_for)})"))
    if limits and scrape > min(limits)[0]:
        limit, why = min(limits)
        raise settings_error(settings, "scrapeInterval", f"is {settings.scrape_interval}; allowed: at most "
                             f"{_seconds(limit)}, {why}")
    governed = rule_timing(documents, without_interval_only=True)
    evaluation = duration_seconds(settings.evaluation_interval)
    if governed.shortest_for and evaluation > governed.shortest_for / 2:
        raise settings_error(settings, "evaluationInterval", f"is {settings.evaluation_interval}; allowed: at "
                             f"most {_seconds(governed.shortest_for / 2)}, half the shortest for: "
                             f"({_seconds(governed.shortest_for)}) of the rules it evaluates")


def _seconds(value: float) -> str:
    whole = int(value)
    return f"{whole // 60}m{whole % 60}s".replace("m0s", "m") if whole >= 60 and value == whole else f"{value:g}s"
