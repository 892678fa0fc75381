"""Alertmanager routing: which receiver an alert reaches, and how the tree changed.

The walk follows Alertmanager's own rules: the root route takes every alert;
a node's children are tried in order, a matching child is descended into and,
unless it says `continue: true`, ends the search; a node none of whose
children match is itself the destination; `receiver` is inherited downwards.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Mapping, Optional

import yaml

_NAME = r'(?P<name>[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")'
_MATCHER = re.compile(r"^\s*" + _NAME + r'\s*(?P<op>=~|!~|!=|=)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^,]*?)\s*$')


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text[1:-1])
    return text


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        # A missing label has the empty value, as in Alertmanager.
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        # Alertmanager anchors regular expressions at both ends.
        found = re.fullmatch(f"(?:{self.value})", actual, flags=re.DOTALL) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def _split(text: str) -> list[str]:
    """`{a="x,y", b=~"z"}` -> the two matcher strings (commas inside quotes kept)."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    parts, current, quoted, escaped = [], "", False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def parse_matcher(text: str) -> Matcher:
    match = _MATCHER.match(text)
    if not match:
        raise ValueError(f"not a matcher: {text!r}")
    return Matcher(_unquote(match.group("name")), match.group("op"), _unquote(match.group("value")))


def route_matchers(route: Mapping) -> list[Matcher]:
    """Every condition of one route: `matchers`, and the older `match` and `match_re`."""
    found = []
    for entry in route.get("matchers") or []:
        found.extend(parse_matcher(part) for part in _split(str(entry)))
    for name, value in (route.get("match") or {}).items():
        found.append(Matcher(str(name), "=", str(value)))
    for name, value in (route.get("match_re") or {}).items():
        found.append(Matcher(str(name), "=~", str(value)))
    return found


def receivers_for(labels: Mapping[str, str], route: Mapping, inherited: Optional[str] = None) -> list[str]:
    """The receivers an alert with `labels` reaches from `route` (the root route)."""
    receiver = route.get("receiver", inherited)
    reached: list[str] = []
    for child in route.get("routes") or []:
        if all(m.matches(labels) for m in route_matchers(child)):
            reached.extend(receivers_for(labels, child, receiver))
            if not child.get("continue", False):
                break
    return reached or [receiver]


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
        source = route_matchers({"matchers": rule.get("source_matchers"), "match": rule.get("source_match"),
                                 "match_re": rule.get("source_match_re")})
        target = route_matchers({"matchers": rule.get("target_matchers"), "match": rule.get("target_match"),
                                 "match_re": rule.get("target_match_re")})
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


def changed_paths(before, after, prefix: str = "") -> list[str]:
    """Dotted paths whose values differ, without the values (which may be long)."""
    if isinstance(before, dict) and isinstance(after, dict):
        paths = []
        for key in sorted(set(before) | set(after), key=str):
            paths.extend(changed_paths(before.get(key), after.get(key), f"{prefix}.{key}" if prefix else str(key)))
        return paths
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        paths = []
        for index, (old, new) in enumerate(zip(before, after)):
            paths.extend(changed_paths(old, new, f"{prefix}[{index}]"))
        return paths
    return [] if before == after else [prefix or "(whole value)"]


def unified(before: list[str], after: list[str]) -> list[str]:
    """Outline lines with diff markers, context kept so a moved route reads in place."""
    return [line for line in difflib.unified_diff(before, after, lineterm="", n=len(before) + len(after))
            if not line.startswith(("---", "+++", "@@"))]


def load(text: Optional[str]) -> Optional[dict]:
    return None if text is None else (yaml.safe_load(text) or {})
