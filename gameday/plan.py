"""When each scenario runs and how long each notification may take, from the deployed configuration.

The bound of a notification is what the configuration allows, no more:
scrape interval (the change must be scraped) + the group's evaluation
interval (then evaluated) + the alert's `for:` + the route's group_wait.
A resolution may take scrape + evaluation + the route's group_interval
(Alertmanager sends resolutions with the group's next flush).

An SLO's burn-rate alert has no `for:`; its windows take its place: the
time they need to exceed the thresholds once a share of the API's requests
fails, given the good traffic they held before (gameday/burn.py), and to
fall below again once the failures stop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Optional

from alerting.routing import Route, routes_for
from gameday.burn import RATIO_RECORD, Outage, Pair, Window, pairs_of, time_to_clear, time_to_fire
from gameday.config import AlertRule
from gameday.procs import GamedayError
from gameday.scenarios import Expectation, Scenario, api_share

QUICK_MAX_FOR = 300.0           # --quick: scenarios whose alerts wait 5 minutes or less
QUICK_RESOLUTION_BUDGET = 12.5 * 60   # --quick waits for a resolution only if it is due by then
TOLERANCE = 1.1                 # the latency target: at most 10 % over the configured bound
MARGIN = 20.0                   # seconds after a deadline before a scenario is over
WARMUP = 45.0                   # ordinary traffic before the first scenario (at least: enough for rate())


@dataclass(frozen=True)
class Timing:
    scrape: float
    default_evaluation: float
    rules: Mapping[str, AlertRule]
    alertmanager: dict
    environment: str
    windows: Mapping[tuple[str, str], Window] = field(default_factory=dict)   # the SLOs' (gameday/burn.py)

    def rule(self, alert: str) -> AlertRule:
        if alert not in self.rules:
            raise GamedayError(f"no alert named {alert} in the rendered rule files")
        return self.rules[alert]

    def routes(self, alert: str, labels: Optional[Mapping[str, str]] = None) -> list[Route]:
        rule = self.rule(alert)
        full = {"alertname": alert, "env": self.environment, **rule.labels, **(labels or {})}
        full.pop("replica", None)   # dropped before alerts reach Alertmanager
        return routes_for(self.alertmanager, full)

    def burn_pairs(self, alert: str) -> tuple[Pair, ...]:
        """The window pairs of an SLO burn-rate alert; none for any other alert."""
        rule = self.rule(alert)
        return pairs_of(alert, rule.expr, self.windows) if RATIO_RECORD in rule.expr else ()

    def fire_bound(self, alert: str, labels: Optional[Mapping[str, str]] = None,
                   outage: Optional[Outage] = None) -> float:
        rule = self.rule(alert)
        group_wait = max(route.group_wait for route in self.routes(alert, labels))
        pairs = self.burn_pairs(alert) if outage else ()
        windows = time_to_fire(pairs, outage) if pairs else 0.0
        return self.scrape + rule.interval_seconds + rule.for_seconds + windows + group_wait

    def resolve_bound(self, expectation: Expectation, labels: Optional[Mapping[str, str]] = None,
                      outage: Optional[Outage] = None) -> float:
        if expectation.resolve_within is not None:
            return expectation.resolve_within
        rule = self.rule(expectation.alert)
        group_interval = max(route.group_interval for route in self.routes(expectation.alert, labels))
        pairs = self.burn_pairs(expectation.alert) if outage else ()
        windows = time_to_clear(pairs, outage) if pairs else 0.0
        return self.scrape + rule.interval_seconds + windows + group_interval


def outage_of(scenario: Scenario, expectation: Expectation, timing: Timing, history: float) -> Optional[Outage]:
    """The API outage an expectation's step starts (`api: {failing: ...}`), if it starts one.

    It lasts until the scenario's next `api` step; `history` is how long
    the API had served good traffic before it.
    """
    start = scenario.step(expectation.from_step)
    share = api_share(start)
    if not share:
        return None
    end = min([step.at for step in scenario.steps if step.at > start.at and api_share(step) is not None],
              default=math.inf)
    # The first scrape's errors are never seen: the 5xx series is born with them.
    return Outage(share, max(history, 0.0), end - start.at, hidden=timing.scrape,
                  interval=timing.rule(expectation.alert).interval_seconds)


def history_at(scenario: Scenario, expectation: Expectation, start: float) -> float:
    """Good API traffic before an expectation's step, as planned: the warm-up and the scenarios before it."""
    return WARMUP + start + scenario.step(expectation.from_step).at


def longest_for(scenario: Scenario, timing: Timing) -> float:
    return max(timing.rule(e.alert).for_seconds for e in scenario.expect)


def awaited_resolutions(scenario: Scenario, timing: Timing, *, quick: bool, start: float = 0.0) -> frozenset[str]:
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
        outage = outage_of(scenario, expectation, timing, history_at(scenario, expectation, start))
        if not quick or cleared + timing.resolve_bound(expectation, outage=outage) <= QUICK_RESOLUTION_BUDGET:
            awaited.add(expectation.alert)
    return frozenset(awaited)


def duration(scenario: Scenario, timing: Timing, awaited: frozenset[str], start: float = 0.0) -> float:
    """How long the scenario must run for every expectation to be decided, when it starts at `start`."""
    end = scenario.last_step_at
    for expectation in scenario.expect:
        begins = scenario.step(expectation.from_step).at
        outage = outage_of(scenario, expectation, timing, history_at(scenario, expectation, start))
        fired_by = begins + timing.fire_bound(expectation.alert, outage=outage) * TOLERANCE
        end = max(end, fired_by)
        if expectation.silenced_until:
            # Once the silence ends, the group's next flush sends what it held back.
            flush = max(route.group_interval for route in timing.routes(expectation.alert))
            end = max(end, scenario.step(expectation.silenced_until).at + flush * TOLERANCE)
        if expectation.alert in awaited:
            cleared = scenario.step(expectation.resolved_after).at
            end = max(end, cleared + timing.resolve_bound(expectation, outage=outage) * TOLERANCE)
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
        awaited = awaited_resolutions(scenario, timing, quick=quick, start=start)
        end = start + duration(scenario, timing, awaited, start)
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
