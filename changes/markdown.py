"""Small Markdown helpers shared by the report's sections."""
from __future__ import annotations

import json
from typing import Any, Callable, Mapping


def code(value: Any) -> str:
    """A value as inline code on one line; `(none)` for a missing one."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    # A backtick would end the code span early, and a newline would end the list item.
    return "`" + " ".join(text.split()).replace("`", "'") + "`"


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


def named_changes(noun: str, old: Mapping[str, Any], new: Mapping[str, Any],
                  added: Callable[[Any], str] = lambda value: "") -> list[str]:
    """`noun `name` added/removed/changed: paths` for each name whose entry differs between two revisions."""
    lines = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            lines.append(f"{noun} `{name}` added{added(new[name])}")
        elif name not in new:
            lines.append(f"{noun} `{name}` removed")
        elif old[name] != new[name]:
            lines.append(f"{noun} `{name}` changed: " + ", ".join(f"`{p}`" for p in changed_paths(old[name], new[name])))
    return lines
