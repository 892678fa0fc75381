"""Alertmanager routing in the change report: how the tree, the inhibitions and the receivers changed.

Which receiver an alert reaches is alerting.routing's walk, the same one the
game day and the tests use.
"""
from __future__ import annotations

import difflib
from typing import Mapping, Optional

import yaml

from alerting.routing import inhibition_matchers, route_matchers

# --------------------------------------------------------------------------
# A readable outline of the configuration, diffed line by line.
# --------------------------------------------------------------------------
_TIMINGS = ("group_by", "group_wait", "group_interval", "repeat_interval",
            "mute_time_intervals", "active_time_intervals")


def _route_line(route: Mapping, depth: int) -> str:
    conditions = ", ".join(str(m) for m in route_matchers(route)) or ("every alert" if depth == 0 else "no matchers")
    parts = [f"{'  ' * depth}- {conditions} -> {route.get('receiver', '(inherited)')}"]
    if route.get("continue"):
        parts.append("continue")
    for key in _TIMINGS:
        if key in route:
            value = route[key]
            parts.append(f"{key} {', '.join(map(str, value)) if isinstance(value, list) else value}")
    return "; ".join(parts)


def route_outline(route: Mapping, depth: int = 0) -> list[str]:
    lines = [_route_line(route, depth)]
    for child in route.get("routes") or []:
        lines.extend(route_outline(child, depth + 1))
    return lines


def inhibit_outline(config: Mapping) -> list[str]:
    lines = []
    for rule in config.get("inhibit_rules") or []:
        source = inhibition_matchers(rule, "source")
        target = inhibition_matchers(rule, "target")
        equal = ", ".join(map(str, rule.get("equal") or [])) or "nothing"
        lines.append(f"- {', '.join(map(str, source)) or 'any alert'} mutes "
                     f"{', '.join(map(str, target)) or 'any alert'} when equal on {equal}")
    return lines


def receiver_kinds(config: Mapping) -> dict[str, str]:
    """Receiver name -> its integrations (`slack_configs, email_configs`), or `none`."""
    result = {}
    for receiver in config.get("receivers") or []:
        kinds = sorted(k for k in receiver if k.endswith("_configs"))
        result[str(receiver.get("name"))] = ", ".join(kinds) or "none (drops alerts)"
    return result


def unified(before: list[str], after: list[str]) -> list[str]:
    """Outline lines with diff markers, context kept so a moved route reads in place."""
    return [line for line in difflib.unified_diff(before, after, lineterm="", n=len(before) + len(after))
            if not line.startswith(("---", "+++", "@@"))]


def load(text: Optional[str]) -> Optional[dict]:
    return None if text is None else (yaml.safe_load(text) or {})
