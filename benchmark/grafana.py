"""The requests Grafana sends to Prometheus when a dashboard opens, for a time range.

Grafana's Prometheus datasource (its backend query path) computes each
query's interval as the range over the panel's max data points, rounded by
its interval table and never below the datasource's timeInterval (the scrape
interval), nor below range/11000; the step is that interval, start and end
are aligned down to it, `$__rate_interval` is max(interval + scrape interval,
4 x scrape interval), `$__range` the whole range in seconds. A panel 1920
pixels wide asks for 1920 data points.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

WIDTH_POINTS = 1920
SAFE_POINTS = 11000

# Grafana's interval rounding: (upper bound inclusive, rounded) in milliseconds.
_ROUNDING_MS = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
    (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000), (90000, 60000),
    (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
    (2700000, 1800000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000), (32400000, 21600000),
    (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000),
)


def round_interval_ms(interval_ms: float) -> int:
    for bound, rounded in _ROUNDING_MS:
        if interval_ms <= bound:
            return rounded
    return 31536000000


@dataclass(frozen=True)
class Timing:
    """What Grafana computes for one query of a panel over a time range."""
    range_ms: int
    interval_ms: int
    rate_interval_ms: int

    @classmethod
    def of(cls, range_ms: int, scrape_interval_ms: int, max_points: int = WIDTH_POINTS,
           panel_min_interval_ms: Optional[int] = None) -> "Timing":
        minimum = panel_min_interval_ms or scrape_interval_ms
        interval = max(round_interval_ms(range_ms / max_points), minimum)
        safe = round_interval_ms(range_ms / SAFE_POINTS)
        interval = max(interval, safe)
        rate_interval = max(interval + scrape_interval_ms, 4 * scrape_interval_ms)
        return cls(range_ms, interval, rate_interval)


def _seconds(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def substitute(expr: str, timing: Timing, variables: dict[str, str]) -> str:
    macros = {
        "__rate_interval_ms": str(timing.rate_interval_ms), "__rate_interval": _seconds(timing.rate_interval_ms),
        "__interval_ms": str(timing.interval_ms), "__interval": _seconds(timing.interval_ms),
        "__range_ms": str(timing.range_ms), "__range_s": str(timing.range_ms // 1000),
        "__range": _seconds(timing.range_ms), "__auto": _seconds(timing.interval_ms),
    }
    values = {**macros, **variables}

    def replace(match: re.Match) -> str:
        name = match.group("braced") or match.group("plain")
        if name not in values:
            raise ValueError(f"no value for ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(?P<braced>\w+)(?::\w+)?\}|\$(?P<plain>\w+)", replace, expr)


@dataclass
class Request:
    """One HTTP request to Prometheus's API, as Grafana would send it."""
    panel: str
    path: str
    params: dict


@dataclass
class Dashboard:
    uid: str
    title: str
    path: Path
    model: dict = field(repr=False)

    @classmethod
    def load(cls, path: Path) -> "Dashboard":
        model = json.loads(path.read_text())
        return cls(model["uid"], model["title"], path, model)

    def panels(self) -> Iterator[tuple[dict, Optional[str]]]:
        """(panel, the row's repeat variable or None), rows' own panels included."""
        repeat: Optional[str] = None
        for panel in self.model["panels"]:
            if panel.get("type") == "row":
                repeat = panel.get("repeat")
                for inner in panel.get("panels", []):
                    yield inner, repeat
                continue
            yield panel, panel.get("repeat") or repeat

    def variable_queries(self) -> list[tuple[str, str, str]]:
        """(variable name, metric, label) of each label_values(metric, label) variable."""
        found = []
        for variable in self.model.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = variable.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            match = re.fullmatch(r"\s*label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)\s*", query or "")
            if not match:
                raise ValueError(f"{self.path.name}: variable {variable['name']}: only label_values(metric, label) "
                                 f"is modelled, not {query!r}")
            found.append((variable["name"], match.group(1), match.group(2)))
        return found

    def all_value(self, name: str, values: list[str]) -> str:
        """What `All` stands for: the variable's allValue, or every value as a regex alternation."""
        for variable in self.model.get("templating", {}).get("list", []):
            if variable["name"] == name and variable.get("allValue"):
                return variable["allValue"]
        return "(" + "|".join(re.escape(v) for v in values) + ")" if len(values) != 1 else re.escape(values[0])

    def requests(self, end_s: int, timing: Timing, scrape_interval_ms: int,
                 variable_values: dict[str, list[str]]) -> list[Request]:
        """Every request of the dashboard's load over [end - range, end]: variables first, then each panel."""
        start_s = end_s - timing.range_ms // 1000
        found = []
        for name, metric, label in self.variable_queries():
            found.append(Request(f"variable {name}", f"/api/v1/label/{label}/values",
                                 {"match[]": metric, "start": start_s, "end": end_s}))
        single = {"datasource": "scheduler-prometheus"}
        for name, values in variable_values.items():
            single[name] = self.all_value(name, values)
        for panel, repeat in self.panels():
            copies = [dict(single)]
            if repeat:
                copies = [{**single, repeat: re.escape(value)} for value in variable_values.get(repeat, [])]
            panel_timing = timing
            if panel.get("maxDataPoints") or panel.get("interval"):
                panel_timing = Timing.of(timing.range_ms, scrape_interval_ms,
                                         int(panel.get("maxDataPoints") or WIDTH_POINTS),
                                         _duration_ms(panel.get("interval")))
            step_s = max(1, panel_timing.interval_ms // 1000)
            for variables in copies:
                for target in panel.get("targets", []):
                    if target.get("hide"):
                        continue
                    expr = substitute(target["expr"], panel_timing, variables)
                    label = f"{panel.get('id')} {panel.get('title', '')} {target.get('refId', '')}".strip()
                    if target.get("instant") and not target.get("range"):
                        found.append(Request(label, "/api/v1/query", {"query": expr, "time": end_s}))
                    else:
                        found.append(Request(label, "/api/v1/query_range", {
                            "query": expr, "start": start_s - start_s % step_s, "end": end_s - end_s % step_s,
                            "step": step_s}))
        return found


def _duration_ms(text: Optional[str]) -> Optional[int]:
    if not text:
        return None
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text.strip().lstrip(">"))
    if not match:
        raise ValueError(f"panel interval {text!r} is not a duration")
    return int(match.group(1)) * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}[match.group(2)]
