"""How long an SLO's burn-rate alert takes to fire and to clear, read from its rendered rule.

The SLO alerts (components/renderers/slos.py) have no `for:`: they wait on
their windows instead. An alert fires once, for one of its pairs, the error
ratio over both the long and the short window exceeds the pair's threshold,
and clears once no pair holds. How long that takes depends on the share of
requests failing and on how much good traffic the windows held before: the
same outage pages later after a long healthy spell than on a fresh
Prometheus. So the bound of such an alert is computed, from the rendered
thresholds and windows, for the traffic the run actually had.

Windows of 2h and longer sum the recorded 5-minute rates (one record per
evaluation) rather than rating raw counters; such a window lags the raw one
by up to its recorded rate's window, and is modelled that way. The errors of
the first scrape after an outage begins are never seen: the 5xx series is
born with them, and rate() needs a sample before an increase.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

from components.settings import duration_seconds
from gameday.procs import GamedayError

RATIO_RECORD = "slo:sli_error:ratio_rate"
_COMPARISON = re.compile(re.escape(RATIO_RECORD) + r'(?P<window>\w+)\{slo="(?P<slo>[^"]+)"\}\s*>\s*'
                         r"(?P<threshold>[0-9.]+(?:[eE][-+]?\d+)?)")
_SUMMED = re.compile(r"sum_over_time\(slo:sli_error:rate(?P<rate>\w+)\{")
RESOLUTION = 5.0        # seconds between the instants the model looks at


@dataclass(frozen=True)
class Window:
    seconds: float
    smoothing: float = 0.0      # > 0: summed from rates recorded over this many seconds


@dataclass(frozen=True)
class Pair:
    slo: str
    long: Window
    short: Window
    threshold: float


@dataclass(frozen=True)
class Outage:
    """A share of the API's requests failing at a steady request rate, from time 0 for `duration` seconds."""
    share: float
    history: float          # seconds of good traffic the windows hold before it
    duration: float         # math.inf: it lasts
    hidden: float           # seconds of its first errors no rate() sees (the 5xx series' birth)
    interval: float         # the rule group's evaluation interval: one recorded rate each


def windows_of(groups: list[dict]) -> dict[tuple[str, str], Window]:
    """(slo, window name such as 1h) -> the window, from the rendered recording rules."""
    found = {}
    for group in groups:
        for rule in group.get("rules", []):
            record = rule.get("record") or ""
            if not record.startswith(RATIO_RECORD):
                continue
            name = record[len(RATIO_RECORD):]
            summed = _SUMMED.search(rule["expr"])
            found[((rule.get("labels") or {}).get("slo", ""), name)] = Window(
                duration_seconds(name), duration_seconds(summed["rate"]) if summed else 0.0)
    return found


def pairs_of(alert: str, expr: str, windows: Mapping[tuple[str, str], Window]) -> tuple[Pair, ...]:
    """The window pairs of a burn-rate alert: `(long > t and short > t) or (...)`."""
    pairs = []
    for branch in re.split(r"\bor\b", expr):
        found = list(_COMPARISON.finditer(branch))
        if not found:
            continue
        if len(found) != 2 or found[0]["threshold"] != found[1]["threshold"]:
            raise GamedayError(f"{alert}: a branch of its expression is not two windows over one threshold: "
                               f"{branch.strip()}")
        long, short = sorted(found, key=lambda m: -duration_seconds(m["window"]))
        missing = [m["window"] for m in found if (m["slo"], m["window"]) not in windows]
        if missing:
            raise GamedayError(f"{alert} reads {RATIO_RECORD}{missing[0]}, which no rendered rule records")
        pairs.append(Pair(long["slo"], windows[(long["slo"], long["window"])],
                          windows[(short["slo"], short["window"])], float(long["threshold"])))
    return tuple(pairs)


def _errors(start: float, end: float, outage: Outage) -> float:
    """Failed requests in [start, end], in seconds of traffic."""
    return outage.share * max(0.0, min(end, outage.duration) - max(start, outage.hidden))


def _requests(start: float, end: float, outage: Outage) -> float:
    return max(0.0, end - max(start, -outage.history))


def error_ratio(window: Window, at: float, outage: Outage) -> float:
    """The window's error ratio at `at` seconds after the outage began, as the rule computes it."""
    if not window.smoothing:
        valid = _requests(at - window.seconds, at, outage)
        return _errors(at - window.seconds, at, outage) / valid if valid else 0.0
    errors = valid = 0.0
    record = at
    while record > at - window.seconds and record > -outage.history:
        errors += _errors(record - window.smoothing, record, outage)
        valid += _requests(record - window.smoothing, record, outage)
        record -= outage.interval
    return errors / valid if valid else 0.0


def holds(pairs: tuple[Pair, ...], at: float, outage: Outage) -> bool:
    return any(error_ratio(p.long, at, outage) > p.threshold and error_ratio(p.short, at, outage) > p.threshold
               for p in pairs)


def time_to_fire(pairs: tuple[Pair, ...], outage: Outage, limit: float = 7 * 86400) -> float:
    """Seconds from the outage's start until the alert's condition holds."""
    at = 0.0
    while at <= min(limit, outage.duration + max(p.long.seconds for p in pairs)):
        if holds(pairs, at, outage):
            return at
        at += RESOLUTION
    raise GamedayError(f"{outage.share:.0%} of requests failing for {outage.duration:.0f}s never meets "
                       "the alert's windows")


def time_to_clear(pairs: tuple[Pair, ...], outage: Outage) -> float:
    """Seconds from the outage's end until no pair holds any more (after it held: it may fire late)."""
    if math.isinf(outage.duration):
        raise GamedayError("an outage that never ends never clears")
    at = max(outage.duration, time_to_fire(pairs, outage))
    while holds(pairs, at, outage):
        at += RESOLUTION
    return at - outage.duration
