"""Grafana dashboards of one revision, and what changed between two, panel by panel."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from changes.markdown import changed_paths, named_changes
from changes.markdown import code as _code

# Panel keys that get a line of their own; every other key is listed by path.
_PANEL_OWN_KEYS = ("id", "title", "type", "gridPos", "targets", "fieldConfig", "panels")
# Grafana rewrites these on every save, so a change in them says nothing.
_VOLATILE = ("id", "version", "iteration")


@dataclass
class Dashboard:
    key: str                    # uid, or the file name when there is none
    file: str
    model: dict
    panels: dict[Any, dict] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.model.get("title", self.key))


def _panels(model: dict) -> dict[Any, dict]:
    """Every panel by id, rows' nested panels included (collapsed rows keep theirs inside)."""
    found: dict[Any, dict] = {}
    for panel in model.get("panels") or []:
        if not isinstance(panel, dict):
            continue
        found[panel.get("id", f"untitled {panel.get('title')}")] = panel
        for child in panel.get("panels") or []:
            if isinstance(child, dict):
                found[child.get("id", f"untitled {child.get('title')}")] = child
    return found


def load(tree: Path) -> tuple[dict[str, Dashboard], list[str]]:
    dashboards, problems = {}, []
    for path in sorted((tree / "dashboards").glob("*.json")):
        relative = f"dashboards/{path.name}"
        try:
            model = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            problems.append(f"{relative} is not valid JSON ({error})")
            continue
        if not isinstance(model, dict):
            problems.append(f"{relative} is not a dashboard object")
            continue
        key = str(model.get("uid") or path.stem)
        dashboards[key] = Dashboard(key, relative, model, _panels(model))
    return dashboards, problems


def _change(label: str, before: Any, after: Any) -> Optional[str]:
    return None if before == after else f"{label}: {_code(before)} → {_code(after)}"


def _grid(panel: dict) -> Optional[str]:
    grid = panel.get("gridPos") or {}
    if not grid:
        return None
    return f"x={grid.get('x')} y={grid.get('y')} w={grid.get('w')} h={grid.get('h')}"


def _targets(panel: dict) -> dict[str, dict]:
    return {str(t.get("refId", index)): t for index, t in enumerate(panel.get("targets") or [])
            if isinstance(t, dict)}


def _defaults(panel: dict) -> dict:
    return ((panel.get("fieldConfig") or {}).get("defaults")) or {}


def _steps(panel: dict) -> Optional[str]:
    thresholds = _defaults(panel).get("thresholds") or {}
    steps = thresholds.get("steps")
    if not steps:
        return None
    text = ", ".join(f"{s.get('color')}≥{s.get('value')}" if s.get("value") is not None else f"{s.get('color')}"
                     for s in steps if isinstance(s, dict))
    return f"{thresholds.get('mode', 'absolute')}: {text}"


