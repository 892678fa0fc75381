"""Scenario files (gameday/scenarios/*.yml): what happens, and what must reach whom.

A scenario is a list of timed steps acting on a simulated backend or on the
real Celery side, and a list of expectations about alerts:

    title: Utilization climbs past 80 % then past 90 %
    backend: true                  # this scenario gets a simulated backend of its own;
                                   # `long-running`: it acts on the backend with weeks of history
    lane: celery                   # optional: scenarios of one lane run one after another
    exclusive: true                # optional: no other backend scenario runs meanwhile (see backend_down.yml)
    shares: [N2ContingencyFailed]  # optional: alerts another scenario may expect at the same time
    steps:
      - at: 0s
        name: above-80             # expectations refer to steps by name
        set: {metric: resilience_utilization_rate, labels: {component: overall}, value: 0.85}
    expect:
      - alert: CriticalUtilization
        from: above-90             # the step that makes the condition true
        notify: [pagerduty]        # must arrive there, exactly once, and at no other receiver
        resolved_after: clear      # a resolved notification must follow this step
      - alert: HighUtilization
        from: above-80
        inhibited: true            # must fire in Prometheus and reach no receiver

Step actions: set / inc / observe (backend metrics; a list or one), backend:
down|up, scrape: cut|restored (Prometheus cannot reach the backend, which
runs on and keeps counting), workers: stop|start, send: {task, count, kwargs},
purge: QUEUE, and `repeat: {every: 15s, until: 6m}` to repeat inc/observe/send.

    api: {failing: 1/3}            # that share of the API's requests answers 5xx from now on
                                   # (the long-running backend serves the API's traffic)
    silence: {matchers: [alertname=X], duration: 1h, author: NAME, comment: WHY}
                                   # a silence made with the silences package, as an operator would
    unsilence: STEP                # expire the silence that step made

An expectation with `silenced_until: STEP` is about an alert a silence
holds back: it must fire in Prometheus and reach nobody until STEP expires
the silence, then reach its receivers at the group's next flush.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

from components.settings import duration_seconds
from gameday.procs import GamedayError

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
RECEIVERS = ("pagerduty", "slack", "email", "watchdog")
BACKEND_ACTIONS = ("set", "inc", "observe")
ACTIONS = BACKEND_ACTIONS + ("backend", "scrape", "workers", "send", "purge", "api", "silence", "unsilence")
SILENCE_KEYS = {"matchers", "duration", "author", "comment"}
TARGET_ACTIONS = {"backend": ("down", "up"), "scrape": ("cut", "restored")}
OWN_BACKEND = "own"
LONG_RUNNING_BACKEND = "long-running"


@dataclass(frozen=True)
class Step:
    at: float
    name: Optional[str]
    actions: Mapping[str, Any]
    every: Optional[float] = None
    until: Optional[float] = None


@dataclass(frozen=True)
class Expectation:
    alert: str
    from_step: str
    notify: tuple[str, ...] = ()
    inhibited: bool = False
    resolved_after: Optional[str] = None
    resolve_within: Optional[float] = None
    labels: Mapping[str, str] = field(default_factory=dict)
    silenced_until: Optional[str] = None     # the step that expires the silence holding it back


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    path: Path
    backend: Optional[str]     # OWN_BACKEND, LONG_RUNNING_BACKEND or None (Celery only)
    lane: Optional[str]
    exclusive: bool
    shares: frozenset[str]
    steps: tuple[Step, ...]
    expect: tuple[Expectation, ...]
    note: str = ""

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    @property
    def last_step_at(self) -> float:
        return max(max(s.at, s.until or 0) for s in self.steps)


def api_share(step: Step) -> Optional[float]:
    """The share of the API's requests failing from this step on, if the step says."""
    return step.actions["api"]["failing"] if "api" in step.actions else None


def _share(value: Any, where: str) -> float:
    try:
        share = float(Fraction(str(value).replace(" ", "")))
    except (ValueError, ZeroDivisionError):
        share = -1.0
    if not 0 <= share <= 1:
        raise GamedayError(f"{where}: `api: {{failing: ...}}` is a share of requests such as 1/3 or 0.05, "
                           f"not {value!r}")
    return share


def _check_silence(spec: Any, where: str) -> None:
    from datetime import datetime, timezone

    from silences import SilenceError, end_of, matchers_from
    if not isinstance(spec, dict) or set(spec) != SILENCE_KEYS:
        raise GamedayError(f"{where}: `silence` takes {sorted(SILENCE_KEYS)}")
    try:
        matchers_from([str(m) for m in spec["matchers"]])
        end_of(datetime.now(timezone.utc), str(spec["duration"]), None)
    except SilenceError as error:
        raise GamedayError(f"{where}: the silence would be refused: {error}") from None


def _seconds(value: Any, where: str) -> float:
    try:
        return float(value) if isinstance(value, (int, float)) else duration_seconds(str(value))
    except ValueError:
        raise GamedayError(f"{where}: {value!r} is not a duration such as 30s or 5m") from None


