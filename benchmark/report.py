"""The benchmark's one table, and its verdict against the targets."""
from __future__ import annotations

import math
from typing import Iterable

from benchmark.run import ScaleResult

# Targets at 100x: a rule group evaluates in under 1 % of its interval; a dashboard's 7-day view loads in
# under 1 second (all its panels' queries, summed).
GROUP_RATIO_TARGET = 0.01
DASHBOARD_7D_TARGET_S = 1.0
TARGET_SCALE = 100


def _mib(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value / 2**20:,.0f}"


def table(label: str, results: list[ScaleResult]) -> list[str]:
    scales = [r.scale for r in results]
    header = ["", *[f"{s:g}x" for s in scales]]
    rows: list[list[str]] = []

    def row(name: str, values: Iterable[str]) -> None:
        rows.append([name, *values])

    row("backends / workers / task names", (f"{r.shape.totals()['backends']} / {r.shape.totals()['workers']} / "
                                            f"{r.shape.totals()['task names']}" for r in results))
    row("queues / violation types / handlers", (f"{r.shape.totals()['queues']} / "
                                                f"{r.shape.totals()['violation types']} / "
                                                f"{r.shape.totals()['HTTP handlers']}" for r in results))
    row("samples written (M)", (f"{r.samples_written / 1e6:,.0f}" for r in results))
    row("head series", (f"{r.head_series:,}" for r in results))
    row("  of which exporter task series", (f"{r.task_series_head:,}" for r in results))
    row("resident memory MiB (peak)", (f"{_mib(r.rss_bytes)} ({_mib(r.peak_bytes)})" for r in results))
    row("disk MiB per day", (_mib(r.disk_per_day_bytes) for r in results))
    groups = sorted({g.name for r in results for g in r.groups})
    for name in groups:
        cells = []
        for r in results:
            found = [g for g in r.groups if g.name == name]
            if not found:
                cells.append("-")
                continue
            g = found[0]
            cells.append(f"{g.worst * 1000:,.1f} ms = {g.ratio:.2%} of {g.interval_s:g}s; "
                         f"{g.samples_touched / 1e6:,.2f} M samples")
        row(f"rules {name}", cells)
    titles = sorted({d.title for r in results for d in r.dashboards})
    for title in titles:
        for range_name in ("6h", "7d", "30d"):
            cells = []
            for r in results:
                found = [d for d in r.dashboards if d.title == title and d.range_name == range_name]
                if not found:
                    cells.append("-")
                    continue
                failed = f", {found[0].failed} failed" if found[0].failed else ""
                cells.append(f"{found[0].seconds:,.2f} s; {found[0].samples / 1e6:,.1f} M samples{failed}")
            row(f"dashboard {title} {range_name}", cells)
    widths = [max(len(str(line[i])) for line in [header, *rows]) for i in range(len(header))]
    lines = [f"== {label} =="]
    lines.append(" | ".join(cell.ljust(width) for cell, width in zip(header, widths)))
    lines.append("-+-".join("-" * width for width in widths))
    for line in rows:
        lines.append(" | ".join(cell.ljust(width) for cell, width in zip(line, widths)))
    return lines


def verdict(results: list[ScaleResult]) -> list[str]:
    lines = []
    for r in results:
        parts = []
        worst_group = max(r.groups, key=lambda g: g.ratio) if r.groups else None
        week = [d for d in r.dashboards if d.range_name == "7d"]
        slowest = max(week, key=lambda d: d.seconds) if week else None
        if worst_group:
            parts.append(f"worst rule group {worst_group.name}: {worst_group.worst * 1000:.1f} ms = "
                         f"{worst_group.ratio:.2%} of its {worst_group.interval_s:g} s interval")
        if slowest:
            parts.append(f"slowest dashboard (7d) {slowest.title}: {slowest.seconds:.2f} s, its slowest query "
                         f"panel {slowest.slowest[1]!r} {slowest.slowest[0]:.2f} s")
        lines.append(f"{r.scale:g}x: " + "; ".join(parts))
        if r.scale == TARGET_SCALE:
            found = []
            if worst_group:
                groups_ok = worst_group.ratio < GROUP_RATIO_TARGET
                found.append(f"rule groups under {GROUP_RATIO_TARGET:.0%} of their interval: "
                             f"{'met' if groups_ok else 'MISSED'}")
            if slowest:
                dashboards_ok = slowest.seconds < DASHBOARD_7D_TARGET_S
                found.append(f"every 7-day dashboard under {DASHBOARD_7D_TARGET_S:g} s: "
                             f"{'met' if dashboards_ok else 'MISSED'}")
            lines.append(f"targets at {TARGET_SCALE}x: " + "; ".join(found))
            lines.extend(misses(r))
    return lines


def misses(r: ScaleResult, shown: int = 5) -> list[str]:
    """Where the time goes in each group and 7-day dashboard over its target: the slowest rules and panels."""
    lines = []
    for group in r.groups:
        if group.ratio >= GROUP_RATIO_TARGET:
            lines.append(f"  group {group.name} ({group.ratio:.2%}), slowest rules of its last evaluation:")
            lines.extend(f"    {seconds * 1000:8.1f} ms  {rule}" for rule, seconds in group.rules[:shown])
    for dashboard in r.dashboards:
        if dashboard.range_name == "7d" and dashboard.seconds >= DASHBOARD_7D_TARGET_S:
            lines.append(f"  dashboard {dashboard.title} 7d ({dashboard.seconds:.2f} s), slowest requests:")
            lines.extend(f"    {seconds:7.2f} s  {samples / 1e6:7.1f} M samples  {panel}"
                         for panel, seconds, samples in sorted(dashboard.queries, key=lambda q: -q[1])[:shown])
    return lines


def targets_met(results: list[ScaleResult]) -> bool:
    for r in results:
        if r.scale != TARGET_SCALE:
            continue
        if r.groups and max(g.ratio for g in r.groups) >= GROUP_RATIO_TARGET:
            return False
        if any(d.seconds >= DASHBOARD_7D_TARGET_S for d in r.dashboards if d.range_name == "7d"):
            return False
    return True
