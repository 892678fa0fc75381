"""Alerting and recording rules of one revision, and what changed between two."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import promql_parser
import yaml

COMPARISONS = ("==", "!=", ">", "<", ">=", "<=")
# Labels with their own line in the report; the rest are listed as "label x".
ROUTING_LABELS = ("severity", "page")


@dataclass(frozen=True)
class Rule:
    kind: str                      # "alert" or "record"
    name: str
    group: str
    file: str
    expr: str
    duration: Optional[str] = None            # `for:`
    keep_firing_for: Optional[str] = None
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)

    @property
    def thresholds(self) -> tuple[str, ...]:
        return thresholds(self.expr)


@dataclass(frozen=True)
class Group:
    name: str
    file: str
    interval: Optional[str]


@dataclass
class RuleSet:
    rules: dict[tuple, Rule] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def alerts(self) -> list[Rule]:
        return [r for r in self.rules.values() if r.kind == "alert"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def thresholds(expr: str) -> tuple[str, ...]:
    """Every comparison with a constant in `expr`, as written (`> 0.9`), in order.

    Read from the PromQL syntax tree, so a `!=` inside a label matcher or a
    number inside a range selector is never mistaken for a threshold.
    """
    try:
        tree = promql_parser.parse(expr)
    except Exception:       # the parser raises its own exception types; any failure means "unknown"
        return ()
    found: list[str] = []

    def visit(node) -> None:
        if isinstance(node, promql_parser.BinaryExpr) and str(node.op) in COMPARISONS:
            op = str(node.op)
            if node.modifier is not None and node.modifier.return_bool:
                op += " bool"
            if isinstance(node.rhs, promql_parser.NumberLiteral):
                found.append(f"{op} {_number(node.rhs.val)}")
            elif isinstance(node.lhs, promql_parser.NumberLiteral):
                found.append(f"{_number(node.lhs.val)} {op}")

    promql_parser.walk(tree, visit)
    return tuple(found)


def _text(value) -> Optional[str]:
    return None if value is None else str(value)


def load(tree: Path) -> RuleSet:
    """Rules of every `rules/*.yml` under `tree` (the rule files as written, placeholders kept)."""
    result = RuleSet()
    seen: dict[tuple[str, str], int] = {}
    for path in sorted((tree / "rules").glob("*.yml")):
        relative = f"rules/{path.name}"
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            result.problems.append(f"{relative} is not valid YAML ({str(error).splitlines()[0]})")
            continue
        for group in document.get("groups") or []:
            if not isinstance(group, dict):
                continue
            name = str(group.get("name", path.stem))
            result.groups[name] = Group(name, relative, _text(group.get("interval")))
            for entry in group.get("rules") or []:
                if not isinstance(entry, dict):
                    continue
                kind = "alert" if "alert" in entry else "record"
                rule_name = str(entry.get(kind, ""))
                # The same alert name may appear more than once (a warning and a
                # critical variant); the n-th occurrence pairs with the n-th.
                occurrence = seen.get((kind, rule_name), 0)
                seen[(kind, rule_name)] = occurrence + 1
                result.rules[(kind, rule_name, occurrence)] = Rule(
                    kind=kind, name=rule_name, group=name, file=relative,
                    expr=" ".join(str(entry.get("expr", "")).split()),
                    duration=_text(entry.get("for")),
                    keep_firing_for=_text(entry.get("keep_firing_for")),
                    labels={str(k): str(v) for k, v in (entry.get("labels") or {}).items()},
                    annotations={str(k): str(v) for k, v in (entry.get("annotations") or {}).items()},
                )
    return result


# --------------------------------------------------------------------------
# Differences.
# --------------------------------------------------------------------------
@dataclass
class FieldChange:
    field: str
    before: Optional[str]
    after: Optional[str]


@dataclass
class RuleChange:
    key: tuple
    before: Optional[Rule]
    after: Optional[Rule]
    fields: list[FieldChange]

    @property
    def rule(self) -> Rule:
        return self.after or self.before

    @property
    def status(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"


def _fields(rule: Rule) -> dict[str, Optional[str]]:
    values: dict[str, Optional[str]] = {"expr": rule.expr}
    if rule.kind == "alert":
        values["threshold"] = ", ".join(rule.thresholds) or None
        values["for"] = rule.duration
        values["keep_firing_for"] = rule.keep_firing_for
    values["group"] = rule.group
    for name in ROUTING_LABELS:
        values[name] = rule.labels.get(name)
    for name, value in sorted(rule.labels.items()):
        if name not in ROUTING_LABELS:
            values[f"label {name}"] = value
    for name, value in sorted(rule.annotations.items()):
        values[f"annotation {name}"] = value
    return values


def compare(before: RuleSet, after: RuleSet) -> list[RuleChange]:
    changes = []
    for key in sorted(set(before.rules) | set(after.rules), key=lambda k: (k[1].lower(), k[2], k[0])):
        old, new = before.rules.get(key), after.rules.get(key)
        if old is not None and new is not None and old == new:
            continue
        old_fields = _fields(old) if old else {}
        new_fields = _fields(new) if new else {}
        fields = [FieldChange(name, old_fields.get(name), new_fields.get(name))
                  for name in list(dict.fromkeys([*old_fields, *new_fields]))
                  if old_fields.get(name) != new_fields.get(name)]
        if old is not None and new is not None and not fields:
            continue        # only the file or the position moved
        changes.append(RuleChange(key, old, new, fields))
    return changes


def compare_groups(before: RuleSet, after: RuleSet) -> list[str]:
    lines = []
    for name in sorted(set(before.groups) | set(after.groups)):
        old, new = before.groups.get(name), after.groups.get(name)
        if old is None:
            lines.append(f"group `{name}` added ({new.file}, evaluated every {new.interval or 'global interval'})")
        elif new is None:
            lines.append(f"group `{name}` removed ({old.file})")
        elif old.interval != new.interval:
            lines.append(f"group `{name}` is now evaluated every {new.interval or 'global interval'} "
                         f"instead of {old.interval or 'global interval'}")
    return lines


_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below", "==": "at", "!=": "not at"}


def _condition(rule: Rule, operators_matter: bool) -> str:
    """`0.85 after 1m`: the threshold constants and the wait, for the summary sentence."""
    parts = []
    for written in rule.thresholds:
        op, _, value = written.replace(" bool", "").partition(" ")
        if not value:                      # constant on the left: `0.9 < x`
            value, _, op = written.replace(" bool", "").partition(" ")
        parts.append(f"{_WORDS.get(op, op)} {value}" if operators_matter else value)
    wait = f"after {rule.duration}" if rule.duration else "immediately"
    return f"{' and '.join(parts)} {wait}".strip()


def sentence(change: RuleChange) -> str:
    """One plain-language line about a changed, added or removed rule."""
    rule = change.rule
    if change.status == "added":
        if rule.kind == "record":
            return f"New recording rule {rule.name} in group {rule.group}."
        severity = rule.labels.get("severity", "no severity")
        return f"New alert {rule.name} ({severity}) fires {_condition(rule, True)}."
    if change.status == "removed":
        return f"{'Recording rule' if rule.kind == 'record' else 'Alert'} {rule.name} is removed."
    old, new = change.before, change.after
    changed = {f.field for f in change.fields}
    clauses = []
    if rule.kind == "alert" and ({"threshold", "for"} & changed):
        operators_matter = [t.split(" ")[0] for t in old.thresholds] != [t.split(" ")[0] for t in new.thresholds]
        # "at 0.85" reads naturally while the comparison stays the same; once it
        # changes, each side says its own ("at or above 0.9 ... instead of above 0.9").
        at = "" if operators_matter or not new.thresholds else "at "
        clauses.append(f"now fires {at}{_condition(new, operators_matter)} "
                       f"instead of {_condition(old, operators_matter)}")
    elif "expr" in changed:
        clauses.append("has a new expression" if rule.kind == "alert" else "records a new expression")
    if "severity" in changed:
        clauses.append(f"is now {new.labels.get('severity') or 'without severity'} "
                       f"(was {old.labels.get('severity') or 'without severity'})")
    if "page" in changed:
        clauses.append(f"page is now {new.labels.get('page') or 'unset'} (was {old.labels.get('page') or 'unset'})")
    if "group" in changed:
        clauses.append(f"moved from group {old.group} to {new.group}")
    rest = sorted(changed - {"threshold", "for", "expr", "severity", "page", "group"})
    if rest:
        clauses.append("changed " + ", ".join(rest))
    return f"{rule.name} " + "; ".join(clauses) + "."
