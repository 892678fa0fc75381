"""One game day: the deployed configuration on real servers, every scenario at once, and the verdict."""
from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Optional

import yaml

from components import constants as c
from components.constants import JOB_ALERTMANAGER, JOB_CELERY_EXPORTER, JOB_GRAFANA, JOB_PROMETHEUS
from gameday import celery_app
from gameday.backend import SimulatedBackend
from gameday.burn import windows_of
from gameday.celery_side import (
    DEFAULT_EXPORTER_VENV,
    CelerySide,
    ensure_exporter_venv,
    exporter_release,
    installed_exporter_version,
)
from gameday.config import (
    LocalReceivers,
    LocalTargets,
    alert_rules,
    link_bases,
    local_alertmanager_config,
    local_prometheus_config,
    prometheus_intervals,
    receiver_kinds,
    render,
    rule_groups,
    smtp_requires_tls,
    write_yaml,
)
from gameday.observations import (
    KILLED,
    REPLACED,
    ROLLED,
    AlertSeen,
    Disruption,
    Observations,
    Result,
    SilenceMade,
)
from gameday.panels import check_dashboards
from gameday.plan import TOLERANCE, WARMUP, Slot, Timing, outage_of, schedule
from gameday.procs import GamedayError, Supervisor
from gameday.scenarios import LONG_RUNNING_BACKEND, Step, load_all
from gameday.servers import AlertmanagerReplica, PrometheusReplica, alertmanager_binary, prometheus_binary, redis_binary
from gameday.standins import Recorder, StandIns
from gameday.verdict import judge

TICK = 15.0          # ordinary traffic: one round per scrape interval of the default stack
POLL = 5.0           # how often the alert states are read for the timelines
SETTLE = 30.0        # after the last awaited notification: time for a duplicate to show up
ROLL_START = 90.0    # the rollout begins once the first alerts are pending
ROLL_AWAY = 90.0     # each Alertmanager pod of a rollout: terminated until ready again
MIN_READY_SECONDS = 10.0   # the StatefulSets' minReadySeconds (components/platform/kubernetes.py)
KILLED_AWAY = 150.0  # until a killed Alertmanager's node comes back


@dataclass
class Options:
    stack: str = "prod"
    quick: bool = False
    only: tuple[str, ...] = ()
    prometheus: Optional[str] = None
    alertmanager: Optional[str] = None
    redis_server: Optional[str] = None
    exporter_venv: Path = DEFAULT_EXPORTER_VENV
    workdir: Optional[Path] = None
    keep: bool = False
    # None: as many as the stack deploys (prometheusReplicas, alertmanagerReplicas on Kubernetes).
    prometheus_replicas: Optional[int] = None
    alertmanager_replicas: Optional[int] = None
    prometheus_args: tuple[str, ...] = ()     # to try a flag before deploying it
    out: object = sys.stdout


@dataclass
class Planned:
    """A disruption to start in the background once due, and whether it has run."""
    action: Callable[[], None]
    earliest: float                                   # seconds after the scenarios start
    when: Callable[[float], bool] = lambda elapsed: True
    after: tuple["Planned", ...] = ()                 # must have finished first
    thread: Optional[threading.Thread] = None

    def due(self, elapsed: float) -> bool:
        return (self.thread is None and elapsed >= self.earliest and all(p.done for p in self.after)
                and self.when(elapsed))

    @property
    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()


