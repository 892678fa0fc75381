"""The service-level objectives each stack runs, and what changed, in sentences with the error budget."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from changes.markdown import code

# The alert window pairs, in the order of an SLO's burn rates (the generated rules' own order).
PAIRS = ("1h and 5m (page)", "6h and 30m (page)", "1d and 2h (ticket)", "3d and 6h (ticket)")


def _percent(objective: float) -> str:
    return f"{objective * 100:g} %"


def _budget_move(old: Mapping, new: Mapping) -> str:
    if old["budget"] == new["budget"]:
        return f"the error budget stays {new['budget']}"
    old_seconds, new_seconds = _seconds(old), _seconds(new)
    verb = "shrinks" if new_seconds < old_seconds else "grows"
    return f"the error budget {verb} from {old['budget']} to {new['budget']}"


def _seconds(entry: Mapping) -> float:
    return (1 - entry["objective"]) * _window_seconds(entry["window"])


def _window_seconds(window: str) -> float:
    units = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
    total, number = 0.0, ""
    for char in window:
        if char.isdigit():
            number += char
        else:
            total += int(number) * units[char]
            number = ""
    return total


def sentences(old: Optional[Mapping], new: Optional[Mapping]) -> list[str]:
    """What changed of one SLO, in words."""
    if old is None and new is not None:
        return [f"{new['title']} SLO added: {_percent(new['objective'])} over {new['window']}, an error budget of "
                f"{new['budget']}."]
    if new is None and old is not None:
        return [f"{old['title']} SLO removed (it allowed {old['budget']} over {old['window']})."]
    lines = []
    title = new["title"]
    if old["objective"] != new["objective"] or old["window"] != new["window"]:
        changed = []
        if old["objective"] != new["objective"]:
            changed.append(f"instead of {_percent(old['objective'])}")
        if old["window"] != new["window"]:
            changed.append(f"instead of over {old['window']}")
        lines.append(f"{title} objective now {_percent(new['objective'])} over {new['window']} "
                     f"{' and '.join(changed)}; {_budget_move(old, new)}.")
    for part in ("good", "valid"):
        if old[part] != new[part]:
            lines.append(f"{title} SLI: {part} events now {code(new[part])} instead of {code(old[part])}.")
    if old["burn_rates"] != new["burn_rates"]:
        moved = [f"{pair} at {new_rate:g}x instead of {old_rate:g}x"
                 for pair, old_rate, new_rate in zip(PAIRS, old["burn_rates"], new["burn_rates"])
                 if old_rate != new_rate]
        lines.append(f"{title} now alerts over " + "; ".join(moved) + ".")
    return lines


def compare(stacks: list[str], before: Mapping[str, Optional[list]], after: Mapping[str, Optional[list]]) -> list[str]:
    """Sentences about every SLO of every stack, one per change, naming the stacks it applies to."""
    by_sentence: dict[str, list[str]] = {}
    for stack in stacks:
        old = {entry["name"]: entry for entry in before.get(stack) or []}
        new = {entry["name"]: entry for entry in after.get(stack) or []}
        if before.get(stack) is None or after.get(stack) is None:
            continue      # a revision without SLOs, or one that could not render them: said elsewhere
        for name in sorted(set(old) | set(new)):
            for sentence in sentences(old.get(name), new.get(name)):
                by_sentence.setdefault(sentence, []).append(stack)
    return [f"{sentence[:-1]} ({', '.join(names)})." for sentence, names in by_sentence.items()]
