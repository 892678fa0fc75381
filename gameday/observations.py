"""What a game day observed, as plain records: written by gameday/run.py, judged by gameday/verdict.py.

The two never import each other: the run fills an Observations record and
the verdict reads nothing else, so the verdict can be checked on a made-up
record and the run can change how it observes without touching the verdict.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from gameday.plan import Slot, Timing
from gameday.standins import Notification

# Disruption kinds, as the report names them.
KILLED = "one Alertmanager killed"
ROLLED = "Alertmanager rolling restart"
REPLACED = "Prometheus replaced with an empty data directory"
ALERTMANAGER_DISRUPTIONS = (KILLED, ROLLED)


@dataclass
class Disruption:
    kind: str
    what: str
    started: float
    ended: Optional[float] = None     # back at full strength


@dataclass
class AlertSeen:
    """One episode of an alert in the first Prometheus replica: when it went pending, fired, went away."""
    labels: dict
    pending: Optional[float] = None
    firing: Optional[float] = None
    last_seen: float = 0.0
    gone: Optional[float] = None
    active_at: Optional[str] = None


@dataclass
class SilenceMade:
    """A silence a scenario made: where, when, on which replicas it was active, when it was expired."""
    made_at: float
    id: Optional[str] = None
    replica: Optional[str] = None
    active_on: list[str] = field(default_factory=list)
    expired_at: Optional[float] = None
    problem: str = ""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Result:
    checks: list[Check] = field(default_factory=list)
    latency_rows: list[tuple] = field(default_factory=list)
    panels_with_data: int = 0
    panels_total: int = 0
    empty_panels: list[str] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    # disruption kind -> (notifications it answers for, duplicated among them)
    exactly_once: dict[str, tuple[int, int]] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, ok, detail))


@dataclass(frozen=True)
class Observations:
    t0: float                                       # the scenarios' start
    t_end: float                                    # when the run stopped watching
    slots: tuple[Slot, ...]
    timing: Timing
    step_times: Mapping[tuple[str, str], float]     # (scenario, step) -> when it ran
    alerts_seen: Mapping[tuple, AlertSeen]
    notifications: tuple[Notification, ...]
    rejected: tuple[str, ...]                       # requests a stand-in refused
    receiver_kinds: Mapping[str, set[str]]          # Alertmanager receiver -> stand-ins it reaches
    backend_targets: Mapping[str, str]              # scenario -> the backend (host:port) it acts on
    long_running_target: Optional[str]
    # (replica, labels as JSON) -> first seen firing, for the long-running backend
    long_running_alerts: Mapping[tuple[str, str], float]
    disruptions: tuple[Disruption, ...]
    prometheus_replicas: int
    alertmanager_replicas: int
    smtp_requires_tls: bool
    config_changes: tuple[str, ...]                 # besides endpoints, for the report
    api_since: Optional[float] = None               # when the API began serving (the SLOs' good history)
    silences: Mapping[tuple[str, str], SilenceMade] = field(default_factory=dict)   # (scenario, step) ->
    link_bases: Mapping[str, str] = field(default_factory=dict)   # setting -> URL notifications may link under
