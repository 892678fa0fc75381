"""Service-level objectives: `slos/*.yml` as data, and the rule group generated from them.

An SLO file names its SLI as good events over valid events (two PromQL
selectors of the backend's job), its objective and its window; a stack may
override the objective, the window and the burn rates (components/settings.py).
From each SLO this module writes, in the group `scheduler_slos`:

- recording rules, named level:metric:operation with an `slo` label: the
  valid and good events' rates over 5 minutes (the only window read from
  the raw counters), and from them the error ratio over every window the
  alerts read (`slo:sli_error:ratio_rate1h` ...), over the SLO window
  (`slo:sli_error:ratio_window`), the error budget left, each handler's
  errors, and the objective, budget, window and burn-rate
  thresholds as series (so the dashboard never repeats a setting);
- the Google SRE workbook's multiwindow, multi-burn-rate alerts: one that
  pages (`<Slo>BudgetBurnCritical`) and one that opens a ticket
  (`<Slo>BudgetBurn`), each firing when both windows of one pair burn faster
  than the pair's rate.

Every file in slos/ must be an SLO ending in `.yml`; a mistake is an
InputError naming the file and line (or a SettingsError naming the setting),
never a traceback. Nothing here loads Pulumi.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any, Optional

import yaml

from components import constants as c
from components.constants import GRAFANA_URL_TOKEN, RUNBOOK_BASE_URL_TOKEN
from components.renderers.folders import data_files
from components.renderers.rules import RULE_SUFFIX, RuleFile, check_rule_file
from components.settings import (
    PROJECT_DIR,
    SETTINGS_BY_KEY,
    SLO_ALERT_WINDOWS,
    InputError,
    Settings,
    duration_seconds,
    objective_value,
    settings_error,
    slo_setting_keys,
    slo_window_value,
    yaml_error_text,
)

SLOS_DIR = PROJECT_DIR / "slos"
SLO_SUFFIX = ".yml"
GROUP = c.SLO_RULE_GROUP
GROUP_FILE = GROUP + RULE_SUFFIX
# Every minute, like the scheduler groups: a page waits at most one more
# minute than its windows need, and the 28-day sums stay cheap.
GROUP_INTERVAL = "1m"
# The windows whose error ratio the alerts read, shortest first.
ALERT_RATIO_WINDOWS = tuple(sorted({w for _, long, short in SLO_ALERT_WINDOWS for w in (long, short)},
                                   key=duration_seconds))
# The one window whose rates are taken from the raw counters; every other
# window is built from its recordings. A whole number of GROUP_INTERVALs, so
# that an offset of whole tiles lands on an earlier evaluation's recording.
TILE = "5m"
assert duration_seconds(TILE) % duration_seconds(GROUP_INTERVAL) == 0, "TILE must be whole group intervals"
# Windows from this long on take their error ratio from the recorded 5-minute
# rates summed over every evaluation in them; shorter ones add the 5-minute
# tiles that make them up back to back (see _tiled_sum), so a page comes
# exactly as soon as its windows say.
RECORDED_RATIO_FROM_SECONDS = 2 * 3600
# Which dashboard panel each alert links to (slo_dashboards/scheduler_slos.json).
BURN_RATE_PANEL = 7

_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_METRIC = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')

KEYS = ("name", "title", "description", "sli", "objective", "window", "labels")
SLI_KEYS = ("good", "valid", "handlers")
SELECTOR_KEYS = ("good", "valid")
LABEL_KEYS = ("component", "tier", "compliance")


@dataclass(frozen=True)
class Selector:
    """A PromQL vector selector as written, the scrape job it names, and its label matchers."""
    text: str
    metric: str
    job: str
    matchers: tuple = ()       # (label, operator, value) as written


@dataclass(frozen=True)
class Slo:
    """One SLO file, checked: the SLI, and the objective and window it asks for."""
    name: str
    title: str
    description: str
    good: Selector
    valid: Selector
    handler_good: Selector     # the same SLI per handler (another metric when the SLI's has no handler label)
    handler_valid: Selector
    objective: float
    window: str
    labels: dict
    file: str                  # slos/<name>.yml
    lines: dict                # key path (`sli.good`) -> line, for messages

    @property
    def alert_stem(self) -> str:
        """api_availability -> ApiAvailability."""
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def scrape_job(self) -> str:
        return self.valid.job

    def where(self, key: str) -> str:
        return f"{self.file}:{self.lines[key]}" if key in self.lines else self.file


@dataclass(frozen=True)
class Objective:
    """An SLO with the stack's settings applied: what the rules and alerts are built from."""
    slo: Slo
    objective: float
    window: str
    burn_rates: tuple          # one per SLO_ALERT_WINDOWS pair

    @property
    def error_budget(self) -> Decimal:
        """The share of valid events that may be bad: 1 - objective, exactly as written."""
        return 1 - _decimal(self.objective)

    def threshold(self, burn_rate: float) -> Decimal:
        """The error ratio at which a burn rate is reached: burn rate x (1 - objective)."""
        return _decimal(burn_rate) * self.error_budget


