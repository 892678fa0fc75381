"""What a game day observed, as plain records: written by gameday/run.py, judged by gameday/verdict.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

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
