"""Every query of every dashboard panel, run against the live Prometheus: "No Data" is a failure.

Every dashboard Grafana provisions is read, in whatever folder (the SLO
dashboards live in their own). A row repeated for each value of a variable
(`"repeat": "slo"`) is checked once per value, as Grafana draws it once per
value: an SLO whose panels are empty is a failure even if another's are full.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from gameday.servers import PrometheusReplica
from tests.support.promql import substitute_grafana_macros


@dataclass(frozen=True)
class PanelResult:
    dashboard: str
    panel_id: int
    title: str
    empty_queries: tuple[str, ...]
    queries: int

    @property
    def has_data(self) -> bool:
        # Grafana shows "No Data" only when every query of the panel is empty;
        # still, an empty query is a line or a cell missing, so it is listed.
        return len(self.empty_queries) < self.queries


def _panels(panels: list) -> list[dict]:
    found = []
    for panel in panels:
        if panel.get("type") == "row":
            found.extend(_panels(panel.get("panels") or []))
        else:
            found.append(panel)
    return found


def _sections(dashboard: dict) -> list[tuple[Optional[str], list[dict]]]:
    """The panels in groups, each with the variable its row repeats for (None: drawn once).

    An expanded row owns the panels after it up to the next row; a collapsed
    row holds its own.
    """
    sections: list[tuple[Optional[str], list[dict]]] = [(None, [])]
    for panel in dashboard.get("panels") or []:
        if panel.get("type") == "row":
            sections.append((panel.get("repeat") or None, _panels(panel.get("panels") or [])))
        else:
            sections[-1][1].append(panel)
    return [(repeat, panels) for repeat, panels in sections if panels]


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?P<selector>.+?)\s*,\s*(?P<label>\w+)\s*\)\s*$")


def repeat_values(dashboard: dict, name: str, prometheus, at: float) -> list[str]:
    """The values a repeated row is drawn for: what the variable's label_values() query finds now."""
    for variable in (dashboard.get("templating") or {}).get("list", []):
        if variable.get("name") != name:
            continue
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        match = _LABEL_VALUES.match(query or "")
        if match:
            series = prometheus.query(substitute_grafana_macros(match["selector"]), at=at)
            return sorted({s["metric"][match["label"]] for s in series if match["label"] in s["metric"]})
        current = (variable.get("current") or {}).get("value")
        return [v for v in (current if isinstance(current, list) else [current]) if v and v != "$__all"]
    return []


def _variables(dashboard: dict) -> dict[str, str]:
    """Each template variable at what the dashboard opens with ("All" for multi-value queue pickers)."""
    values = {}
    for variable in (dashboard.get("templating") or {}).get("list", []):
        current = (variable.get("current") or {}).get("value")
        if isinstance(current, list):
            current = current[0] if len(current) == 1 else "$__all"
        if variable.get("type") == "datasource":
            continue
        if current in (None, "", "$__all") and variable.get("includeAll"):
            current = variable.get("allValue") or ".*"
        if current not in (None, ""):
            values[variable["name"]] = str(current)
    return values


def check_dashboards(dashboard_dir: Path, prometheus: PrometheusReplica, start: float, end: float) -> list[PanelResult]:
    results = []
    step = max(15.0, (end - start) / 240)
    for path in sorted(dashboard_dir.rglob("*.json")):
        dashboard = json.loads(path.read_text())
        variables = _variables(dashboard)
        name = dashboard.get("uid", path.stem)
        for repeat, panels in _sections(dashboard):
            drawn = ([(name, variables)] if repeat is None else
                     [(f"{name} ({repeat}={value})", {**variables, repeat: value})
                      for value in repeat_values(dashboard, repeat, prometheus, end)])
            if not drawn:
                drawn = [(f"{name} ({repeat}: no value)", variables)]
            for where, values in drawn:
                for panel in panels:
                    result = _check_panel(panel, where, values, prometheus, start, end, step)
                    if result is not None:
                        results.append(result)
    return results


def _check_panel(panel: dict, where: str, variables: dict[str, str], prometheus, start: float, end: float,
                 step: float) -> Optional[PanelResult]:
    targets = [t for t in panel.get("targets") or [] if t.get("expr") and not t.get("hide")]
    if not targets:
        return None
    empty = []
    for target in targets:
        expr = substitute_grafana_macros(target["expr"], variables)
        if target.get("instant") and not target.get("range"):
            result = prometheus.query(expr, at=end)
        else:
            result = prometheus.query_range(expr, start, end, step)
        if not result:
            empty.append(target["expr"])
    return PanelResult(where, panel.get("id"), panel.get("title", ""), tuple(empty), len(targets))