def load(path: Path) -> Scenario:
    where = path.name
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise GamedayError(f"{where}: not YAML: {error}") from None
    unknown = set(data) - {"title", "backend", "lane", "exclusive", "shares", "steps", "expect", "note"}
    if unknown:
        raise GamedayError(f"{where}: unknown keys {sorted(unknown)}")
    steps = []
    for index, raw in enumerate(data.get("steps") or []):
        here = f"{where} step {index + 1}"
        actions = {k: v for k, v in raw.items() if k in ACTIONS}
        extra = set(raw) - set(ACTIONS) - {"at", "name", "repeat"}
        if extra or not actions:
            raise GamedayError(f"{here}: needs one of {ACTIONS}; unknown keys {sorted(extra)}")
        if any(k in BACKEND_ACTIONS or k in TARGET_ACTIONS for k in actions) and not data.get("backend"):
            raise GamedayError(f"{here}: acts on a backend, but the scenario has no `backend: true`")
        for action, allowed in TARGET_ACTIONS.items():
            if action in actions and actions[action] not in allowed:
                raise GamedayError(f"{here}: `{action}` is one of {allowed}, not {actions[action]!r}")
        if "api" in actions:
            if data.get("backend") != LONG_RUNNING_BACKEND:
                raise GamedayError(f"{here}: the long-running backend serves the API's traffic; `api` needs "
                                   f"`backend: {LONG_RUNNING_BACKEND}`")
            if not isinstance(actions["api"], dict) or set(actions["api"]) != {"failing"}:
                raise GamedayError(f"{here}: `api` takes {{failing: SHARE}}")
            actions["api"] = {"failing": _share(actions["api"]["failing"], here)}
        if "silence" in actions:
            _check_silence(actions["silence"], here)
        repeat = raw.get("repeat") or {}
        steps.append(Step(
            at=_seconds(raw.get("at", 0), here), name=raw.get("name"), actions=actions,
            every=_seconds(repeat["every"], here) if repeat else None,
            until=_seconds(repeat["until"], here) if repeat else None))
    names = [s.name for s in steps if s.name]
    if len(names) != len(set(names)):
        raise GamedayError(f"{where}: step names must be unique")
    silencing = {s.name for s in steps if "silence" in s.actions}
    for step in steps:
        if "unsilence" in step.actions and step.actions["unsilence"] not in silencing:
            raise GamedayError(f"{where}: `unsilence: {step.actions['unsilence']}` names no step that makes a silence")
    expectations = []
    for raw in data.get("expect") or []:
        here = f"{where} expectation {raw.get('alert')}"
        for ref in ("from", "resolved_after", "silenced_until"):
            if raw.get(ref) and raw[ref] not in names:
                raise GamedayError(f"{here}: `{ref}: {raw[ref]}` names no step")
        if raw.get("silenced_until"):
            until = next(s for s in steps if s.name == raw["silenced_until"])
            if "unsilence" not in until.actions or not raw.get("notify"):
                raise GamedayError(f"{here}: `silenced_until` names the step that expires the silence, and the "
                                   "expectation says whom the alert reaches afterwards (`notify`)")
        notify = tuple(raw.get("notify") or ())
        if any(r not in RECEIVERS for r in notify):
            raise GamedayError(f"{here}: notify must list receivers among {RECEIVERS}")
        if bool(notify) == bool(raw.get("inhibited")):
            raise GamedayError(f"{here}: give either `notify` or `inhibited: true`")
        if raw.get("resolved_after") and not notify:
            raise GamedayError(f"{here}: `resolved_after` needs receivers to notify")
        expectations.append(Expectation(
            alert=raw["alert"], from_step=raw["from"], notify=notify, inhibited=bool(raw.get("inhibited")),
            resolved_after=raw.get("resolved_after"),
            resolve_within=_seconds(raw["resolve_within"], here) if raw.get("resolve_within") else None,
            labels={k: str(v) for k, v in (raw.get("labels") or {}).items()},
            silenced_until=raw.get("silenced_until")))
    if not expectations:
        raise GamedayError(f"{where}: a scenario must expect something")
    backend = data.get("backend")
    if backend not in (None, False, True, LONG_RUNNING_BACKEND):
        raise GamedayError(f"{where}: `backend` is true or {LONG_RUNNING_BACKEND}, not {backend!r}")
    return Scenario(name=path.stem, title=data.get("title", path.stem), path=path,
                    backend=OWN_BACKEND if backend is True else (backend or None), lane=data.get("lane"),
                    exclusive=bool(data.get("exclusive")), shares=frozenset(data.get("shares") or ()),
                    steps=tuple(steps),
                    expect=tuple(expectations), note=data.get("note", ""))


def load_all(directory: Path = SCENARIO_DIR) -> list[Scenario]:
    scenarios = [load(p) for p in sorted(directory.glob("*.yml"))]
    if not scenarios:
        raise GamedayError(f"no scenarios in {directory}")
    return scenarios