def _panel_lines(old: dict, new: dict) -> list[str]:
    lines = []
    for label, before, after in (
        ("title", old.get("title"), new.get("title")),
        ("type", old.get("type"), new.get("type")),
        ("moved/resized", _grid(old), _grid(new)),
        ("unit", _defaults(old).get("unit"), _defaults(new).get("unit")),
        ("thresholds", _steps(old), _steps(new)),
        ("min", _defaults(old).get("min"), _defaults(new).get("min")),
        ("max", _defaults(old).get("max"), _defaults(new).get("max")),
    ):
        line = _change(label, before, after)
        if line:
            lines.append(line)
    old_targets, new_targets = _targets(old), _targets(new)
    for ref in sorted(set(old_targets) | set(new_targets)):
        before, after = old_targets.get(ref), new_targets.get(ref)
        if before is None:
            lines.append(f"query {ref} added: {_code(after.get('expr'))}")
        elif after is None:
            lines.append(f"query {ref} removed: {_code(before.get('expr'))}")
        else:
            line = _change(f"query {ref}", before.get("expr"), after.get("expr"))
            if line:
                lines.append(line)
            rest = changed_paths({k: v for k, v in before.items() if k != "expr"},
                                 {k: v for k, v in after.items() if k != "expr"})
            if rest:
                lines.append(f"query {ref} settings changed: " + ", ".join(f"`{p}`" for p in rest))
    field_rest = changed_paths(
        {k: v for k, v in (old.get("fieldConfig") or {}).items() if k != "defaults"}
        | {"defaults": {k: v for k, v in _defaults(old).items() if k not in ("unit", "thresholds", "min", "max")}},
        {k: v for k, v in (new.get("fieldConfig") or {}).items() if k != "defaults"}
        | {"defaults": {k: v for k, v in _defaults(new).items() if k not in ("unit", "thresholds", "min", "max")}})
    other = changed_paths({k: v for k, v in old.items() if k not in _PANEL_OWN_KEYS},
                          {k: v for k, v in new.items() if k not in _PANEL_OWN_KEYS})
    rest = [f"fieldConfig.{p}" for p in field_rest] + other
    if rest:
        lines.append("other settings changed: " + ", ".join(f"`{p}`" for p in rest))
    return lines


def _variables(model: dict) -> dict[str, dict]:
    # The selected value and the option list are what a user last clicked, not design.
    return {str(v.get("name")): {k: val for k, val in v.items() if k not in ("current", "options")}
            for v in ((model.get("templating") or {}).get("list") or []) if isinstance(v, dict)}


def _time(model: dict) -> Optional[str]:
    time = model.get("time") or {}
    return f"{time.get('from')} to {time.get('to')}" if time else None


@dataclass
class DashboardChange:
    title: str
    status: str            # added, removed, changed
    lines: list[str]


def compare(before: dict[str, Dashboard], after: dict[str, Dashboard]) -> list[DashboardChange]:
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is None:
            changes.append(DashboardChange(new.title, "added",
                                           [f"{len(new.panels)} panels, from `{new.file}`"]))
            continue
        if new is None:
            changes.append(DashboardChange(old.title, "removed", [f"was `{old.file}`"]))
            continue
        lines = []
        for label, before_value, after_value in (
            ("title", old.model.get("title"), new.model.get("title")),
            ("refresh", old.model.get("refresh"), new.model.get("refresh")),
            ("time range", _time(old.model), _time(new.model)),
        ):
            line = _change(label, before_value, after_value)
            if line:
                lines.append(line)
        old_vars, new_vars = _variables(old.model), _variables(new.model)
        lines += named_changes("variable", {f"${k}": v for k, v in old_vars.items()},
                               {f"${k}": v for k, v in new_vars.items()},
                               added=lambda variable: f": {_code(variable.get('query'))}")
        for panel_id in sorted(set(old.panels) | set(new.panels), key=lambda i: (not isinstance(i, int), str(i).zfill(6))):
            old_panel, new_panel = old.panels.get(panel_id), new.panels.get(panel_id)
            if old_panel is None:
                lines.append(f"panel {panel_id} **{new_panel.get('title')}** added ({new_panel.get('type')}, "
                             f"at {_grid(new_panel)})")
            elif new_panel is None:
                lines.append(f"panel {panel_id} **{old_panel.get('title')}** removed")
            else:
                details = _panel_lines(old_panel, new_panel)
                if details:
                    lines.append(f"panel {panel_id} **{new_panel.get('title')}**: " + "; ".join(details))
        skip = ("panels", "templating", "title", "refresh", "time", *_VOLATILE)
        other = changed_paths({k: v for k, v in old.model.items() if k not in skip},
                              {k: v for k, v in new.model.items() if k not in skip})
        if other:
            lines.append("other dashboard settings changed: " + ", ".join(f"`{p}`" for p in other))
        if lines:
            changes.append(DashboardChange(new.title, "changed", lines))
    return changes
