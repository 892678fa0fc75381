"""Every query of every dashboard panel, run against the live Prometheus: "No Data" is a failure."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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
    for path in sorted(dashboard_dir.glob("*.json")):
        dashboard = json.loads(path.read_text())
        variables = _variables(dashboard)
        for panel in _panels(dashboard.get("panels") or []):
            targets = [t for t in panel.get("targets") or [] if t.get("expr") and not t.get("hide")]
            if not targets:
                continue
            empty = []
            for target in targets:
                expr = substitute_grafana_macros(target["expr"], variables)
                if target.get("instant") and not target.get("range"):
                    result = prometheus.query(expr, at=end)
                else:
                    result = prometheus.query_range(expr, start, end, step)
                if not result:
                    empty.append(target["expr"])
            results.append(PanelResult(dashboard.get("uid", path.stem), panel.get("id"), panel.get("title", ""),
                                       tuple(empty), len(targets)))
    return results
