"""A plain-text summary of Grafana dashboard JSON models, for review.

A dashboard's JSON is thousands of lines; a reviewer needs its rows, panels,
queries and thresholds on one screen to see what a change really does.

    python -m components.dashboard_summary [dashboards/x.json ...]

Without arguments it summarises every dashboard of every folder (dashboards/, slo_dashboards/).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterable, Optional

from components.renderers.dashboards import all_dashboard_files


def _number(value) -> str:
    if value is None:
        return "-inf"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def describe_thresholds(thresholds: Optional[dict]) -> str:
    """`green from -inf, yellow from 0.7, ...` (Grafana steps start where they are)."""
    if not thresholds:
        return ""
    steps = ", ".join(f"{step.get('color')} from {_number(step.get('value'))}"
                      for step in thresholds.get("steps", []))
    mode = thresholds.get("mode", "absolute")
    return steps if mode == "absolute" else f"{steps} ({mode})"


def describe_mappings(mappings: Iterable[dict]) -> list[str]:
    lines = []
    for mapping in mappings or []:
        kind, options = mapping.get("type"), mapping.get("options", {})
        if kind == "value":
            for value, result in options.items():
                lines.append(f"{value} -> {result.get('text', value)} ({result.get('color', 'no colour')})")
        elif kind == "special":
            result = options.get("result", {})
            lines.append(f"{options.get('match')} -> {result.get('text')} ({result.get('color', 'no colour')})")
        elif kind == "range":
            result = options.get("result", {})
            lines.append(f"{_number(options.get('from'))}..{_number(options.get('to'))} -> {result.get('text')}")
        else:
            lines.append(f"{kind}: {json.dumps(options, sort_keys=True)}")
    return lines


def _grid_order(panel: dict) -> tuple:
    grid = panel.get("gridPos", {})
    return grid.get("y", 0), grid.get("x", 0)


def _panel_lines(panel: dict) -> list[str]:
    grid = panel.get("gridPos", {})
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    custom = defaults.get("custom", {})
    head = (f"  [{panel.get('id')}] {panel.get('title')} ({panel.get('type')}, unit {defaults.get('unit', 'none set')})"
            f" at x={grid.get('x')} y={grid.get('y')} w={grid.get('w')} h={grid.get('h')}")
    lines = [head]
    thresholds = describe_thresholds(defaults.get("thresholds"))
    if thresholds:
        style = custom.get("thresholdsStyle", {}).get("mode")
        shown = f" shown as {style}" if style and style != "off" else ""
        lines.append(f"      thresholds: {thresholds}{shown}")
    if custom.get("lineInterpolation") not in (None, "linear"):
        lines.append(f"      interpolation: {custom['lineInterpolation']}")
    for mapping in describe_mappings(defaults.get("mappings", [])):
        lines.append(f"      maps {mapping}")
    if defaults.get("noValue"):
        lines.append(f"      when empty: {defaults['noValue']}")
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        matcher = override.get("matcher", {})
        for prop in override.get("properties", []):
            value = prop.get("value")
            if prop.get("id") == "thresholds":
                value = describe_thresholds(value)
            elif not isinstance(value, str):
                value = json.dumps(value, sort_keys=True)
            lines.append(f"      override {matcher.get('options')}: {prop.get('id')} = {value}")
    for target in panel.get("targets", []):
        kind = "instant" if target.get("instant") and not target.get("range", False) else "range"
        legend = f"  [{target['legendFormat']}]" if target.get("legendFormat") else ""
        lines.append(f"      {target.get('refId')} ({kind}): {target.get('expr')}{legend}")
    for link in panel.get("links", []):
        lines.append(f"      link: {link.get('title')} -> {link.get('url')}")
    return lines


def summarise(model: dict, name: str = "") -> str:
    """The summary of one dashboard model."""
    time = model.get("time", {})
    lines = [
        f"{model.get('title')}  (uid {model.get('uid')}{', file ' + name if name else ''})",
        f"  refresh {model.get('refresh')}, default range {time.get('from')} to {time.get('to')}, "
        f"schemaVersion {model.get('schemaVersion')}, version {model.get('version')}, tags {model.get('tags')}",
    ]
    for variable in model.get("templating", {}).get("list", []):
        current = variable.get("current", {}).get("value")
        flags = [flag for flag in ("multi", "includeAll") if variable.get(flag)]
        lines.append(f"  variable ${variable.get('name')} ({variable.get('type')}): {variable.get('query')}"
                     f"{' ' + '+'.join(flags) if flags else ''}, current {current}")
    for link in model.get("links", []):
        where = link.get("url") or f"dashboards tagged {link.get('tags')}"
        lines.append(f"  link: {link.get('title')} -> {where}")

    panels = sorted(model.get("panels", []), key=_grid_order)
    counted = 0
    for panel in panels:
        if panel.get("type") == "row":
            lines.append(f"  row [{panel.get('id')}] {panel.get('title')}")
            nested = sorted(panel.get("panels", []), key=_grid_order)
            for inner in nested:
                lines.extend("  " + line for line in _panel_lines(inner))
            counted += len(nested)
        else:
            lines.extend(_panel_lines(panel))
            counted += 1
    lines.insert(2, f"  {counted} panels")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or all_dashboard_files()
    if not paths:
        print("no dashboards found in dashboards/ or slo_dashboards/", file=sys.stderr)
        return 1
    summaries = []
    for path in paths:
        try:
            model = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            print(f"{path}: {error}", file=sys.stderr)
            return 1
        summaries.append(summarise(model, path.name))
    print("\n\n".join(summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
