"""The change report between two revisions, as Markdown."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from alerting.routing import check as check_alertmanager_config
from alerting.routing import receivers_for
from changes import dashboards, routing, rules, services, slos, stack_settings
from changes.markdown import changed_paths, code, named_changes

MARKER = "<!-- scheduler-monitoring:change-report -->"
PROBE = (Path(__file__).parent / "probe.py").read_text()
PROBE_TIMEOUT_SECONDS = 120
ESSENTIALS = ("expr", "threshold", "for", "severity", "page")


@dataclass
class Snapshot:
    """Everything the report compares, read from one revision's files."""
    label: str
    rules: rules.RuleSet
    dashboards: dict
    stacks: dict
    probe: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def routing(self, stack: str) -> tuple[Optional[dict], Optional[str], Optional[str]]:
        """(Alertmanager config, environment label, error) of one stack at this revision."""
        entry = (self.probe.get("stacks") or {}).get(stack) or {}
        error = entry.get("error") or (self.probe.get("error") if stack in self.stacks else None)
        try:
            config = routing.load(entry.get("alertmanager"))
        except Exception as failure:        # YAML errors and a non-mapping result alike
            config, error = None, f"the rendered alertmanager.yml does not parse ({failure})"
        else:
            try:
                if config is not None:
                    check_alertmanager_config(config)
            except Exception as failure:    # a matcher or a duration Alertmanager would refuse
                config, error = None, f"Alertmanager would refuse the rendered alertmanager.yml ({failure})"
        return config, entry.get("environment") or stack, error

    def service_side(self, stack: str) -> services.Side:
        """Images and commands of one stack at this revision."""
        return services.Side.of(self.label, (self.probe.get("stacks") or {}).get(stack) or {})


def _probe(tree: Path, stacks: list[str], runbooks_revision: Optional[str] = None) -> dict:
    if not (tree / "components" / "settings.py").exists():
        return {}
    env = dict(os.environ)
    if runbooks_revision:
        # An exported tree has no git history: say which runbooks its alerts link to.
        env["SCHEDULER_MONITORING_RUNBOOKS_REVISION"] = runbooks_revision
    with tempfile.TemporaryDirectory(prefix="changes-probe-") as directory:
        out = Path(directory) / "probe.json"
        # `-c` puts the revision's own tree first on sys.path, so its `components` is the one imported.
        result = subprocess.run([sys.executable, "-c", PROBE, str(out), str(tree), *stacks], cwd=tree, env=env,
                                capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS)
        if result.returncode != 0 or not out.exists():
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            return {"error": f"rendering failed: {last}", "stacks": {}}
        return json.loads(out.read_text())


def snapshot(tree: Path, label: str, runbooks_revision: Optional[str] = None) -> Snapshot:
    rule_set = rules.load(tree)
    boards, board_problems = dashboards.load(tree)
    stacks, stack_problems = stack_settings.load(tree)
    return Snapshot(label, rule_set, boards, stacks, _probe(tree, sorted(stacks), runbooks_revision),
                    rule_set.problems + board_problems + stack_problems)


# --------------------------------------------------------------------------
# Sections. Each returns Markdown lines, or nothing when it has nothing to say.
# --------------------------------------------------------------------------
def _rule_section(title: str, changes: list[rules.RuleChange]) -> list[str]:
    if not changes:
        return []
    lines = [f"### {title}", ""]
    for change in changes:
        lines.append(f"- **{change.status}**: {rules.sentence(change)}")
        # A removed rule needs no details; an added one only its essentials
        # (its labels and annotations are in the diff of the rule file).
        shown = () if change.status == "removed" else ESSENTIALS if change.status == "added" else None
        for item in change.fields:
            if shown is not None and item.field not in shown:
                continue
            lines.append(f"  - {item.field}: {code(item.before)} → {code(item.after)}")
    return lines + [""]


def _alert_labels(rule: rules.Rule, environment: str) -> dict[str, str]:
    # What Alertmanager receives: the rule's labels, its name, and the `env`
    # external label (`replica` is dropped before sending). Labels that come
    # from the query's result are unknown here.
    return {**rule.labels, "alertname": rule.name, "env": environment}


def _reached(config: Optional[dict], rule: Optional[rules.Rule], environment: str) -> Optional[str]:
    if config is None or rule is None:
        return None
    reached = receivers_for(config, _alert_labels(rule, environment))
    return ", ".join(dict.fromkeys(name or "(no receiver)" for name in reached))


