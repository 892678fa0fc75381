"""What the game day proves: expectations per scenario, timelines, latencies, the summary lines."""
from __future__ import annotations

import html
import json
import re
import statistics
from collections import Counter
from typing import Callable, Optional
from urllib.parse import urlsplit

from gameday.observations import (
    ALERTMANAGER_DISRUPTIONS,
    REPLACED,
    AlertSeen,
    Disruption,
    Observations,
    Result,
    SilenceMade,
)
from gameday.plan import TOLERANCE, outage_of
from gameday.scenarios import RECEIVERS
from gameday.standins import Notification


def _arrivals(notes: list, t0: float) -> str:
    """When each copy arrived, to set beside the Alertmanager logs (the kill, the return)."""
    return ", ".join(_clock(n.arrived - t0) for n in notes)


def _clock(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    return f"{sign}{int(seconds // 60)}m{seconds % 60:04.1f}s"


def disruption_periods(disruptions: list[Disruption], end: float) -> list[tuple[Disruption, float, float]]:
    """Each disruption with the time it answers for: from its start until the next of them starts.

    A replica that came back flushes its groups at other moments than its
    peers for as long as those groups live, so a duplicate belongs to the
    latest disruption before it rather than to a fixed window.
    """
    ordered = sorted(disruptions, key=lambda d: d.started)
    return [(d, d.started, ordered[i + 1].started if i + 1 < len(ordered) else end) for i, d in enumerate(ordered)]


def judge_disruptions(obs: Observations, result: Result, unexpected: list[tuple[Notification, str]],
                      duplicates: list[tuple[float, str]]) -> None:
    """Each disruption production sees every week: nothing beyond the expected, each notification once."""
    end = obs.t_end
    spoken = [n for n in obs.notifications if not (n.kind == "watchdog" and n.alertnames == {"Watchdog"})]
    alertmanager = [d for d in obs.disruptions if d.kind in ALERTMANAGER_DISRUPTIONS]
    for disruption, start, until in disruption_periods(alertmanager, end):
        if disruption.ended is None:
            result.add(f"{disruption.kind}: completed", False, f"{disruption.what}: never back")
            continue
        during = [n for n in spoken if start <= n.arrived < until]
        twice = [what for when, what in duplicates if start <= when < until]
        extra = [what for note, what in unexpected if start <= note.arrived < until]
        result.add(f"{disruption.kind}: each notification exactly once, nothing unexpected",
                   not twice and not extra,
                   f"{disruption.what}; {len(during)} notifications from {_clock(start - obs.t0)} to "
                   f"{_clock(until - obs.t0)}, {len(twice)} duplicated, {len(extra)} unexpected"
                   + "".join(f"; {problem}" for problem in twice + extra))
        result.exactly_once[disruption.kind] = (len(during), len(twice))
    # A fresh Prometheus lacks the history some rules read for as long as
    # their windows: it answers for everything until the end of the run.
    for disruption in [d for d in obs.disruptions if d.kind == REPLACED]:
        after = [(note, what) for note, what in unexpected if note.arrived >= disruption.started]
        extra = [what for _, what in after]
        twice = [what for when, what in duplicates if when >= disruption.started]
        pages = [note for note, _ in after if note.kind == "pagerduty" and note.status == "firing"]
        result.add(f"{disruption.kind}: no page, each notification exactly once, nothing unexpected",
                   disruption.ended is not None and not extra and not twice,
                   f"{disruption.what} at {_clock(disruption.started - obs.t0)}; until the end "
                   f"{len(pages)} unexpected pages, {len(extra)} unexpected notifications, {len(twice)} duplicated"
                   + "".join(f"; {what}" for what in (twice + extra)[:10]))


def judge_long_running(obs: Observations, result: Result) -> None:
    """The long-running backend has old counters and no problem: no alert about it may fire,
    on a fresh Prometheus, on a replaced one or after a scrape outage, except what a scenario
    acting on it expects (its target down)."""
    if obs.long_running_target is None:
        return
    expected = [(e.alert, slot) for slot in obs.slots
                if obs.backend_targets.get(slot.scenario.name) == obs.long_running_target
                for e in slot.scenario.expect]
    false = []
    for (replica, labels_json), first_seen in sorted(obs.long_running_alerts.items(), key=lambda kv: kv[1]):
        labels = json.loads(labels_json)
        name = labels["alertname"]
        if any(alert == name and obs.t0 + slot.start <= first_seen <= obs.t0 + slot.end for alert, slot in expected):
            continue
        # The labels that tell its series apart (violation_type, reason...).
        static = set(obs.timing.rules[name].labels) if name in obs.timing.rules else set()
        series = {k: v for k, v in labels.items()
                  if k not in static | {"alertname", "instance", "job", "env", "replica"}}
        which = "{" + ", ".join(f"{k}={v}" for k, v in sorted(series.items())) + "}" if series else ""
        false.append(f"{name}{which} firing on {replica} from {_clock(first_seen - obs.t0)}")
    result.add("the long-running backend's old counters raise no alert (fresh start, restart, replacement, "
               "scrape outage)", not false, "; ".join(false[:10]) or
               f"no alert about {obs.long_running_target} beyond what its scenarios expect")


def judge_silence(obs: Observations, result: Result, scenario, expectation, episode, about: list,
                  label: str, timeline: list) -> Optional[SilenceMade]:
    """A silence made before the alert fired holds it back: it fires in Prometheus, reaches nobody.

    Returns the silence, whose end the notifications are then measured from.
    """
    made_by = scenario.step(expectation.silenced_until).actions["unsilence"]
    silence = obs.silences.get((scenario.name, made_by))
    if silence is None or silence.id is None:
        result.add(f"{label} held back by a silence", False,
                   f"no silence was made: {silence.problem if silence else 'its step never ran'}")
        return None
    timeline.append((silence.made_at, f"silence {silence.id} made on {silence.replica}"))
    if silence.expired_at is None:
        result.add(f"{label} held back by a silence", False, f"silence {silence.id} was never expired: "
                   f"{silence.problem or 'its step never ran'}")
        return silence
    timeline.append((silence.expired_at, f"silence {silence.id} expired"))
    group_wait = max(r.group_wait for r in obs.timing.routes(expectation.alert, episode.labels if episode else {}))
    # The silence is put to the test only if a notification fell due while it was active.
    due = episode.firing + group_wait if episode and episode.firing else None
    leaked = [n for n in about if n.status == "firing" and n.arrived < silence.expired_at]
    tested = due is not None and silence.made_at < episode.firing and due < silence.expired_at
    result.add(f"{label} held back by a silence", tested and not leaked,
               (f"made {_clock(episode.firing - silence.made_at)} before the alert fired in Prometheus; "
                f"its notification was due at {_clock(due - obs.t0)}, expired at "
                f"{_clock(silence.expired_at - obs.t0)}; active on {', '.join(silence.active_on) or 'no replica'} "
                "before it expired; ") if tested else
               ("the alert never fired while the silence was active: nothing proven; " if not leaked else "")
               + (f"reached {', '.join(sorted({n.kind for n in leaked}))} while silenced" if leaked else
                  "nothing reached any receiver meanwhile"))
    return silence


_URL = re.compile(r"""https?://[^\s<>"'`|]+""")


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def links_in(note: Notification) -> list[str]:
    """Every URL a notification carries: in any field of a JSON body, in an e-mail's text and HTML."""
    try:
        texts = [note.text] if note.kind == "email" else _strings(json.loads(note.text))
    except ValueError:
        texts = [note.text]
    return [html.unescape(match.group(0)).rstrip(".,;:)]*") for text in texts for match in _URL.finditer(text)]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def judge_links(obs: Observations, result: Result) -> None:
    """Every link a receiver got leads where the stack says its services are published.

    The external URLs (prometheusUrl, alertmanagerUrl, grafanaUrl) or the
    runbooks, at the revision the rules were rendered with: a link to this
    machine's loopback address or to a default would be dead for the
    person paged.
    """
    if not obs.link_bases:
        return
    origins = {_origin(url): name for name, url in obs.link_bases.items()}
    runbooks = obs.link_bases.get("runbookBaseUrl", "").rstrip("/") + "/"
    wrong: list[str] = []
    seen: Counter = Counter()
    by_kind: Counter = Counter()
    for note in obs.notifications:
        for url in links_in(note):
            by_kind[note.kind] += 1
            name = origins.get(_origin(url))
            if name is None:
                wrong.append(f"{note.kind} {note.status} at {_clock(note.arrived - obs.t0)}: {url}")
            elif name == "runbookBaseUrl" and not url.startswith(runbooks):
                wrong.append(f"{note.kind} {note.status}: {url} is not under the deployed runbooks {runbooks}")
            else:
                seen[name] += 1
    total = sum(by_kind.values())
    result.add("every link in a notification leads to a configured URL or the deployed runbooks",
               total > 0 and not wrong,
               (f"{len(wrong)} of {total} links elsewhere: " + "; ".join(wrong[:8])) if wrong else
               (f"{total} links ({', '.join(f'{k} {n}' for k, n in sorted(by_kind.items()))}): "
                + ", ".join(f"{name} {n}" for name, n in sorted(seen.items()))) if total else
               "no notification carried a link")


def _episode(obs: Observations, expectation, backend: Optional[str], condition_at: float,
             window_end: float) -> Optional[AlertSeen]:
    """The first episode of an expected alert in the scenario's time, on the scenario's backend."""
    episodes = [seen for seen in obs.alerts_seen.values()
                if seen.labels.get("alertname") == expectation.alert
                and all(seen.labels.get(k) == v for k, v in expectation.labels.items())
                and (backend is None or "instance" not in seen.labels or seen.labels["instance"] == backend)
                and seen.pending is not None and seen.pending >= condition_at - 10
                and seen.pending <= window_end]
    return min(episodes, key=lambda e: e.pending) if episodes else None


def judge(obs: Observations, result: Result, say: Callable[[str], None]) -> None:
    """Every check of the run into `result`, the timelines and the report through `say`."""
    notes = list(obs.notifications)
    kinds = obs.receiver_kinds
    expected_by_time: list[tuple[float, float, set[str]]] = []
    # (when the second copy arrived, what was duplicated)
    exactly_once_problems: list[tuple[float, str]] = []
    skipped: list[str] = []

    for slot in sorted(obs.slots, key=lambda s: s.start):
        scenario = slot.scenario
        start = obs.t0 + slot.start
        window_end = obs.t0 + slot.end + 60
        expected_by_time.append((start, window_end, {e.alert for e in scenario.expect}))
        backend = obs.backend_targets.get(scenario.name)
        timeline: list[tuple[float, str]] = []
        for step in scenario.steps:
            if step.name and (scenario.name, step.name) in obs.step_times:
                timeline.append((obs.step_times[(scenario.name, step.name)], f"step {step.name}"))
        say(f"\n-- {scenario.name}: {scenario.title}")
        for expectation in scenario.expect:
            label = f"{scenario.name}: {expectation.alert}"
            condition_at = obs.step_times.get((scenario.name, expectation.from_step))
            if condition_at is None:
                result.add(label, False, f"step {expectation.from_step} never ran")
                continue
            episode = _episode(obs, expectation, backend, condition_at, window_end)
            if episode:
                timeline.append((episode.pending, f"{expectation.alert} pending"))
                if episode.firing:
                    timeline.append((episode.firing, f"{expectation.alert} firing"))
                if episode.gone:
                    timeline.append((episode.gone, f"{expectation.alert} resolved in Prometheus"))
            about = [n for n in notes if expectation.alert in n.alertnames and condition_at - 1 <= n.arrived <= window_end]
            for note in about:
                timeline.append((note.arrived, f"{expectation.alert} {note.status} -> {note.kind}"))
            labels = episode.labels if episode else {}
            # An API outage's alert waits on its windows, which held the good traffic served before.
            outage = outage_of(scenario, expectation, obs.timing,
                               condition_at - obs.api_since if obs.api_since else 0.0)
            if expectation.inhibited:
                fired = episode is not None and episode.firing is not None
                # Inhibition holds an alert back while its source fires. Once the
                # scenario clears (the source stops firing a scrape and an
                # evaluation later), a lesser alert that outlives it may speak.
                clears = [obs.step_times.get((scenario.name, e.resolved_after)) for e in scenario.expect
                          if e.resolved_after and not e.inhibited]
                clears = [c for c in clears if c is not None]
                held_until = (min(clears) + obs.timing.scrape + obs.timing.rule(expectation.alert).interval_seconds
                              if clears else window_end)
                # Nor can it hold anything back before its source fires: an alert
                # that fires first (a burn rate's slower windows on a short
                # history) may speak, and must be held back from then on.
                sources = [_episode(obs, e, backend, obs.step_times.get((scenario.name, e.from_step), condition_at),
                                    window_end) for e in scenario.expect if not e.inhibited]
                source_fired = min([s.firing for s in sources if s and s.firing], default=None)
                before = [n for n in about if n.status == "firing" and source_fired and n.arrived < source_fired]
                leaked = [n for n in about if n.status == "firing" and n.arrived <= held_until and n not in before]
                result.add(f"{label} inhibited", fired and not leaked,
                           ("fired in Prometheus, reached no receiver while its source fired"
                            + (f" (reached {', '.join(sorted({n.kind for n in before}))} "
                               f"{_clock(source_fired - before[0].arrived)} before its source fired)"
                               if before else "")) if fired and not leaked else
                           ("never fired in Prometheus: the inhibition was not put to the test" if not fired else
                            "reached " + ", ".join(sorted({n.kind for n in leaked}))))
                continue
            routed = set().union(*(kinds.get(r.receiver, set()) for r in obs.timing.routes(expectation.alert, labels)))
            if routed != set(expectation.notify):
                result.add(f"{label} routing", False, f"the routes send it to {sorted(routed)}, "
                           f"the scenario expects {list(expectation.notify)}")
            bound = obs.timing.fire_bound(expectation.alert, labels, outage)
            silence = judge_silence(obs, result, scenario, expectation, episode, about, label, timeline) \
                if expectation.silenced_until else None
            cleared_at = (obs.step_times.get((scenario.name, expectation.resolved_after))
                          if expectation.resolved_after else None)
            # Repeats are only duplicates while the alert is still the same episode.
            episode_end = episode.gone if episode and episode.gone else window_end
            for receiver in RECEIVERS:
                firing = [n for n in about if n.kind == receiver and n.status == "firing" and n.arrived <= episode_end]
                if receiver not in expectation.notify:
                    if firing:
                        result.add(f"{label} not at {receiver}", False,
                                   f"{len(firing)} notification(s) reached {receiver}")
                    continue
                if not firing:
                    result.add(f"{label} -> {receiver}", False,
                               f"nothing arrived within {_clock(window_end - condition_at)} of the condition")
                    continue
                first = firing[0]
                if silence is not None:
                    # Held back until the silence ended; then the group's next flush sends it.
                    if silence.expired_at is None:
                        continue
                    firing = [n for n in firing if n.arrived >= silence.expired_at]
                    if not firing:
                        result.add(f"{label} -> {receiver} once the silence expired", False,
                                   f"nothing arrived within {_clock(window_end - silence.expired_at)}")
                        continue
                    first = firing[0]
                    latency = first.arrived - silence.expired_at
                    flush = max(r.group_interval for r in obs.timing.routes(expectation.alert, labels))
                    ratio = latency / flush
                    result.ratios.append(ratio)
                    result.latency_rows.append((scenario.name, expectation.alert, receiver, "unmuted", latency,
                                                flush, ratio))
                    result.add(f"{label} -> {receiver} once the silence expired", ratio <= TOLERANCE,
                               f"after {_clock(latency)}, bound {_clock(flush)} (group_interval; ratio {ratio:.2f})")
                else:
                    latency = first.arrived - condition_at
                    ratio = latency / bound
                    result.ratios.append(ratio)
                    result.latency_rows.append((scenario.name, expectation.alert, receiver, "firing", latency, bound,
                                                ratio))
                    result.add(f"{label} -> {receiver}", ratio <= TOLERANCE,
                               f"after {_clock(latency)}, bound {_clock(bound)} (ratio {ratio:.2f})")
                repeat = max(r.repeat_interval for r in obs.timing.routes(expectation.alert, labels))
                if len(firing) > 1 and firing[-1].arrived - first.arrived < repeat:
                    exactly_once_problems.append((firing[1].arrived, f"{label} reached {receiver} {len(firing)} "
                                                  f"times (at {_arrivals(firing, obs.t0)})"))
                if expectation.resolved_after and expectation.alert not in slot.awaited:
                    skipped.append(f"{label} resolution at {receiver}: bound "
                                   f"{_clock(obs.timing.resolve_bound(expectation, labels, outage))} exceeds the "
                                   "--quick budget")
                elif expectation.resolved_after:
                    if cleared_at is None:
                        result.add(f"{label} resolved at {receiver}", False,
                                   f"step {expectation.resolved_after} never ran")
                        continue
                    dedup = first.detail.get("dedup_key")
                    resolved = [n for n in notes if n.kind == receiver and n.status == "resolved"
                                and n.arrived >= cleared_at and n.arrived <= window_end
                                and (expectation.alert in n.alertnames
                                     or (dedup and n.detail.get("dedup_key") == dedup))]
                    limit = obs.timing.resolve_bound(expectation, labels, outage)
                    if not resolved:
                        result.add(f"{label} resolved at {receiver}", False,
                                   f"no resolved notification within {_clock(window_end - cleared_at)}")
                        continue
                    for note in resolved:
                        if note not in about:
                            timeline.append((note.arrived, f"{expectation.alert} resolved -> {receiver}"))
                    took = resolved[0].arrived - cleared_at
                    result.latency_rows.append((scenario.name, expectation.alert, receiver, "resolved", took,
                                                limit, took / limit))
                    result.add(f"{label} resolved at {receiver}", took <= limit * TOLERANCE,
                               f"after {_clock(took)}, bound {_clock(limit)}")
                    if len(resolved) > 1:
                        exactly_once_problems.append((resolved[1].arrived, f"{label} resolution reached "
                                                      f"{receiver} {len(resolved)} times "
                                                      f"(at {_arrivals(resolved, obs.t0)})"))
        for when, what in sorted(timeline):
            say(f"   {_clock(when - start):>10}  {what}")

    # Nothing else may have been said to anyone.
    unexpected = []
    for note in notes:
        if note.kind == "watchdog" and note.alertnames == {"Watchdog"}:
            continue
        # A resolution may come after its scenario's slot (--quick does not wait for the slow ones).
        allowed = set().union(*([names for s, e, names in expected_by_time
                                 if s - 1 <= note.arrived and (note.arrived <= e or note.status == "resolved")]
                                or [set()]))
        if not note.alertnames or not note.alertnames <= allowed | ({"Watchdog"} if note.kind == "watchdog" else set()):
            what = ", ".join(sorted(note.alertnames)) or "no known alert name: " + note.text[:160]
            unexpected.append((note, f"{_clock(note.arrived - obs.t0)} {note.kind} {note.status}: {what}"))
    result.add("no unexpected notification", not unexpected, "; ".join(u for _, u in unexpected[:10]) or "none")
    heartbeats = [n for n in notes if n.kind == "watchdog" and "Watchdog" in n.alertnames]
    result.add("Watchdog heartbeat reaches its receiver", bool(heartbeats), f"{len(heartbeats)} heartbeats")
    result.add("stand-ins accepted every request", not obs.rejected, "; ".join(obs.rejected[:5]))
    mails = [n for n in notes if n.kind == "email"]
    if obs.smtp_requires_tls and mails:
        over_tls = sum(bool(n.detail.get("tls")) for n in mails)
        result.add("e-mail went over STARTTLS, the relay's certificate verified", over_tls == len(mails),
                   f"{over_tls} of {len(mails)} e-mails over TLS")
    if obs.alertmanager_replicas > 1:
        result.add(f"each notification exactly once ({obs.prometheus_replicas} Prometheus, "
                   f"{obs.alertmanager_replicas} Alertmanagers)",
                   not exactly_once_problems, "; ".join(p for _, p in exactly_once_problems) or "no duplicates")
    judge_disruptions(obs, result, unexpected, exactly_once_problems)
    judge_long_running(obs, result)
    judge_links(obs, result)

    # The report.
    say("\n== alert latency (condition true -> notification arrived; bound = scrape + evaluation + for + "
            "group_wait; resolutions: scrape + evaluation + group_interval)")
    say(f"   {'scenario':<16} {'alert':<30} {'receiver':<10} {'kind':<9} {'latency':>10} {'bound':>10} {'ratio':>6}")
    for row in result.latency_rows:
        scenario, alert, receiver, kind, latency, bound, ratio = row
        say(f"   {scenario:<16} {alert:<30} {receiver:<10} {kind:<9} {_clock(latency):>10} "
                f"{_clock(bound):>10} {ratio:6.2f}")
    if obs.config_changes:
        say("\nconfiguration changed for this machine besides endpoints: " + "; ".join(obs.config_changes))
    say("\n== checks")
    for check in result.checks:
        say(f"   {'PASS' if check.ok else 'FAIL'}  {check.name}" + (f": {check.detail}" if check.detail else ""))
    for note in skipped:
        say(f"   not awaited  {note}")
    for empty in result.empty_panels:
        say(f"   empty: {empty}")
    say(f"\npanels with data: {result.panels_with_data}/{result.panels_total}")
    if result.ratios:
        say(f"alert latency ratio: median {statistics.median(result.ratios):.2f}, max {max(result.ratios):.2f}")
    else:
        say("alert latency ratio: no notification arrived")
    for kind, (count, duplicated) in result.exactly_once.items():
        say(f"exactly once, {kind}: {count} notifications, {duplicated} duplicated")