class GameDay:
    def __init__(self, options: Options):
        self.o = options
        self.out = options.out
        self.result = Result()
        self.workdir = options.workdir or Path(tempfile.mkdtemp(prefix="gameday-"))
        self.supervisor = Supervisor(self.workdir / "logs")
        self.backends: dict[str, SimulatedBackend] = {}     # scenario name -> the backend it acts on
        self.long_running: Optional[SimulatedBackend] = None
        self.step_times: dict[tuple[str, str], float] = {}
        self.alerts_seen: dict[tuple, AlertSeen] = {}
        self.disruptions: list[Disruption] = []
        # (replica, labels as JSON) -> first seen firing, for the long-running backend
        self.long_running_alerts: dict[tuple[str, str], float] = {}
        self.silences: dict[tuple[str, str], SilenceMade] = {}   # (scenario, step) -> the silence it made
        self.t0 = 0.0
        self._stop = threading.Event()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # ------------------------------------------------------------------
    def prepare(self) -> None:
        o = self.o
        self.prom_bin = prometheus_binary(o.prometheus, o.stack)
        self.am_bin = alertmanager_binary(o.alertmanager, o.stack)
        self.redis_bin = redis_binary(o.redis_server)
        rendered = self.workdir / "rendered"
        stack = render(o.stack, rendered)
        self.commands = stack.commands
        # The rendered commands (the peer timeout, for one) are made for the
        # stack's replica counts.
        self.prometheus_replicas = o.prometheus_replicas or len(stack.topology.prometheus)
        self.alertmanager_replicas = o.alertmanager_replicas or len(stack.topology.alertmanager)
        self.rendered = rendered
        prom_text = (rendered / "prometheus/prometheus.yml").read_text()
        scrape, evaluation = prometheus_intervals(prom_text)
        self.am_config_rendered = yaml.safe_load((rendered / "alertmanager/alertmanager.yml").read_text())
        environment = yaml.safe_load(prom_text)["global"]["external_labels"]["env"]
        self.rules = alert_rules(rendered / "prometheus/rules", evaluation)
        self.timing = Timing(scrape, evaluation, self.rules, self.am_config_rendered, environment,
                             windows_of(rule_groups(rendered / "prometheus/rules")))
        scenarios = load_all()
        if o.only:
            unknown = set(o.only) - {s.name for s in scenarios}
            if unknown:
                raise GamedayError(f"no scenario named {sorted(unknown)}")
            scenarios = [s for s in scenarios if s.name in o.only]
        self.slots = schedule(scenarios, self.timing, quick=o.quick and not o.only)
        self.end = max(slot.end for slot in self.slots)
        kinds = receiver_kinds(self.am_config_rendered)
        reachable = set().union(*kinds.values()) if kinds else set()
        for slot in self.slots:
            for expectation in slot.scenario.expect:
                missing = set(expectation.notify) - reachable
                if missing:
                    raise GamedayError(f"stack {o.stack} has no {sorted(missing)} receiver, which scenario "
                                       f"{slot.scenario.name} expects; run a stack that enables it")

    def start(self) -> None:
        o = self.o
        names = set(self.rules)
        self.recorder = Recorder(names)
        self.smtp_requires_tls = smtp_requires_tls(self.am_config_rendered)
        self.standins = StandIns(self.recorder, self.workdir / "tls",
                                 require_starttls=self.smtp_requires_tls).start()
        # Always there, as in production: a backend that has served for weeks
        # (old violation and forged-token counters), scraped from the first
        # Prometheus start on; the dashboards and the backend's own alerts have
        # it even when only Celery scenarios run.
        self.long_running = SimulatedBackend(LONG_RUNNING_BACKEND, seed=0)
        self.long_running.record_history()
        self.long_running.start()
        for slot in self.slots:
            if slot.scenario.backend == LONG_RUNNING_BACKEND:
                self.backends[slot.scenario.name] = self.long_running
            elif slot.scenario.backend:
                backend = SimulatedBackend(slot.scenario.name, seed=len(self.backends) + 1)
                backend.start()
                self.backends[slot.scenario.name] = backend
        self.exporter_release = exporter_release(o.stack)
        self.exporter_python = ensure_exporter_venv(o.exporter_venv, self.exporter_release)
        self.celery = CelerySide(self.supervisor, self.workdir, redis_server=self.redis_bin,
                                 exporter_python=self.exporter_python,
                                 exporter_args=self.commands[c.CELERY_EXPORTER].args)
        self.celery.start(workers=1)

        local_receivers = LocalReceivers(self.standins.url("pagerduty"), self.standins.url("slack"),
                                         self.standins.url("watchdog"), self.standins.smarthost,
                                         smtp_ca_file=str(self.standins.certificate.ca_file))
        am_config, changes = local_alertmanager_config(
            (self.rendered / "alertmanager/alertmanager.yml").read_text(), local_receivers,
            self.rendered / "alertmanager/templates", self.workdir / "alertmanager-secrets")
        self.am_config = am_config
        self.config_changes = changes
        am_path = write_yaml(am_config, self.workdir / "alertmanager.yml")
        self.am_args = self.commands[c.ALERTMANAGER].args
        self.alertmanagers = [AlertmanagerReplica(i, self.am_bin, am_path, self.workdir / f"am-{i}",
                                                  deployed_args=self.am_args)
                              for i in range(self.alertmanager_replicas)]
        peers = tuple(am.cluster_address for am in self.alertmanagers) if len(self.alertmanagers) > 1 else ()
        for am in self.alertmanagers:
            am.peers = peers
            am.start(self.supervisor, wait=False)
        for am in self.alertmanagers:
            from gameday.procs import wait_http
            wait_http(f"{am.url}/-/ready", child=self.supervisor.children[am.name], timeout=120)
        self.prometheus = [PrometheusReplica(i, self.prom_bin, self.workdir / f"prometheus-{i}.yml",
                                             self.workdir / f"prom-{i}",
                                             deployed_args=self.commands[c.PROMETHEUS].args,
                                             extra_args=o.prometheus_args)
                           for i in range(self.prometheus_replicas)]
        targets = LocalTargets(by_job={
            JOB_PROMETHEUS: tuple(p.target for p in self.prometheus),
            self._backend_job(): tuple(b.target for b in self.all_backends()),
            JOB_CELERY_EXPORTER: (self.celery.exporter_target,),
            JOB_ALERTMANAGER: tuple(am.target for am in self.alertmanagers),
            JOB_GRAFANA: (self.standins.grafana_target,),
        }, alertmanagers=tuple(am.target for am in self.alertmanagers))
        prom_config = local_prometheus_config((self.rendered / "prometheus/prometheus.yml").read_text(), targets,
                                              self.rendered / "prometheus/rules")
        self.label_variables = tuple(sorted(set(re.findall(r"\$\{(\w+)\}", json.dumps(
            prom_config.get("global", {}).get("external_labels", {})))))) or ("HOSTNAME",)
        for replica in self.prometheus:
            write_yaml(prom_config, replica.config_path)
            replica.start(self.supervisor, self.label_variables)

    def all_backends(self) -> list[SimulatedBackend]:
        """Every simulated backend once (a scenario may act on the long-running one)."""
        unique: dict[int, SimulatedBackend] = {}
        for backend in [self.long_running, *self.backends.values()]:
            if backend is not None:
                unique.setdefault(id(backend), backend)
        return list(unique.values())

    def _backend_job(self) -> str:
        config = yaml.safe_load((self.rendered / "prometheus/prometheus.yml").read_text())
        known = {JOB_PROMETHEUS, JOB_CELERY_EXPORTER, JOB_ALERTMANAGER, JOB_GRAFANA}
        jobs = [j["job_name"] for j in config["scrape_configs"] if j["job_name"] not in known]
        if len(jobs) != 1:
            raise GamedayError(f"expected one backend scrape job besides {sorted(known)}, found {jobs}")
        return jobs[0]

    # ------------------------------------------------------------------
    def warm_up(self) -> None:
        deadline = time.time() + 180
        ticks = 0
        while True:
            self.everyday_traffic(ticks)
            ticks += 1
            time.sleep(TICK)
            states = {}
            for replica in self.prometheus:
                states.update({f"{replica.name} {k}": v for k, v in replica.targets_up().items()})
            workers = self.prometheus[0].query('sum(celery_worker_up{job="celery-exporter"})')
            if all(states.values()) and workers and float(workers[0]["value"][1]) >= 1 and ticks * TICK >= WARMUP:
                break
            if time.time() > deadline:
                down = [k for k, v in states.items() if not v]
                raise GamedayError(f"not ready after warm-up: targets down {down}, workers {workers}")
        self.check_versions()
        clusters = [am.cluster_peers() for am in self.alertmanagers]
        if len(self.alertmanagers) > 1:
            self.result.add("alertmanager cluster formed", all(n == len(self.alertmanagers) for n in clusters),
                            f"peers seen by each replica: {clusters}")
        firing = sorted({a["labels"]["alertname"] for a in self.prometheus[0].alerts()
                         if a["state"] == "firing" and a["labels"]["alertname"] != "Watchdog"})
        self.result.add("quiet before the first scenario", not firing,
                        f"already firing: {firing}" if firing else "only the Watchdog fires")

    def check_versions(self) -> None:
        """The servers that ran are the releases the stack deploys (its image tags)."""
        from tools.binaries import BinariesError, deployed
        try:
            releases = deployed(self.o.stack)
        except BinariesError as error:
            self.result.add("servers run the deployed releases", False, str(error))
            return
        running = {f"{server.name} {server.version()}" for server in [*self.prometheus, *self.alertmanagers]}
        wanted = {f"{server.name} {releases[server.kind].version}" for server in [*self.prometheus,
                                                                                   *self.alertmanagers]}
        running.add(f"celery-exporter {installed_exporter_version(self.exporter_python)}")
        wanted.add(f"celery-exporter {self.exporter_release}")
        self.result.add("servers run the deployed releases", running == wanted,
                        ", ".join(sorted(running)) + ("" if running == wanted else
                                                      f"; the stack deploys {', '.join(sorted(wanted - running))}"))

    def everyday_traffic(self, tick: int) -> None:
        for backend in self.all_backends():
            backend.everyday_traffic(tick)
        # The API's requests: production has one backend, the long-running one.
        self.long_running.serve_api()
        # Beat and the API keep sending whether or not a worker is alive.
        self.celery.send(celery_app.HEALTH_CHECK)
        self.celery.send(celery_app.COLLECT_METRICS)
        self.celery.send(celery_app.SEND_NOTIFICATION, 2)
        if tick % 4 == 0:
            self.celery.send(celery_app.CONTINGENCY_ANALYSIS)

    # ------------------------------------------------------------------
    def act(self, slot: Slot, step: Step) -> None:
        scenario = slot.scenario
        backend = self.backends.get(scenario.name)
        for action, spec in step.actions.items():
            specs = spec if isinstance(spec, list) else [spec]
            for item in specs:
                if action in ("set", "inc", "observe"):
                    value = item.get("value", item.get("by", 1))
                    getattr(backend, action)(item["metric"], item.get("labels") or {}, float(value))
                elif action in ("backend", "scrape"):
                    # Either way the application runs on and keeps counting;
                    # only its listener refuses Prometheus.
                    backend.stop() if item in ("down", "cut") else backend.start()
                elif action == "workers":
                    self.celery.stop_workers() if item == "stop" else self.celery.start_workers()
                elif action == "send":
                    self.celery.send(item["task"], int(item.get("count", 1)), **(item.get("kwargs") or {}))
                elif action == "purge":
                    self.celery.purge(item)
                elif action == "api":
                    backend.api_failing(item["failing"])
                elif action == "silence":
                    self.make_silence(scenario.name, step.name, item)
                elif action == "unsilence":
                    self.expire_silence(scenario.name, item)

    def make_silence(self, scenario: str, step: str, spec: dict) -> None:
        """A silence as an operator makes one: the silences package, on whichever replica answers."""
        from silences import Client, SilenceError, end_of, matchers_from
        record = self.silences[(scenario, step)] = SilenceMade(made_at=time.time())
        problems = []
        for am in self.alertmanagers:
            try:
                now = datetime.now(timezone.utc)
                record.id = Client(am.url).add(matchers_from([str(m) for m in spec["matchers"]]), spec["author"],
                                               spec["comment"], end_of(now, str(spec["duration"]), None), now)
                record.replica = am.name
                self.say(f"   {time.time() - self.t0:6.0f}s  silence {record.id} made on {am.name}: "
                         f"{', '.join(map(str, spec['matchers']))} for {spec['duration']}")
                return
            except SilenceError as error:
                problems.append(f"{am.name}: {error}")
        record.problem = "; ".join(problems)

    def expire_silence(self, scenario: str, step: str) -> None:
        """Expire the silence a step made, after noting which replicas hold it (gossip)."""
        from silences import Client, SilenceError
        record = self.silences.get((scenario, step))
        if record is None or record.id is None:
            return
        for am in self.alertmanagers:
            try:
                if any(s.id == record.id and s.state == "active" for s in Client(am.url).silences()):
                    record.active_on.append(am.name)
            except SilenceError:
                pass    # restarting: gossip brings it back with the silence
        for am in self.alertmanagers:
            try:
                Client(am.url).expire(record.id)
                record.expired_at = time.time()
                self.say(f"   {record.expired_at - self.t0:6.0f}s  silence {record.id} expired on {am.name}")
                return
            except SilenceError as error:
                record.problem = f"expiring on {am.name}: {error}"

    def run_scenarios(self) -> None:
        self.t0 = time.time()
        self.say(f"\n== game day: {len(self.slots)} scenarios, about {self.end / 60:.0f} minutes "
                 f"(stack {self.o.stack}, {len(self.prometheus)} Prometheus, {len(self.alertmanagers)} Alertmanagers)")
        for slot in sorted(self.slots, key=lambda s: s.start):
            self.say(f"   {slot.start / 60:5.1f}-{slot.end / 60:4.1f} min  {slot.scenario.name}: {slot.scenario.title}")
        pending = [(slot.start + step.at, slot, step) for slot in self.slots for step in slot.scenario.steps]
        repeats: list[list] = []
        plan = self.disruption_plan()
        tick, next_tick, next_poll = 0, self.t0, self.t0
        shown, settled_since = 0, None
        while True:
            now = time.time()
            elapsed = now - self.t0
            if elapsed > self.end:
                break
            for entry in [p for p in pending if p[0] <= elapsed]:
                pending.remove(entry)
                _, slot, step = entry
                self.act(slot, step)
                if step.name:
                    self.step_times[(slot.scenario.name, step.name)] = time.time()
                if step.every:
                    repeats.append([slot.start + step.at + step.every, slot, step])
            for repeat in repeats[:]:
                due, slot, step = repeat
                if due > slot.start + step.until:
                    repeats.remove(repeat)
                elif elapsed >= due:
                    self.act(slot, step)
                    repeat[0] = due + step.every
            if now >= next_tick:
                self.everyday_traffic(tick)
                tick += 1
                next_tick += TICK
            self.long_running.serve_api(now)
            if now >= next_poll:
                self.poll_alerts(now)
                self.poll_long_running(now)
                next_poll += POLL
            # The prod-shape disruptions run beside the scenarios, never pausing them.
            for planned in plan:
                if planned.due(elapsed):
                    planned.thread = self.in_background(planned.action)
            shown = self.show_notifications(shown)
            if all(planned.done for planned in plan) and self.settled(now):
                if settled_since is None:
                    settled_since = now
                elif now - settled_since >= SETTLE:
                    self.say(f"   {elapsed:6.0f}s  every expectation decided; stopping early")
                    break
            else:
                settled_since = None
            time.sleep(0.5)
        self.t_end = time.time()

    def disruption_plan(self) -> list[Planned]:
        """What production lives through every week, placed beside the scenarios.

        The Alertmanagers roll first, while the first pages go out, then one
        is killed while resolutions go out; never both at once, as a rollout
        and a lost node rarely coincide and two replicas down leave one. The
        Prometheus replica restarts on its data once an alert with a `for:`
        fires there, and is later replaced with an empty data directory.
        """
        plan: list[Planned] = []
        if len(self.alertmanagers) > 1:
            roll = Planned(self.rolling_restart_alertmanagers, max(ROLL_START, 0.1 * self.end))
            plan += [roll, Planned(self.kill_alertmanager, 0.35 * self.end, after=(roll,))]
        if len(self.prometheus) > 1:
            restart = Planned(self.restart_prometheus, 60.0,
                              when=lambda elapsed: self.firing_with_for(self.prometheus[-1], elapsed))
            plan += [restart, Planned(self.replace_prometheus, 0.45 * self.end, after=(restart,))]
        return plan

    def in_background(self, action) -> threading.Thread:
        def guarded():
            try:
                action()
            except Exception as error:  # a failed disruption is a failed check, not a crash
                self.result.add(f"{action.__name__.strip('_').replace('_', ' ')}", False, str(error))
        thread = threading.Thread(target=guarded, name=action.__name__, daemon=True)
        thread.start()
        return thread

    def restore_seconds(self) -> float:
        """How long a restarted Prometheus may take to fire its restored alerts again.

        A group's first evaluation comes up to one interval after the start;
        Prometheus restores the `for` state (activeAt) after the second, and the
        third turns a restored alert whose `for:` had elapsed back to firing."""
        return 3 * max(rule.interval_seconds for rule in self.rules.values()) + 30

    def firing_with_for(self, replica: PrometheusReplica, elapsed: float) -> bool:
        """Is an alert with a `for:` firing that will still fire when the restart is judged?"""
        try:
            alerts = replica.alerts()
        except GamedayError:
            return False
        judged_at = elapsed + self.restore_seconds() + 30
        for alert in alerts:
            name = alert["labels"]["alertname"]
            if alert["state"] != "firing" or not self.rules.get(name) or self.rules[name].for_seconds == 0:
                continue
            clears = [slot.start + slot.scenario.step(e.resolved_after).at
                      for slot in self.slots for e in slot.scenario.expect
                      if e.alert == name and e.resolved_after and e.resolved_after != e.from_step]
            # A late start (half the plan gone) takes any firing alert rather than none.
            if all(clear > judged_at for clear in clears) or elapsed > self.end / 2:
                return True
        return False

    def show_notifications(self, shown: int) -> int:
        """Print arrivals as they happen, so a rehearsal can be followed live."""
        notes = self.recorder.snapshot()
        for note in notes[shown:]:
            if note.kind == "watchdog" and note.alertnames == {"Watchdog"}:
                continue
            self.say(f"   {note.arrived - self.t0:6.0f}s  {note.kind:<9} {note.status:<8} "
                     f"{', '.join(sorted(note.alertnames)) or '(no known alert name)'}")
        return len(notes)

    def settled(self, now: float) -> bool:
        """Has every expectation of every scenario got what it waits for (or passed its deadline)?"""
        notes = self.recorder.snapshot()
        for slot in self.slots:
            for expectation in slot.scenario.expect:
                since = self.step_times.get((slot.scenario.name, expectation.from_step))
                if since is None:
                    return False
                if expectation.inhibited:
                    outage = outage_of(slot.scenario, expectation, self.timing,
                                       since - self.long_running.api_since if self.long_running.api_since else 0.0)
                    if now < since + self.timing.fire_bound(expectation.alert, outage=outage) * TOLERANCE:
                        return False
                    continue
                for receiver in expectation.notify:
                    if not any(n.kind == receiver and n.status == "firing" and expectation.alert in n.alertnames
                               and n.arrived >= since for n in notes):
                        return False
                    if expectation.alert in slot.awaited:
                        cleared = self.step_times.get((slot.scenario.name, expectation.resolved_after))
                        if cleared is None or not any(
                                n.kind == receiver and n.status == "resolved" and n.arrived >= cleared
                                and (expectation.alert in n.alertnames or n.kind == "pagerduty")
                                for n in notes):
                            return False
        return True

    def poll_alerts(self, now: float) -> None:
        try:
            alerts = self.prometheus[0].alerts()
        except GamedayError:
            return
        seen = set()
        for alert in alerts:
            labels = dict(alert["labels"])
            key = tuple(sorted(labels.items()))
            seen.add(key)
            entry = self.alerts_seen.setdefault(key, AlertSeen(labels))
            if entry.gone is not None and alert["state"] == "pending":
                entry = self.alerts_seen[key] = AlertSeen(labels)    # a new episode
            entry.last_seen = now
            entry.gone = None
            entry.active_at = alert.get("activeAt")
            if entry.pending is None:
                entry.pending = now
            if alert["state"] == "firing" and entry.firing is None:
                entry.firing = now
        for key, entry in self.alerts_seen.items():
            if key not in seen and entry.gone is None:
                entry.gone = now

    # -- the prod shape under stress --------------------------------------
    def kill_alertmanager(self) -> None:
        """A node lost: one Alertmanager dies (SIGKILL) and comes back on its data directory later."""
        victim = self.alertmanagers[0]
        probe = self.alertmanagers[-1].add_silence(
            {"alertname": "GamedayProbe"}, 120, "made before a replica restarts; must survive it")
        time.sleep(2)   # gossip carries it to every replica
        self.supervisor.kill(victim.name)
        record = self.disrupted(KILLED, f"{victim.name} killed (SIGKILL), back after {KILLED_AWAY:.0f}s")
        self.say(f"   {record.started - self.t0:6.0f}s  killed {victim.name} (SIGKILL)")
        time.sleep(KILLED_AWAY)
        victim.start(self.supervisor)
        record.ended = time.time()
        self.say(f"   {record.ended - self.t0:6.0f}s  {victim.name} back on its data directory")
        time.sleep(5)
        ids = {s["id"] for s in victim.silences() if s["status"]["state"] == "active"}
        self.result.add("restarted Alertmanager keeps a silence made before (cluster)", probe in ids,
                        f"silence {probe} {'present' if probe in ids else 'missing'} on {victim.name}")

    def rolling_restart_alertmanagers(self) -> None:
        """A StatefulSet rollout: one pod at a time, highest ordinal first, each away ROLL_AWAY.

        Each pod ends gracefully (SIGTERM, it leaves the gossip cluster),
        comes back on its data directory with a new peer name, and the next
        one goes only after it has been ready for the StatefulSet's
        minReadySeconds.
        """
        probe = self.alertmanagers[0].add_silence(
            {"alertname": "GamedayProbe"}, 60, "made before a rolling restart; must survive it")
        time.sleep(2)
        order = list(reversed(self.alertmanagers))
        record = self.disrupted(ROLLED, f"{', '.join(am.name for am in order)} one at a time, "
                                        f"each away {ROLL_AWAY:.0f}s")
        for am in order:
            leaving = time.time()
            self.supervisor.stop(am.name)
            self.say(f"   {leaving - self.t0:6.0f}s  rolling restart: {am.name} terminated (SIGTERM)")
            time.sleep(max(0.0, ROLL_AWAY - (time.time() - leaving)))
            am.start(self.supervisor)
            self.say(f"   {time.time() - self.t0:6.0f}s  rolling restart: {am.name} ready again")
            time.sleep(MIN_READY_SECONDS)
        record.ended = time.time()
        missing = [am.name for am in self.alertmanagers
                   if probe not in {s["id"] for s in am.silences() if s["status"]["state"] == "active"}]
        self.result.add("a silence made before the rolling restart survives it on every replica", not missing,
                        f"missing on {', '.join(missing)}" if missing else
                        f"silence {probe} active on all {len(self.alertmanagers)}")
        peers = [am.cluster_peers() for am in self.alertmanagers]
        self.result.add("the Alertmanager cluster is whole after the rolling restart",
                        all(n == len(self.alertmanagers) for n in peers), f"peers seen by each replica: {peers}")

    def replace_prometheus(self) -> None:
        """A replica rescheduled onto a new, empty volume while the other keeps running."""
        replica = self.prometheus[-1]
        self.supervisor.stop(replica.name)
        record = self.disrupted(REPLACED, f"{replica.name} stopped, its data directory emptied, started again")
        shutil.rmtree(replica.data_dir)
        replica.start(self.supervisor, self.label_variables)
        record.ended = time.time()
        self.say(f"   {record.ended - self.t0:6.0f}s  {replica.name} replaced: started on an empty data directory")

    def disrupted(self, kind: str, what: str) -> Disruption:
        record = Disruption(kind, what, time.time())
        self.disruptions.append(record)
        return record

    def poll_long_running(self, now: float) -> None:
        """Every alert about the long-running backend, on every replica: it never has a problem of its own."""
        if self.long_running is None:
            return
        for replica in self.prometheus:
            try:
                alerts = replica.alerts()
            except GamedayError:
                continue    # restarting or being replaced
            for alert in alerts:
                if alert["labels"].get("instance") == self.long_running.target and alert["state"] == "firing":
                    key = (replica.name, json.dumps(alert["labels"], sort_keys=True))
                    self.long_running_alerts.setdefault(key, now)

    def restart_prometheus(self) -> None:
        replica = self.prometheus[-1]
        before = [a for a in replica.alerts() if a["state"] == "firing" and a["labels"]["alertname"] != "Watchdog"]
        probe_time = time.time() - 5
        samples_expr = 'count_over_time(up{job="%s"}[30m])' % JOB_PROMETHEUS
        samples_before = {json.dumps(r["metric"], sort_keys=True): r["value"][1]
                          for r in replica.query(samples_expr, at=probe_time)}
        self.supervisor.stop(replica.name)
        stopped = time.time()
        replica.start(self.supervisor, self.label_variables)
        self.say(f"   {time.time() - self.t0:6.0f}s  restarted {replica.name} on its data directory "
                 f"({len(before)} alerts were firing there)")
        samples_after = {json.dumps(r["metric"], sort_keys=True): r["value"][1]
                         for r in replica.query(samples_expr, at=probe_time)}
        self.result.add("restarted Prometheus keeps its samples", samples_before == samples_after and bool(samples_before),
                        f"samples of up{{job={JOB_PROMETHEUS}}} up to the restart: before {samples_before}, "
                        f"after {samples_after}")
        # Judge as soon as every alert is back, at the latest when the restore is due.
        deadline = stopped + self.restore_seconds()
        while True:
            lost, kept, cleared = judge_restored(before, replica.alerts(), self.prometheus[0].alerts(),
                                                 frozenset(n for n, r in self.rules.items() if not r.for_seconds))
            if not lost or time.time() > deadline:
                break
            time.sleep(2)
        back_after = time.time() - stopped
        self.result.add("restarted Prometheus keeps its firing alerts (no fresh for: wait)",
                        bool(before) and kept > 0 and not lost,
                        (f"{len(before)} firing before, {kept} firing again {back_after:.0f}s after the stop "
                         f"with their first activeAt, {cleared} cleared meanwhile on both replicas; "
                         + ("; ".join(lost) if lost else "none waited a fresh for:"))
                        if before else "no alert was firing at restart time: nothing proven")

    # ------------------------------------------------------------------
    def standalone_silence_restart(self) -> None:
        """A lone Alertmanager (no peers to gossip from) restarted on its data dir keeps its silences."""
        lone = AlertmanagerReplica(99, self.am_bin, self.workdir / "alertmanager.yml", self.workdir / "am-lone",
                                   deployed_args=self.am_args)
        lone.start(self.supervisor)
        silence = lone.add_silence({"alertname": "GamedayProbe"}, 60, "must survive a restart")
        self.supervisor.stop(lone.name)
        lone.start(self.supervisor)
        ids = {s["id"] for s in lone.silences() if s["status"]["state"] == "active"}
        self.supervisor.stop(lone.name)
        self.result.add("restarted Alertmanager keeps a silence made before (alone)", silence in ids,
                        f"silence {silence} {'present' if silence in ids else 'missing'} after the restart")

    # ------------------------------------------------------------------
    def observations(self) -> Observations:
        """What the run saw, for the verdict."""
        return Observations(
            t0=self.t0, t_end=self.t_end, slots=tuple(self.slots), timing=self.timing,
            step_times=dict(self.step_times), alerts_seen=dict(self.alerts_seen),
            notifications=tuple(self.recorder.snapshot()), rejected=tuple(self.recorder.rejected),
            receiver_kinds=receiver_kinds(self.am_config),
            backend_targets={name: backend.target for name, backend in self.backends.items()},
            long_running_target=self.long_running.target if self.long_running else None,
            long_running_alerts=dict(self.long_running_alerts), disruptions=tuple(self.disruptions),
            prometheus_replicas=len(self.prometheus), alertmanager_replicas=len(self.alertmanagers),
            smtp_requires_tls=self.smtp_requires_tls, config_changes=tuple(self.config_changes),
            api_since=self.long_running.api_since if self.long_running else None, silences=dict(self.silences),
            link_bases=link_bases(self.o.stack))

    def judge(self) -> None:
        judge(self.observations(), self.result, self.say)

    def dashboards(self) -> None:
        results = check_dashboards(self.rendered / "grafana/dashboards", self.prometheus[0], self.t0 - WARMUP,
                                   time.time())
        self.result.panels_total = len(results)
        self.result.panels_with_data = sum(r.has_data for r in results)
        for r in results:
            if r.empty_queries:
                self.result.empty_panels.append(
                    f"{r.dashboard} panel {r.panel_id} {r.title!r}: {len(r.empty_queries)}/{r.queries} "
                    f"queries empty: {'; '.join(q[:120] for q in r.empty_queries)}")
        self.result.add("every dashboard panel has data", self.result.panels_with_data == self.result.panels_total,
                        f"{self.result.panels_with_data}/{self.result.panels_total}")

    def close(self) -> None:
        self.supervisor.stop_all()
        for backend in self.all_backends():
            backend.stop()
        if hasattr(self, "standins"):
            self.standins.stop()
        if not self.o.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def judge_restored(before: Iterable[dict], after: list[dict], elsewhere: list[dict],
                   without_for: frozenset[str] = frozenset()) -> tuple[list[str], int, int]:
    """Which alerts firing before a restart are not firing again with their old activeAt?

    `before` and `after` are one replica's /api/v1/alerts entries around its
    restart, `elsewhere` the other replica's now. Returns the problems, how
    many fire again with their old activeAt, and how many cleared meanwhile
    (gone from the other replica too, so rightly gone here). Alerts named in
    `without_for` (no `for:`, the SLOs' burn rates) have no wait to restore:
    Prometheus gives them a new activeAt and they fire at once, which is
    right; they must only fire again, and are not counted as restored."""
    def key(alert: dict) -> str:
        return json.dumps(alert["labels"], sort_keys=True)
    now_here = {key(a): a for a in after}
    still_true = {key(a) for a in elsewhere}
    lost, kept, cleared = [], 0, 0
    for alert in before:
        name = alert["labels"]["alertname"]
        again = now_here.get(key(alert))
        if again is None:
            if key(alert) in still_true:
                lost.append(f"{name} gone")
            else:
                cleared += 1
        elif name in without_for:
            if again["state"] != "firing":
                lost.append(f"{name} {again['state']} (it has no for: and must fire at once)")
        elif abs(_timestamp(again["activeAt"]) - _timestamp(alert["activeAt"])) > 1:
            # The restored activeAt is whole seconds; anything else is a fresh wait.
            lost.append(f"{name} waits a fresh for: (active since {again['activeAt']}, was {alert['activeAt']})")
        elif again["state"] != "firing":
            lost.append(f"{name} {again['state']} (active since {again['activeAt']})")
        else:
            kept += 1
    return lost, kept, cleared


def _timestamp(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


def run(options: Options) -> Result:
    started = time.time()
    day = GameDay(options)
    try:
        day.prepare()
        day.say(f"gameday: work directory {day.workdir}")
        day.start()
        day.standalone_silence_restart()
        day.warm_up()
        day.run_scenarios()
        day.dashboards()
        day.judge()
    finally:
        day.close()
    day.result.wall_seconds = time.time() - started
    day.say(f"wall time: {day.result.wall_seconds / 60:.1f} min")
    return day.result