# --------------------------------------------------------------------------
# The error budget in time (for people and for the change report).
# --------------------------------------------------------------------------
def _decimal(number: float) -> Decimal:
    # repr() is the shortest text that reads back as the same float: 0.995, not 0.99499999...
    return Decimal(repr(float(number)))


def error_budget_seconds(objective: float, window: str) -> float:
    """How much of `window` may be bad under `objective`: 0.995 over 28d -> 12096.0 (3h21m36s).

    Exact decimal arithmetic, so 99.5 % of 28 days is 3h21m36s and not a
    float a hair below it. Raises ValueError for an objective outside (0, 1)
    or a window that is not a Prometheus duration.
    """
    objective = objective_value(objective)
    seconds = Decimal(repr(duration_seconds(window)))
    return float((1 - _decimal(objective)) * seconds)


def duration_text(seconds: float) -> str:
    """Seconds as a Prometheus-style duration: 12096 -> 3h21m36s, 0.5 -> 500ms, 0 -> 0s."""
    milliseconds = round(seconds * 1000)
    if milliseconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, milliseconds = divmod(milliseconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def error_budget_text(objective: float, window: str) -> str:
    """`99.5 % over 28d` -> '3h21m36s': the error budget as a duration."""
    return duration_text(error_budget_seconds(objective, window))


# --------------------------------------------------------------------------
# Reading and checking SLO files.
# --------------------------------------------------------------------------
def slo_files(directory: Optional[Path] = None) -> list[Path]:
    """Every SLO file, in a stable order; InputError naming any other file in the folder."""
    return data_files(directory or SLOS_DIR, SLO_SUFFIX, holds="the service-level objectives",
                      one="an SLO file", convention=f"SLO files end in {SLO_SUFFIX} (one SLO per file)",
                      renameable=(".yaml", ".yml"))


def _key_lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """Key path -> line of every mapping key in a composed YAML document."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}{key.value}"
            lines.setdefault(path, key.start_mark.line + 1)
            lines.update({k: v for k, v in _key_lines(value, path + ".").items() if k not in lines})
    return lines


def _duplicates(node: yaml.Node, where: str) -> Optional[str]:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if key.value in seen:
                return f"{where}:{line}: {key.value} is written twice (first on line {seen[key.value]})"
            seen[key.value] = line
            found = _duplicates(value, where)
            if found:
                return found
    return None


def parse_selector(text: str) -> Selector:
    """A vector selector with a `job="..."` matcher, or ValueError saying what is wrong."""
    metric_match = _METRIC.match(text)
    if not metric_match or not text[metric_match.end():].startswith("{") or not text.rstrip().endswith("}"):
        raise ValueError("a PromQL selector such as http_requests_total{job=\"scheduler-backend\"} (a metric "
                         "name and its label matchers, no function: the rules add rate() and sum())")
    inside = text[metric_match.end() + 1: text.rstrip().rindex("}")]
    matchers: list[tuple[str, str, str]] = []
    position = 0
    while inside[position:].strip():
        matcher = _MATCHER.match(inside, position)
        if not matcher:
            raise ValueError(f"label matchers such as job=\"scheduler-backend\", status!=\"5xx\"; cannot read "
                             f"{inside[position:].strip()!r}")
        matchers.append(matcher.groups())
        position = matcher.end()
        if position < len(inside):
            if inside[position] != ",":
                raise ValueError(f"label matchers separated by commas; cannot read {inside[position:].strip()!r}")
            position += 1
    jobs = [value for name, op, value in matchers if name == "job" and op == "="]
    if len(jobs) != 1:
        raise ValueError(f"a selector with exactly one job=\"...\" matcher, such as job=\"{c.JOB_BACKEND}\": the "
                         "alerts name the scrape job, so a target that is down silences them")
    return Selector(text.strip(), metric_match.group(1), jobs[0], tuple(matchers))


def _unknown(keys: dict, allowed: tuple[str, ...], lines: dict, where: str, prefix: str = "") -> None:
    for key in keys:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise InputError(f"{where}:{lines.get(prefix + str(key), '?')}: unknown key {key!r}{hint}; an SLO has "
                             f"{', '.join(prefix + k for k in allowed)}")


def check_slo_file(path: Path) -> Slo:
    """The SLO a file describes, or InputError naming the file, line and what is allowed."""
    where = f"{path.parent.name}/{path.name}"
    try:
        text = path.read_text()
    except UnicodeDecodeError as error:
        raise InputError(f"{where}: not UTF-8 text ({error.reason})") from None
    try:
        root = yaml.compose(text)
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(yaml_error_text(where, error)) from None
    if not isinstance(document, dict) or root is None:
        raise InputError(f"{where}: an SLO file is a mapping with {', '.join(KEYS)}")
    duplicate = _duplicates(root, where)
    if duplicate:
        raise InputError(duplicate)
    lines = _key_lines(root)

    def at(key: str) -> str:
        return f"{where}:{lines[key]}" if key in lines else where

    _unknown(document, KEYS, lines, where)
    missing = [key for key in KEYS if key not in document]
    if missing:
        raise InputError(f"{where}: needs {', '.join(missing)} (an SLO has {', '.join(KEYS)})")
    name = document["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(f"{at('name')}: name {name!r} must be lower-case words joined by '_', such as api_latency")
    if name != path.stem:
        raise InputError(f"{at('name')}: name {name!r} must be the file's name ({path.stem}); one SLO per file")
    for key in ("title", "description"):
        if not isinstance(document[key], str) or not document[key].strip():
            raise InputError(f"{at(key)}: {key} must be text that says what the SLO promises")

    sli = document["sli"]
    if not isinstance(sli, dict):
        raise InputError(f"{at('sli')}: sli is a mapping with good and valid (and optionally handlers)")
    _unknown(sli, SLI_KEYS, lines, where, "sli.")

    def selectors(section: Any, prefix: str) -> tuple[Selector, Selector]:
        found = []
        for key in SELECTOR_KEYS:
            if not isinstance(section.get(key), str):
                raise InputError(f"{at(prefix.rstrip('.'))}: {prefix}{key} is missing: the SLI is good events over "
                                 "valid events, each a PromQL selector")
            try:
                found.append(parse_selector(section[key]))
            except ValueError as error:
                raise InputError(f"{at(prefix + key)}: {prefix}{key} must be {error}") from None
        return found[0], found[1]

    good, valid = selectors(sli, "sli.")
    if "handlers" in sli:
        if not isinstance(sli["handlers"], dict):
            raise InputError(f"{at('sli.handlers')}: sli.handlers is a mapping with good and valid selectors "
                             "whose series carry a handler label")
        _unknown(sli["handlers"], SELECTOR_KEYS, lines, where, "sli.handlers.")
        handler_good, handler_valid = selectors(sli["handlers"], "sli.handlers.")
    else:
        handler_good, handler_valid = good, valid
    jobs = {s.job for s in (good, valid, handler_good, handler_valid)}
    if len(jobs) != 1:
        raise InputError(f"{at('sli')}: every selector must name the same job (found {', '.join(sorted(jobs))}): "
                         "good and valid events come from one scrape job")

    try:
        objective = objective_value(document["objective"])
    except ValueError as error:
        raise InputError(f"{at('objective')}: objective is {document['objective']!r}; allowed: {error}") from None
    try:
        window = slo_window_value(document["window"])
    except ValueError as error:
        raise InputError(f"{at('window')}: window is {document['window']!r}; allowed: {error}") from None

    labels = document["labels"]
    if not isinstance(labels, dict):
        raise InputError(f"{at('labels')}: labels is a mapping with {', '.join(LABEL_KEYS)}")
    _unknown(labels, LABEL_KEYS, lines, where, "labels.")
    for key in LABEL_KEYS:
        if not isinstance(labels.get(key), str) or not labels[key].strip():
            raise InputError(f"{at('labels')}: labels.{key} is missing: every alert carries "
                             f"{', '.join(LABEL_KEYS)}")
    return Slo(name=name, title=document["title"].strip(), description=" ".join(document["description"].split()),
               good=good, valid=valid, handler_good=handler_good, handler_valid=handler_valid,
               objective=objective, window=window, labels={k: labels[k] for k in LABEL_KEYS},
               file=where, lines=lines)


def load_slos(directory: Optional[Path] = None) -> list[Slo]:
    """Every SLO file, read and checked."""
    return [check_slo_file(path) for path in slo_files(directory)]


# --------------------------------------------------------------------------
# The stack's settings applied.
# --------------------------------------------------------------------------
def apply_settings(settings: Settings, slos: list[Slo]) -> list[Objective]:
    """Each SLO with the stack's objective, window and burn rates, or an error naming the setting or file line."""
    objectives = []
    for slo in slos:
        keys = slo_setting_keys(slo.name)
        missing = [key for key in keys if key not in SETTINGS_BY_KEY]
        if missing:
            raise InputError(f"{slo.file}: SLO {slo.name} has no settings ({', '.join(missing)}); add "
                             f"*_slo_settings({slo.name!r}, ...) to SETTINGS in components/settings.py so a stack "
                             "can override its objective, window and burn rates")
        objective_key, window_key, burn_key = keys
        values = {key: getattr(settings, SETTINGS_BY_KEY[key].field) for key in keys}
        objective = values[objective_key] if values[objective_key] is not None else slo.objective
        window = values[window_key] if values[window_key] is not None else slo.window
        burn_rates = tuple(values[burn_key])
        found = Objective(slo, objective, window, burn_rates)

        for (severity, long, short), rate in zip(SLO_ALERT_WINDOWS, burn_rates):
            threshold = found.threshold(rate)
            if threshold >= 1:
                lowest_objective = 1 - Decimal(1) / _decimal(max(burn_rates))
                message = (f"gives the {severity} alert over {long} and {short} an error ratio threshold of "
                           f"{rate:g} x (1 - {objective:g}) = {_number(threshold)}; an error ratio never exceeds 1, "
                           "so it could never fire. Allowed: an objective above "
                           f"{_number(lowest_objective.quantize(Decimal('0.000001'), ROUND_UP))} with these burn rates, or lower "
                           f"burn rates ({burn_key})")
                if values[objective_key] is None and values[burn_key] != SETTINGS_BY_KEY[burn_key].parse(
                        SETTINGS_BY_KEY[burn_key].default):
                    raise settings_error(settings, burn_key, f"is {_rates(burn_rates)}; with the objective "
                                         f"{objective:g} of {slo.where('objective')} it {message}")
                if values[objective_key] is None:
                    raise InputError(f"{slo.where('objective')}: objective {objective:g} {message}")
                raise settings_error(settings, objective_key, f"is {objective:g}; it {message}")

        retention = settings.retention_time
        if duration_seconds(window) > duration_seconds(retention):
            problem = (f"the {slo.name} SLO's window ({window}) is longer than retentionTime ({retention}): "
                       "Prometheus would no longer hold the oldest part of the window, and the SLI and the budget "
                       "left would be counted over fewer days than the window")
            if values[window_key] is not None:
                raise settings_error(settings, window_key, f"is {window}; allowed: at most retentionTime "
                                     f"({retention}), or {problem.split(': ', 1)[1]}")
            raise settings_error(settings, "retentionTime", f"is {retention}; allowed: at least {window}, as "
                                 f"{problem}; raise retentionTime or shorten the window ({window_key})")
        objectives.append(found)
    return objectives


def _number(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 0.0720 -> 0.072, 14.40 -> 14.4, 1E+1 -> 10."""
    return format(value.normalize(), "f")


def _rates(rates: tuple) -> str:
    return ",".join(f"{rate:g}" for rate in rates)


# --------------------------------------------------------------------------
# The generated rule group.
# --------------------------------------------------------------------------
def _rate(selector: Selector, window: str, by: str = "") -> str:
    return f"sum{by}(rate({selector.text}[{window}]))"


def _bad_rate(good: Selector, valid: Selector, window: str, by: str = "") -> str:
    """Valid minus good events per second. A labelled counter has no series before its first event:
    where no good series exists yet (every request failing since the start), good reads as 0, not as
    nothing, so the errors still show."""
    return (f"{_rate(valid, window, by)}\n  - ({_rate(good, window, by)} or 0 * {_rate(valid, window, by)})")


def _recorded_ratio(slo: str, window: str) -> str:
    """The error ratio over a window of two hours or more, from the recorded 5-minute rates summed over it."""
    return (f"sum_over_time({_selector('slo:sli_error:rate5m', slo)}[{window}])\n"
            f"  / (sum_over_time({_selector('slo:sli_valid:rate5m', slo)}[{window}]) > 0)\n")


def _good_within_valid(good: Selector, valid: Selector) -> Optional[tuple[tuple, list[str]]]:
    """The matchers that make good events out of valid ones, and the labels they name, when good events are
    valid events' series that carry given labels (the same metric with more matchers); None otherwise."""
    extra = tuple(m for m in good.matchers if m not in valid.matchers)
    if good.metric != valid.metric or not set(valid.matchers) <= set(good.matchers) or not extra:
        return None
    return extra, sorted({label for label, _, _ in extra})


_NEGATED = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}


def _handler_bad_rate(good: Selector, valid: Selector, window: str) -> str:
    """Each handler's valid minus good events per second (see _bad_rate). Where one more matcher makes good
    events out of valid ones, the bad events are the valid series that fail it: their rates, and 0 for every
    handler without such a series, read the valid series once instead of twice, and the good ones not at all."""
    within = _good_within_valid(good, valid)
    by = " by (handler) "
    if not within or len(within[0]) != 1:
        return _bad_rate(good, valid, window, by)
    (label, op, value), = within[0]
    bad = Selector(f'{valid.text[:valid.text.rindex("}")].rstrip()}, {label}{_NEGATED[op]}"{value}"}}', valid.metric,
                   valid.job)
    return f"{_rate(bad, window, by)}\n  or 0 * {_rate(valid, window, by)}"


def _tiled_sum(name: str, slo: str, window: str) -> str:
    """A recorded 5-minute rate added up over the back-to-back 5-minute tiles that make up `window`.

    The recording at the evaluation itself covers the last 5 minutes, the one
    `offset 5m` the 5 before, and so on: the evaluations come exactly one
    interval apart, so each offset lands on an earlier recording and the tiles
    cover the window once, as a rate over the raw counters would (they differ
    only where a counter starts or restarts inside a tile). A tile with no
    recording (before a new Prometheus's first, or while the backend's scrape
    fails) counts as no requests, with the SLO's label taken from its objective
    series, which every evaluation records: one missing tile must not empty the
    sum and end an alert while the rest of the window still holds the errors.
    """
    tile_seconds = duration_seconds(TILE)
    tiles, rest = divmod(duration_seconds(window), tile_seconds)
    if rest or tiles < 2:
        raise ValueError(f"a window made of {TILE} tiles is a multiple of {TILE} and longer than it, not {window}")
    recorded, none = _selector(name, slo), f"0 * {_selector('slo:objective:ratio', slo)}"
    terms = [f"({recorded}{f' offset {duration_text(k * tile_seconds)}' if k else ''} or {none})"
             for k in range(int(tiles))]
    return "(\n  " + "\n  + ".join(terms) + "\n)"


def _recorded_bad_rate(slo: str, window: str) -> str:
    """Valid minus good events per second over a window, from that window's recorded rates (see _bad_rate)."""
    valid, good = _selector(f"slo:sli_valid:rate{window}", slo), _selector(f"slo:sli_good:rate{window}", slo)
    return f"{valid}\n  - ({good} or 0 * {valid})"


def _selector(name: str, slo: str, **labels: str) -> str:
    matchers = ", ".join(f'{key}="{value}"' for key, value in {"slo": slo, **labels}.items())
    return f"{name}{{{matchers}}}"


def _alert_name(objective: Objective, severity: str) -> str:
    return f"{objective.slo.alert_stem}BudgetBurn" + ("Critical" if severity == "critical" else "")


def alert_names(objective: Objective) -> list[str]:
    return [_alert_name(objective, severity) for severity in dict.fromkeys(s for s, _, _ in SLO_ALERT_WINDOWS)]


def _recording_rules(objective: Objective) -> list[dict]:
    slo = objective.slo
    name = slo.name
    label = {"slo": name}
    rules: list[dict] = [
        {"record": "slo:objective:ratio", "expr": f"vector({objective.objective!r})", "labels": label},
        {"record": "slo:error_budget:ratio", "expr": f"vector({_number(objective.error_budget)})", "labels": label},
        {"record": "slo:window:seconds", "expr": f"vector({_number(Decimal(repr(duration_seconds(objective.window))))})",
         "labels": label},
    ]
    for (severity, long, short), rate in zip(SLO_ALERT_WINDOWS, objective.burn_rates):
        rules.append({"record": "slo:burn_rate:threshold", "expr": f"vector({rate:g})",
                      "labels": {**label, "severity": severity, "long_window": long, "short_window": short}})
    # The 5-minute window rates the raw counters: the valid and the good events' rates are recorded
    # first and the ratio is taken from them (rules of a group run in order and each sees the samples
    # the earlier ones wrote). Where good events are valid events' series with given labels
    # (status!="5xx"), the valid ones are rated once, per value of those labels, and both sums are
    # taken from that: every raw series is read once.
    within = _good_within_valid(slo.good, slo.valid)
    if within:
        extra, split = within
        level = "_".join(["slo", *split])
        rules += [
            {"record": f"{level}:sli_valid:rate{TILE}",
             "expr": _rate(slo.valid, TILE, f" by ({', '.join(split)}) "), "labels": label},
            {"record": f"slo:sli_valid:rate{TILE}",
             "expr": f"sum({_selector(f'{level}:sli_valid:rate{TILE}', name)})", "labels": label},
            {"record": f"slo:sli_good:rate{TILE}",
             "expr": f"sum({_selector(f'{level}:sli_valid:rate{TILE}', name)[:-1]}, "
                     f"{', '.join(f'{k}{op}{chr(34)}{v}{chr(34)}' for k, op, v in extra)}}})",
             "labels": label},
        ]
    else:
        rules += [
            {"record": f"slo:sli_valid:rate{TILE}", "expr": _rate(slo.valid, TILE), "labels": label},
            {"record": f"slo:sli_good:rate{TILE}", "expr": _rate(slo.good, TILE), "labels": label},
        ]
    rules.append({"record": f"slo:sli_error:rate{TILE}", "expr": _recorded_bad_rate(name, TILE) + "\n",
                  "labels": label})
    # The windows under two hours (30m, 1h) add up the 5-minute tiles that make them up. Rating the raw
    # counters over 1h and 30m read each request series' samples of the last hour and half hour every
    # minute: at 100 times today's handlers that was most of the group's time (python -m benchmark).
    # The tiles read two recorded series per tile and cover the same window with no lag, where
    # summing every evaluation's 5-minute rate (as the longer windows do) would weigh the last five
    # minutes less and page a full outage two minutes later.
    # Every window from two hours on sums the recorded 5-minute rates of every evaluation in it: a
    # rate over the raw counters reads every sample of every handler's series in the window on each
    # evaluation (a 3-day window at 100 times today's handlers took most of the group's minute), while
    # the sums read one series. Each request weighs the same in the sums; they differ from a rate over
    # the window only at its edges, by under 5 minutes.
    for window in ALERT_RATIO_WINDOWS:
        if window == TILE:
            expr = (f"{_selector(f'slo:sli_error:rate{TILE}', name)}\n"
                    f"  / ({_selector(f'slo:sli_valid:rate{TILE}', name)} > 0)\n")
        elif duration_seconds(window) < RECORDED_RATIO_FROM_SECONDS:
            expr = (f"{_tiled_sum(f'slo:sli_error:rate{TILE}', name, window)}\n"
                    f"/\n({_tiled_sum(f'slo:sli_valid:rate{TILE}', name, window)} > 0)\n")
        else:
            expr = _recorded_ratio(name, window)
        rules.append({"record": f"slo:sli_error:ratio_rate{window}", "expr": expr, "labels": label})
    rules += [
        {"record": "slo:sli_error:ratio_window", "expr": _recorded_ratio(name, objective.window), "labels": label},
        {"record": "slo:error_budget_remaining:ratio",
         "expr": f"1 - {_selector('slo:sli_error:ratio_window', name)} / {_number(objective.error_budget)}",
         "labels": label},
        {"record": "slo_handler:sli_error:rate5m",
         "expr": _handler_bad_rate(slo.handler_good, slo.handler_valid, "5m") + "\n", "labels": label},
        # Only the handlers with errors, for the dashboard's week and month views: at any moment
        # few of the API's routes fail, and summing every route's zeros over a week read most
        # of the dashboard's samples (python -m benchmark). The sums are the same without them.
        {"record": "slo_handler:sli_error_nonzero:rate5m",
         "expr": f"{_selector('slo_handler:sli_error:rate5m', name)} > 0\n", "labels": label},
    ]
    return rules


def _alerts(objective: Objective) -> list[dict]:
    slo = objective.slo
    name = slo.name
    budget = error_budget_text(objective.objective, objective.window)
    alerts = []
    for severity in dict.fromkeys(s for s, _, _ in SLO_ALERT_WINDOWS):
        pairs = [(long, short, rate) for (s, long, short), rate in zip(SLO_ALERT_WINDOWS, objective.burn_rates)
                 if s == severity]
        branches = []
        for long, short, rate in pairs:
            threshold = _number(objective.threshold(rate))
            branches.append(f"(\n  {_selector(f'slo:sli_error:ratio_rate{long}', name)} > {threshold}\n"
                            f"  and\n  {_selector(f'slo:sli_error:ratio_rate{short}', name)} > {threshold}\n)")
        alert = _alert_name(objective, severity)
        page = severity == "critical"
        conditions = " or ".join(f"{rate:g}x over {long} and {short}" for long, short, rate in pairs)
        burns = " and ".join(
            f"{{{{ with query `{_selector(f'slo:sli_error:ratio_rate{long}', name)} / "
            f"{_number(objective.error_budget)}` }}}}{{{{ . | first | value | printf \"%.1f\" }}}}"
            f"{{{{ else }}}}n/a{{{{ end }}}}x over {long}" for long, _, _ in pairs)
        left = (f"{{{{ with query `{_selector('slo:error_budget_remaining:ratio', name)} * 100` }}}}"
                f"{{{{ . | first | value | printf \"%.1f\" }}}}%{{{{ else }}}}an unknown share{{{{ end }}}}")
        slowest = min(rate for _, _, rate in pairs)
        lasts = duration_text(duration_seconds(objective.window) / slowest)
        percent = _number(_decimal(objective.objective) * 100)
        alerts.append({
            "alert": alert,
            "expr": "\nor\n".join(branches) + "\n",
            "labels": {
                "severity": severity,
                "page": "true" if page else "false",
                **slo.labels,
                "scrape_job": slo.scrape_job,
                "slo": name,
            },
            "annotations": {
                "summary": (f"{slo.title} is burning its error budget at {slowest:g}x or more: at that pace the "
                            f"{objective.window} budget is spent within {lasts}."),
                "description": (
                    f"SLO {{{{ $labels.slo }}}} ({slo.title}, {percent} % over {objective.window}): "
                    f"{{{{ $value | humanizePercentage }}}} of requests failed its SLI over the alert's long window; "
                    f"the error budget burns at {burns} ({'pages' if page else 'opens a ticket'} at {conditions}). "
                    f"{left} of the {objective.window} error budget ({budget}) is left."),
                "runbook_url": f"{RUNBOOK_BASE_URL_TOKEN}/{alert}.md",
                "dashboard_url": (f"{GRAFANA_URL_TOKEN}/d/{c.SLO_DASHBOARD_UID}/{c.SLO_DASHBOARD_UID}"
                                  f"?var-slo={name}&viewPanel={BURN_RATE_PANEL}"),
                "action_required": (
                    "Open the Scheduler SLOs dashboard, find the handlers spending the budget and stop the bad "
                    "requests now: roll back the last deployment or fix the failing dependency." if page else
                    "Open a ticket: find the handlers spending the budget on the Scheduler SLOs dashboard and fix "
                    "them before the budget runs out."),
            },
        })
    return alerts


class _Dumper(yaml.SafeDumper):
    """Multi-line expressions as literal blocks, as a person would write them; no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def generate_rule_text(objectives: list[Objective]) -> str:
    """The rule file of group scheduler_slos, with the runbook and dashboard link placeholders unfilled."""
    rules: list[dict] = []
    for objective in objectives:
        rules += _recording_rules(objective) + _alerts(objective)
    sources = ", ".join(objective.slo.file for objective in objectives)
    header = (f"# Generated by components/renderers/slos.py from {sources or 'no SLO file'} and the stack's "
              "SLO settings;\n# do not edit: change the SLO files or the settings.\n")
    body = yaml.dump({"groups": [{"name": GROUP, "interval": GROUP_INTERVAL, "rules": rules}]},
                     Dumper=_Dumper, sort_keys=False, width=1_000_000, allow_unicode=True)
    return header + body


def slo_rule_file(settings: Settings, slos: Optional[list[Slo]] = None, taken: tuple[str, ...] = ()) -> RuleFile:
    """The generated group as a rule file, deployed and checked like those in rules/.

    `taken` lists the names of the rule files in rules/: one named like the
    generated group would be deployed over it, so it is an error.
    """
    if GROUP_FILE in taken:
        raise InputError(f"rules/{GROUP_FILE}: the group {GROUP} is generated from slos/*.yml; give this file "
                         "another name")
    slos = load_slos() if slos is None else slos
    if not slos:
        raise InputError(f"{SLOS_DIR.name}/: no SLO files")
    text = generate_rule_text(apply_settings(settings, slos))
    return RuleFile(GROUP_FILE, text, check_rule_file(GROUP_FILE, text))
