"""Prometheus durations (`1h30m`, `90s`, `0`), as Prometheus and Alertmanager read them (model.ParseDuration).

The one parser of durations in the project: settings, rules, routing timings,
the game day and the silences helper all read durations through it.
"""
from __future__ import annotations

import re
from typing import Any

_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
_DURATION_UNITS = {"y": (1, 365 * 86400), "w": (2, 7 * 86400), "d": (3, 86400), "h": (4, 3600), "m": (5, 60),
                   "s": (6, 1), "ms": (7, 0.001)}


def duration_seconds(text: Any) -> float:
    """Seconds in a duration such as `1h30m`; units largest first, `0` alone needs none."""
    value = str(text)
    if value == "0":
        return 0.0
    if not value:
        raise ValueError("an empty duration")
    total, position, last_rank = 0.0, 0, 0
    while position < len(value):
        part = _DURATION_PART.match(value, position)
        if not part:
            raise ValueError(f"not a duration: {value!r}")
        rank, seconds = _DURATION_UNITS[part.group(2)]
        if rank <= last_rank:
            raise ValueError(f"not a duration (units must go from largest to smallest): {value!r}")
        total += int(part.group(1)) * seconds
        position, last_rank = part.end(), rank
    return total
