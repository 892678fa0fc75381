"""When each scenario runs and how long each notification may take, from the deployed configuration.

The bound of a notification is what the configuration allows, no more:
scrape interval (the change must be scraped) + the group's evaluation
interval (then evaluated) + the alert's `for:` + the route's group_wait.
A resolution may take scrape + evaluation + the route's group_interval
(Alertmanager sends resolutions with the group's next flush).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from alerting.routing import Route, routes_for
from gameday.config import AlertRule
from gameday.procs import GamedayError
from gameday.scenarios import Expectation, Scenario

QUICK_MAX_FOR = 300.0           # --quick: scenarios whose alerts wait 5 minutes or less
QUICK_RESOLUTION_BUDGET = 12.5 * 60   # --quick waits for a resolution only if it is due by then
TOLERANCE = 1.1                 # the latency target: at most 10 % over the configured bound
MARGIN = 20.0                   # seconds after a deadline before a scenario is over


@dataclass(frozen=True)
class Timing:
    scrape: float
    default_evaluation: float
    rules: Mapping[str, AlertRule]
    alertmanager: dict
    environment: str

    def rule(self, alert: str) -> AlertRule:
        if alert not in self.rules:
            raise GamedayError(f"no alert named {alert} in the rendered rule files")
        return self.rules[alert]

    def routes(self, alert: str, labels: Optional[Mapping[str, str]] = None) -> list[Route]:
        rule = self.rule(alert)
        full = {"alertname": alert, "env": self.environment, **rule.labels, **(labels or {})}
        full.pop("replica", None)   # dropped before alerts reach Alertmanager
        return routes_for(self.alertmanager, full)

    def fire_bound(self, alert: str, labels: Optional[Mapping[str, str]] = None) -> float:
        rule = self.rule(alert)
        group_wait = max(route.group_wait for route in self.routes(alert, labels))
        return self.scrape + rule.interval_seconds + rule.for_seconds + group_wait

    def resolve_bound(self, expectation: Expectation, labels: Optional[Mapping[str, str]] = None) -> float:
        if expectation.resolve_within is not None:
            return expectation.resolve_within
        rule = self.rule(expectation.alert)
        group_interval = max(route.group_interval for route in self.routes(expectation.alert, labels))
        return self.scrape + rule.interval_seconds + group_interval


def longest_for(scenario: Scenario, timing: Timing) -> float:
    return max(timing.rule(e.alert).for_seconds for e in scenario.expect)


def awaited_resolutions(scenario: Scenario, timing: Timing, *, quick: bool) -> frozenset[str]:
    """Alerts whose resolved notification the run waits for.

    --quick does not wait for a resolution the configuration allows to take
    longer than the quick budget (e-mail's 30m group_interval, a 10m rule
    window); the report names each one it skipped.
    """
    awaited = set()
    for expectation in scenario.expect:
        if not expectation.resolved_after:
            continue
        cleared = scenario.step(expectation.resolved_after).at
        if not quick or cleared + timing.resolve_bound(expectation) <= QUICK_RESOLUTION_BUDGET:
            awaited.add(expectation.alert)
    return frozenset(awaited)


def duration(scenario: Scenario, timing: Timing, awaited: frozenset[str]) -> float:
    """How long the scenario must run for every expectation to be decided."""
    end = scenario.last_step_at
    for expectation in scenario.expect:
        start = scenario.step(expectation.from_step).at
        fired_by = start + timing.fire_bound(expectation.alert) * TOLERANCE
        end = max(end, fired_by)
        if expectation.alert in awaited:
            cleared = scenario.step(expectation.resolved_after).at
            end = max(end, cleared + timing.resolve_bound(expectation) * TOLERANCE)
    return end + MARGIN


@dataclass(frozen=True)
class Slot:
    scenario: Scenario
    start: float       # seconds after the game day's start
    end: float
    awaited: frozenset[str]


def schedule(scenarios: list[Scenario], timing: Timing, *, quick: bool) -> list[Slot]:
    """Scenarios of one lane one after another, lanes side by side.

    An exclusive scenario runs before every other backend scenario: taking the
    backend target down raises PrometheusTargetDown, which holds back every
    alert of the backend's scrape job (the inhibition is per scrape_job, as it
    must be for the one backend the stack deploys). The others start once its
    alert can no longer be firing. Exclusive scenarios are left out of --quick,
    where that wait would add minutes.
    """
    chosen = [s for s in scenarios
              if not quick or (longest_for(s, timing) <= QUICK_MAX_FOR and not s.exclusive)]
    if not chosen:
        raise GamedayError("no scenario selected")
    exclusive_end = 0.0
    slots = []
    for scenario in [s for s in chosen if s.exclusive]:
        awaited = awaited_resolutions(scenario, timing, quick=quick)
        # Two targets down one after the other raise the same alert: the
        # second waits until the first's resolution has gone out.
        expected = {e.alert for e in scenario.expect}
        start = max([exclusive_end] + [slot.end for slot in slots
                                       if expected & {e.alert for e in slot.scenario.expect}])
        slots.append(Slot(scenario, start, start + duration(scenario, timing, awaited), awaited))
        longest_interval = max(rule.interval_seconds for rule in timing.rules.values())
        exclusive_end = start + scenario.last_step_at + timing.scrape + longest_interval + MARGIN
    lane_clock: dict[str, float] = {}
    for scenario in [s for s in chosen if not s.exclusive]:
        lane = scenario.lane or f"own:{scenario.name}"
        start = lane_clock.get(lane, exclusive_end if scenario.backend else 0.0)
        awaited = awaited_resolutions(scenario, timing, quick=quick)
        end = start + duration(scenario, timing, awaited)
        lane_clock[lane] = end
        slots.append(Slot(scenario, start, end, awaited))
    _check_no_shared_alerts(slots)
    return slots


def _check_no_shared_alerts(slots: list[Slot]) -> None:
    """Notifications are told apart by alert name, so two overlapping scenarios may not expect the same alert."""
    for index, first in enumerate(slots):
        for second in slots[index + 1:]:
            overlap = first.start < second.end and second.start < first.end
            shared = ({e.alert for e in first.scenario.expect} & {e.alert for e in second.scenario.expect}
                      - (first.scenario.shares & second.scenario.shares))
            if overlap and shared:
                raise GamedayError(f"scenarios {first.scenario.name} and {second.scenario.name} run at the same "
                                   f"time and both expect {sorted(shared)}; put them in one lane")