def _routing_section(before: Snapshot, after: Snapshot) -> list[str]:
    lines: list[str] = []
    for stack in sorted(set(before.stacks) | set(after.stacks)):
        old_config, old_env, old_error = before.routing(stack)
        new_config, new_env, new_error = after.routing(stack)
        body: list[str] = []
        for label, error in ((before.label, old_error), (after.label, new_error)):
            if error:
                body.append(f"- routing could not be rendered at {label}: {code(error)}")
        if old_config is None and new_config is None:
            if body:
                lines += [f"### Routing and inhibition (`{stack}`)", "", *body, ""]
            continue
        if old_config is None:
            body.append(f"- Alertmanager routing is new at {after.label}")
        elif new_config is None:
            body.append(f"- Alertmanager routing is gone at {after.label}")
        old_kinds = routing.receiver_kinds(old_config or {})
        new_kinds = routing.receiver_kinds(new_config or {})
        old_receivers = {str(r.get("name")): r for r in (old_config or {}).get("receivers") or []}
        new_receivers = {str(r.get("name")): r for r in (new_config or {}).get("receivers") or []}
        body += [f"- {line}" for line in named_changes(
            "receiver", {name: old_receivers[name] for name in old_kinds},
            {name: new_receivers[name] for name in new_kinds},
            added=lambda receiver: f" ({new_kinds[str(receiver.get('name'))]})")]
        for key in ("global", "templates", "time_intervals", "mute_time_intervals"):
            old_value, new_value = (old_config or {}).get(key), (new_config or {}).get(key)
            if old_value != new_value:
                paths = changed_paths({key: old_value}, {key: new_value})
                body.append(f"- `{key}` changed: " + ", ".join(f"`{p}`" for p in paths))
        old_routes = routing.route_outline(old_config["route"]) if old_config and old_config.get("route") else []
        new_routes = routing.route_outline(new_config["route"]) if new_config and new_config.get("route") else []
        if old_routes != new_routes:
            body += ["", "Route tree (`-` before, `+` after):", "", "```diff",
                     *routing.unified(old_routes, new_routes), "```", ""]
        old_inhibit = routing.inhibit_outline(old_config or {})
        new_inhibit = routing.inhibit_outline(new_config or {})
        if old_inhibit != new_inhibit:
            body += ["", "Inhibition rules:", "", "```diff", *routing.unified(old_inhibit, new_inhibit), "```", ""]
        moved = []
        for key in sorted(after.rules.rules, key=lambda k: (k[1].lower(), k[2])):
            new_rule = after.rules.rules[key]
            if new_rule.kind != "alert":
                continue
            old_rule = before.rules.rules.get(key)
            was = _reached(old_config, old_rule, old_env)
            now = _reached(new_config, new_rule, new_env)
            if was != now:
                previous = "(new alert)" if old_rule is None else "(no routing)" if was is None else f"`{was}`"
                moved.append(f"| {new_rule.name} | {new_rule.labels.get('severity', '')} | {previous} | "
                             f"{'(no routing)' if now is None else f'`{now}`'} |")
        if moved:
            body += ["", "Alerts whose receiver changed (from each revision's rule labels and routing):", "",
                     "| alert | severity | before | after |", "| --- | --- | --- | --- |", *moved, ""]
        body += _tier_table(before, after, old_config, new_config, old_env, new_env)
        if body:
            lines += [f"### Routing and inhibition (`{stack}`)", "", *body, ""]
    return lines


SEVERITIES = ("critical", "warning", "info")


def _tier_table(before: Snapshot, after: Snapshot, old_config: Optional[dict], new_config: Optional[dict],
                old_env: str, new_env: str) -> list[str]:
    """Who gets each tier's alerts, per severity, when that changed: the on-call rotas read this."""
    tiers = sorted({rule.labels.get("tier", "") for snapshot in (before, after)
                    for rule in snapshot.rules.rules.values() if rule.kind == "alert"} - {""})

    def where(config: Optional[dict], env: str, tier: str, severity: str) -> str:
        if config is None:
            return "(no routing)"
        labels = {"alertname": "", "severity": severity, "tier": tier, "env": env}
        return ", ".join(dict.fromkeys(name or "(no receiver)"
                                       for name in receivers_for(config, labels)))

    rows, changed = [], False
    for tier in tiers:
        cells = []
        for severity in SEVERITIES:
            was, now = where(old_config, old_env, tier, severity), where(new_config, new_env, tier, severity)
            changed |= was != now
            cells.append(f"`{now}`" if was == now else f"`{was}` → `{now}`")
        rows.append(f"| {tier} | " + " | ".join(cells) + " |")
    if not changed:
        return []
    return ["", "Where each tier's alerts go, by severity:", "",
            "| tier | " + " | ".join(SEVERITIES) + " |", "| --- |" + " --- |" * len(SEVERITIES), *rows, ""]


def _dashboard_section(before: Snapshot, after: Snapshot) -> list[str]:
    changes = dashboards.compare(before.dashboards, after.dashboards)
    if not changes:
        return []
    lines = ["### Dashboards", ""]
    for change in changes:
        lines.append(f"- **{change.title}** ({change.status})")
        lines += [f"  - {line}" for line in change.lines]
    return lines + [""]


def _services_section(before: Snapshot, after: Snapshot) -> list[str]:
    stacks = sorted(set(before.stacks) & set(after.stacks))
    lines = services.compare(stacks, {stack: before.service_side(stack) for stack in stacks},
                             {stack: after.service_side(stack) for stack in stacks})
    return ["### Images and flags", "", *lines, ""] if lines else []


def _settings_section(before: Snapshot, after: Snapshot) -> list[str]:
    # A key is secret if either revision's settings table says so: a key that
    # stops being secret must still not have its old value printed.
    secret_keys = set(before.probe.get("secret_keys") or []) | set(after.probe.get("secret_keys") or [])
    defaults = {**(before.probe.get("defaults") or {}), **(after.probe.get("defaults") or {})}
    per_stack = stack_settings.compare(before.stacks, after.stacks, secret_keys, defaults)
    if not per_stack:
        return []
    lines = ["### Settings", ""]
    for stack, changes in per_stack.items():
        lines.append(f"- `{stack}`")
        lines += [f"  - {line}" for line in changes]
    return lines + [""]


def _slo_section(before: Snapshot, after: Snapshot) -> list[str]:
    stacks = sorted(set(before.stacks) | set(after.stacks))

    def effective(snapshot: Snapshot) -> dict:
        return {stack: ((snapshot.probe.get("stacks") or {}).get(stack) or {}).get("slos") for stack in stacks}
    lines = slos.compare(stacks, effective(before), effective(after))
    for snapshot in (before, after):
        for stack in stacks:
            error = ((snapshot.probe.get("stacks") or {}).get(stack) or {}).get("slos_error")
            if error:
                lines.append(f"SLOs could not be read at {snapshot.label}: {code(error)} ({stack}).")
    return ["### Service-level objectives", "", *[f"- {line}" for line in lines], ""] if lines else []


def build(before: Snapshot, after: Snapshot) -> str:
    rule_changes = rules.compare(before.rules, after.rules)
    sections = [
        *_rule_section("Alerts", [c for c in rule_changes if c.rule.kind == "alert"]),
        *_rule_section("Recording rules", [c for c in rule_changes if c.rule.kind == "record"]),
    ]
    groups = rules.compare_groups(before.rules, after.rules)
    if groups:
        sections += ["### Rule groups", "", *[f"- {line}" for line in groups], ""]
    sections += _routing_section(before, after)
    sections += _dashboard_section(before, after)
    sections += _services_section(before, after)
    sections += _slo_section(before, after)
    sections += _settings_section(before, after)
    new_problems = [p for p in after.problems if p not in before.problems]
    if new_problems:
        sections += ["### Files that could not be read", "", *[f"- {p}" for p in new_problems], ""]
    header = [MARKER, "## Monitoring changes", "", f"Comparing {before.label} with {after.label}.", ""]
    if not sections:
        return "\n".join([*header, "No monitoring changes."]) + "\n"
    # Sections glue optional parts together; never more than one blank line between them.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(header + sections)).rstrip() + "\n"


def shorten(text: str, limit: int) -> str:
    """The report cut at a line boundary to at most `limit` characters, saying so at the end."""
    if len(text) <= limit:
        return text
    note = ("\n\n_The report is longer than a comment can hold; run "
            "`python -m changes <base> <head>` for all of it._\n")
    kept = text[: max(0, limit - len(note))]
    kept = kept[: kept.rfind("\n")] if "\n" in kept else kept
    # An open ``` fence would swallow the note.
    if kept.count("```") % 2:
        kept += "\n```"
    return kept + note
