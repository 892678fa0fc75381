"""The game day's parts, checked quickly: scenarios against the deployed rules and routes,
the stand-ins' protocols, the simulated backend against the metrics catalog, and the
local configuration changing endpoints only."""
from __future__ import annotations

import ast
import dataclasses
import json
import math
import os
import re
import signal
import smtplib
import ssl
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests
import yaml

from alerting.routing import inhibition_matchers, matches_all
from components import constants as c
from gameday import celery_app, celery_side
from gameday import run as gameday_run
from gameday.api import REQUEST_METRICS_PREFIX
from gameday.api import ROUTES as api_routes
from gameday.api import api as instrumented_api
from gameday.backend import METRICS, SimulatedBackend
from gameday.burn import windows_of
from gameday.celery_side import exporter_release, exporter_requirements, redirect_exporter_flags
from gameday.config import (
    LocalReceivers,
    LocalTargets,
    alert_rules,
    local_alertmanager_config,
    local_prometheus_config,
    prometheus_intervals,
    receiver_kinds,
    render,
    rule_groups,
)
from gameday.observations import KILLED, REPLACED, ROLLED, Disruption, Observations, Result
from gameday.plan import QUICK_MAX_FOR, Timing, schedule
from gameday.procs import GamedayError, Supervisor, require_binary
from gameday.run import KILLED_AWAY, MIN_READY_SECONDS, ROLL_AWAY, ROLL_START, GameDay, Options, Planned, judge_restored
from gameday.scenarios import LONG_RUNNING_BACKEND, OWN_BACKEND, load, load_all
from gameday.servers import AlertmanagerReplica, PrometheusReplica
from gameday.standins import Notification, Recorder, StandIns
from gameday.verdict import disruption_periods, judge_disruptions, judge_long_running
from tests.support import rules as r

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rendered_stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("rendered")
    return directory, render("prod", directory)


@pytest.fixture(scope="module")
def rendered(rendered_stack) -> Path:
    return rendered_stack[0]


@pytest.fixture(scope="module")
def commands(rendered_stack) -> dict:
    return rendered_stack[1].commands


@pytest.fixture(scope="module")
def timing(rendered) -> Timing:
    prom_text = (rendered / "prometheus/prometheus.yml").read_text()
    scrape, evaluation = prometheus_intervals(prom_text)
    am = yaml.safe_load((rendered / "alertmanager/alertmanager.yml").read_text())
    return Timing(scrape, evaluation, alert_rules(rendered / "prometheus/rules", evaluation), am, "prod",
                  windows_of(rule_groups(rendered / "prometheus/rules")))


# -- scenarios against the deployed rules and routes ---------------------------
def test_every_expected_alert_is_a_deployed_rule(timing):
    for scenario in load_all():
        for expectation in scenario.expect:
            assert expectation.alert in timing.rules, f"{scenario.name}: no rule {expectation.alert}"


def test_scenarios_expect_the_receivers_the_routes_reach(timing):
    kinds = receiver_kinds(timing.alertmanager)
    for scenario in load_all():
        for expectation in scenario.expect:
            if expectation.inhibited:
                continue
            routed = set().union(*(kinds[r.receiver] for r in timing.routes(expectation.alert)))
            assert routed == set(expectation.notify), (
                f"{scenario.name}: {expectation.alert} is routed to {sorted(routed)}, "
                f"the scenario expects {list(expectation.notify)}")


def test_inhibited_expectations_name_an_alert_that_an_inhibition_rule_targets(timing):
    rules = timing.alertmanager.get("inhibit_rules") or []
    for scenario in load_all():
        for expectation in scenario.expect:
            if not expectation.inhibited:
                continue
            labels = {"alertname": expectation.alert, **timing.rules[expectation.alert].labels}
            targeted = [r for r in rules if matches_all(inhibition_matchers(r, "target"), labels)]
            assert targeted, f"{scenario.name}: no inhibition rule targets {expectation.alert}"


def test_steps_a_scenario_waits_for_happen_after_the_alert_could_fire(timing):
    """A condition cleared before its alert could fire would prove nothing."""
    for scenario in load_all():
        for expectation in scenario.expect:
            if not expectation.resolved_after or expectation.resolved_after == expectation.from_step:
                continue
            start = scenario.step(expectation.from_step).at
            cleared = scenario.step(expectation.resolved_after).at
            rule = timing.rules[expectation.alert]
            assert cleared - start > timing.scrape + rule.interval_seconds + rule.for_seconds, (
                f"{scenario.name}: {expectation.alert} is cleared before it can have fired")


def test_the_quick_set_covers_every_receiver_an_inhibition_and_a_resolution(timing):
    slots = schedule(load_all(), timing, quick=True)
    receivers = {r for s in slots for e in s.scenario.expect for r in e.notify}
    assert {"pagerduty", "slack", "email"} <= receivers
    assert any(e.inhibited for s in slots for e in s.scenario.expect)
    assert any(s.awaited for s in slots)
    for slot in slots:
        assert max(timing.rules[e.alert].for_seconds for e in slot.scenario.expect) <= QUICK_MAX_FOR


def test_the_full_set_covers_the_issues_incidents():
    names = {s.name for s in load_all()}
    assert {"utilization", "defense_level", "contingency", "coverage", "faculty", "load_shedding_level4",
            "acgme_violation", "failing_tasks", "workers_stopped", "queue_backlog", "backend_down",
            "forged_tokens", "scrape_outage"} <= names


def test_the_scrape_outage_outlasts_the_counter_alerts_look_back_on_the_long_running_backend(timing):
    outage = next(s for s in load_all() if s.name == "scrape_outage")
    assert outage.backend == LONG_RUNNING_BACKEND and outage.exclusive
    gap = outage.step("restored").at - outage.step("cut").at
    # Longer than the 10m look-back plus the 5m staleness window of `offset 10m`:
    # every old counter series has no sample at the offset when scraping resumes.
    assert gap >= 15 * 60
    assert [e.alert for e in outage.expect] == ["PrometheusTargetDown"]
    slots = schedule(load_all(), timing, quick=True)
    assert "scrape_outage" not in {slot.scenario.name for slot in slots}


def test_scenarios_that_take_the_backend_out_of_sight_act_on_the_one_production_has():
    # Production scrapes one backend target. Target-down alerts of two
    # simulated backends would share an Alertmanager group: a replica that
    # restarts meanwhile learns the first one's resolution again from
    # Prometheus's resends and reports it beside the second one's page.
    for scenario in load_all():
        if any(action in step.actions for step in scenario.steps for action in ("backend", "scrape")):
            assert scenario.backend == LONG_RUNNING_BACKEND, scenario.name


def test_exclusive_scenarios_raising_the_same_alert_run_one_after_the_other(timing):
    slots = {slot.scenario.name: slot for slot in schedule(load_all(), timing, quick=False)}
    down, outage = slots["backend_down"], slots["scrape_outage"]
    first, second = sorted((down, outage), key=lambda slot: slot.start)
    assert second.start >= first.end, "the second target-down page would join the first one's group"


def test_a_scenario_backend_is_its_own_or_the_long_running_one(tmp_path):
    scenario = tmp_path / "outage.yml"
    body = ("backend: {backend}\nsteps:\n  - {{at: 0s, name: cut, scrape: {action}}}\n"
            "expect:\n  - {{alert: PrometheusTargetDown, from: cut, notify: [pagerduty]}}\n")
    scenario.write_text(body.format(backend="long-running", action="cut"))
    assert load(scenario).backend == LONG_RUNNING_BACKEND
    scenario.write_text(body.format(backend="true", action="cut"))
    assert load(scenario).backend == OWN_BACKEND
    scenario.write_text(body.format(backend="elsewhere", action="cut"))
    with pytest.raises(GamedayError, match="backend"):
        load(scenario)
    scenario.write_text(body.format(backend="true", action="off"))
    with pytest.raises(GamedayError, match="cut"):
        load(scenario)


def test_scenarios_that_share_a_global_alert_do_not_overlap(timing):
    # schedule() raises when two overlapping scenarios expect one alert undeclared.
    slots = schedule(load_all(), timing, quick=False)
    down = next(s for s in slots if s.scenario.name == "backend_down")
    for slot in slots:
        if slot.scenario.backend and slot is not down:
            assert slot.start >= down.start + down.scenario.last_step_at, (
                f"{slot.scenario.name} runs while the backend is down: its alerts would be inhibited")


# -- local configuration: only endpoints change ----------------------------------
def test_local_alertmanager_config_keeps_routes_inhibitions_and_templates(rendered, tmp_path):
    deployed = yaml.safe_load((rendered / "alertmanager/alertmanager.yml").read_text())
    receivers = LocalReceivers("http://127.0.0.1:1/v2/enqueue", "http://127.0.0.1:2/slack",
                               "http://127.0.0.1:3/hook", "127.0.0.1:4", smtp_ca_file=str(tmp_path / "ca.pem"))
    local, changes = local_alertmanager_config((rendered / "alertmanager/alertmanager.yml").read_text(),
                                               receivers, tmp_path / "templates", tmp_path / "secrets")
    assert local["route"] == deployed["route"]
    assert local.get("inhibit_rules") == deployed.get("inhibit_rules")
    assert [Path(t).name for t in local["templates"]] == [Path(t).name for t in deployed["templates"]]
    text = yaml.safe_dump(local)
    assert "hospital.example:587" not in text and "/etc/alertmanager/secrets" not in text
    assert (tmp_path / "secrets/slack_webhook_url").read_text() == receivers.slack_url
    by_name = {r["name"]: r for r in local["receivers"]}
    assert by_name["pagerduty"]["pagerduty_configs"][0]["url"] == receivers.pagerduty_url
    assert all(isinstance(c, str) for c in changes)


def test_local_alertmanager_config_changes_receivers_only_in_where_they_point(rendered, tmp_path):
    deployed = yaml.safe_load((rendered / "alertmanager/alertmanager.yml").read_text())
    receivers = LocalReceivers("http://127.0.0.1:1/v2/enqueue", "http://127.0.0.1:2/slack",
                               "http://127.0.0.1:3/hook", "127.0.0.1:4", smtp_ca_file=str(tmp_path / "ca.pem"))
    local, changes = local_alertmanager_config((rendered / "alertmanager/alertmanager.yml").read_text(),
                                               receivers, tmp_path / "templates", tmp_path / "secrets")
    by_name = {r["name"]: r for r in local["receivers"]}
    deployed_by_name = {r["name"]: r for r in deployed["receivers"]}
    # The heartbeat's URL is read from its secret file, as deployed.
    [hook] = by_name["watchdog"]["webhook_configs"]
    assert "url" not in hook
    assert Path(hook["url_file"]).read_text() == receivers.watchdog_url
    # STARTTLS as rendered; the only addition is the CA the stand-in's certificate chains to.
    [mail] = by_name["email"]["email_configs"]
    [deployed_mail] = deployed_by_name["email"]["email_configs"]
    assert mail["require_tls"] is deployed_mail["require_tls"] is True
    assert mail["tls_config"] == {"ca_file": receivers.smtp_ca_file}
    assert {k: v for k, v in mail.items() if k not in ("smarthost", "auth_password_file", "tls_config")} == \
           {k: v for k, v in deployed_mail.items() if k not in ("smarthost", "auth_password_file")}
    assert changes == ["e-mail tls_config.ca_file: the SMTP stand-in's throwaway CA"]


def test_every_secret_file_a_receiver_reads_exists_locally(rendered, tmp_path):
    deployed = yaml.safe_load((rendered / "alertmanager/alertmanager.yml").read_text())
    # A second PagerDuty service, as a stack routing some pages elsewhere has.
    second = {"name": "pagerduty-second", "pagerduty_configs": [
        {"routing_key_file": f"{c.ALERTMANAGER_SECRETS_DIR}/pagerduty_second_routing_key"}]}
    deployed["receivers"].append(second)
    receivers = LocalReceivers("http://127.0.0.1:1/v2/enqueue", "http://127.0.0.1:2/slack",
                               "http://127.0.0.1:3/hook", "127.0.0.1:4", smtp_ca_file=str(tmp_path / "ca.pem"))
    local, _ = local_alertmanager_config(yaml.safe_dump(deployed), receivers, tmp_path / "templates",
                                         tmp_path / "secrets")
    files = [value for receiver in local["receivers"] for kind, configs in receiver.items()
             if kind.endswith("_configs") for config in configs for key, value in config.items()
             if key.endswith("_file") and key != "ca_file"]
    assert len(files) >= 5 and all(Path(f).is_file() and Path(f).read_text() for f in files), files
    [key] = [r["pagerduty_configs"][0]["routing_key_file"] for r in local["receivers"]
             if r["name"] == "pagerduty-second"]
    assert Path(key).parent == tmp_path / "secrets"
    # A secret whose meaning the game day does not know is an error, not an empty file.
    deployed["global"] = {"opsgenie_api_key_file": f"{c.ALERTMANAGER_SECRETS_DIR}/opsgenie_api_key"}
    with pytest.raises(GamedayError, match="opsgenie_api_key_file"):
        local_alertmanager_config(yaml.safe_dump(deployed), receivers, tmp_path / "templates", tmp_path / "s2")


def test_an_email_receiver_requiring_tls_needs_the_stand_ins_ca(rendered, tmp_path):
    receivers = LocalReceivers("http://127.0.0.1:1/v2/enqueue", "http://127.0.0.1:2/slack",
                               "http://127.0.0.1:3/hook", "127.0.0.1:4")
    with pytest.raises(GamedayError, match="STARTTLS"):
        local_alertmanager_config((rendered / "alertmanager/alertmanager.yml").read_text(), receivers,
                                  tmp_path / "templates", tmp_path / "secrets")


def test_local_alertmanager_config_passes_amtool(rendered, tmp_path):
    amtool = r.tool("amtool")
    receivers = LocalReceivers("http://127.0.0.1:1/v2/enqueue", "http://127.0.0.1:2/slack",
                               "http://127.0.0.1:3/hook", "127.0.0.1:4", smtp_ca_file=str(tmp_path / "ca.pem"))
    local, _ = local_alertmanager_config((rendered / "alertmanager/alertmanager.yml").read_text(), receivers,
                                         rendered / "alertmanager/templates", tmp_path / "secrets")
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(local))
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_local_prometheus_config_changes_targets_only(rendered, tmp_path):
    deployed = yaml.safe_load((rendered / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: (f"127.0.0.1:{1000 + i}",) for i, job in enumerate(deployed["scrape_configs"])}
    local = local_prometheus_config((rendered / "prometheus/prometheus.yml").read_text(),
                                    LocalTargets(jobs, ("127.0.0.1:9",)), tmp_path)
    assert local["global"] == deployed["global"]
    assert local["alerting"]["alert_relabel_configs"] == deployed["alerting"]["alert_relabel_configs"]
    assert local["alerting"]["alertmanagers"][0]["static_configs"] == [{"targets": ["127.0.0.1:9"]}]
    for job in local["scrape_configs"]:
        assert job["static_configs"] == [{"targets": list(jobs[job["job_name"]])}]
    assert local["rule_files"] == [str(tmp_path / "*.yml")]


def test_a_scrape_job_without_a_stand_in_is_an_error(rendered, tmp_path):
    with pytest.raises(GamedayError, match="no stand-in"):
        local_prometheus_config((rendered / "prometheus/prometheus.yml").read_text(),
                                LocalTargets({"prometheus": ("127.0.0.1:1",)}, ()), tmp_path)


def test_exporter_runs_with_the_deployed_flags_listening_locally(commands):
    deployed = commands[c.CELERY_EXPORTER].args
    local = redirect_exporter_flags(deployed, 12345)
    assert [a for a in local if not a.startswith(("--host", "--port"))] == \
           [a for a in deployed if not a.startswith(("--host", "--port"))]
    assert local[-2:] == ["--host=127.0.0.1", "--port=12345"]
    assert not any("redis://" in a for a in deployed), "the broker URL must travel in CE_BROKER_URL only"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_exporter_release_is_the_tag_of_the_image_the_stack_deploys(stack):
    from components.settings import from_stack_file
    image = from_stack_file(stack)[0].celery_exporter_image
    version = exporter_release(stack)
    assert image.endswith(f":{version}") or image.endswith(f":v{version}")
    assert exporter_requirements(version)[0] == f"prometheus-exporter-celery=={version}"
    # The image tag is the one place that says it.
    for path in Path(celery_side.__file__).parent.glob("*.py"):
        assert version not in path.read_text(), f"{path.name} names the exporter release {version}"


def test_an_exporter_image_without_a_release_tag_has_no_release_to_run(monkeypatch):
    from components import settings

    class Untagged:
        celery_exporter_image = "danihodovic/celery-exporter:latest"
    monkeypatch.setattr(settings, "from_stack_file", lambda stack: (Untagged(), None))
    with pytest.raises(GamedayError, match="not a release version"):
        exporter_release("prod")


def test_alertmanager_replicas_run_the_deployed_flags_in_one_cluster(commands, tmp_path):
    replicas = [AlertmanagerReplica(i, "alertmanager", tmp_path / "am.yml", tmp_path / f"am-{i}",
                                    deployed_args=commands[c.ALERTMANAGER].args)
                for i in range(3)]
    peers = tuple(am.cluster_address for am in replicas)
    for am in replicas:
        am.peers = peers
    argv = replicas[0].argv()
    assert "--cluster.peer-timeout=17s" in argv and "--data.retention=168h" in argv
    assert sorted(a for a in argv if a.startswith("--cluster.peer=")) == \
           sorted(f"--cluster.peer={peer}" for peer in peers[1:])


@pytest.mark.parametrize("external_url", [None, "https://alerts.hospital.example"])
def test_servers_answer_at_their_local_address_whether_or_not_the_stack_names_one(commands, tmp_path,
                                                                                  external_url):
    def deployed(service: str) -> tuple[str, ...]:
        args = tuple(a for a in commands[service].args if not a.startswith("--web.external-url="))
        return args + ((f"--web.external-url={external_url}",) if external_url else ())
    servers = [AlertmanagerReplica(0, "alertmanager", tmp_path / "am.yml", tmp_path / "am-0",
                                   deployed_args=deployed(c.ALERTMANAGER)),
               PrometheusReplica(0, "prometheus", tmp_path / "p.yml", tmp_path / "p-0",
                                 deployed_args=deployed(c.PROMETHEUS))]
    for server in servers:
        argv = server.argv()
        # A flag given twice stops the server before it starts; the stack's
        # external URL is what notifications link to, so it is kept.
        assert [a for a in argv if a.startswith("--web.listen-address=")] == \
               [f"--web.listen-address={server.target}"], server.name
        assert [a for a in argv if a.startswith("--web.external-url=")] == \
               [f"--web.external-url={external_url or server.url}"], server.name
        assert "--web.route-prefix=/" in argv, server.name


# -- the simulated backend is the application's metrics -----------------------------
def test_backend_exposes_every_catalogued_backend_metric():
    catalog = yaml.safe_load((PROJECT / "catalog/metrics.yml").read_text())["metrics"]
    backend = SimulatedBackend("catalog")
    backend.start()
    try:
        for tick in range(2):
            backend.everyday_traffic(tick)
        for entry in catalog:
            if entry["source"] != "scheduler-backend":
                continue
            name = entry["name"]
            family = name.removesuffix("_total")
            if entry["type"] == "info":
                continue
            if name.startswith(REQUEST_METRICS_PREFIX):
                continue    # the instrumentation's own (tests/test_gameday_api.py), checked below
            assert family in METRICS, f"simulator lacks {name}"
            kind, labels, _ = METRICS[family]
            assert kind == entry["type"], f"{name}: simulator {kind}, catalog {entry['type']}"
            assert list(labels) == list(entry["labels"]), f"{name}: simulator labels {labels}, catalog {entry['labels']}"
        text = requests.get(f"http://{backend.target}/metrics", timeout=5).text
        assert "resilience_info{" in text
        # A labelled counter is born with its first event, never at 0.
        assert "schedule_violations_total{" not in text
        backend.inc("schedule_violations_total", {"violation_type": "80_hour"})
        text = requests.get(f"http://{backend.target}/metrics", timeout=5).text
        assert 'schedule_violations_total{violation_type="80_hour"} 1.0' in text
        # The backend that serves the API exposes the instrumentation's metrics.
        assert "http_requests_total{" not in text
        backend.serve_api(now=time.time())
        backend.serve_api(now=time.time() + 5)
        instrumented_api().drain()
        text = requests.get(f"http://{backend.target}/metrics", timeout=5).text
        for entry in catalog:
            if entry["name"].startswith(REQUEST_METRICS_PREFIX):
                assert any(line.startswith(tuple(f"{s}{{" for s in entry["series"])) or
                           line.startswith(tuple(f"{s} " for s in entry["series"]))
                           for line in text.splitlines()), entry["name"]
    finally:
        backend.stop()


def test_backend_down_refuses_connections_and_comes_back_on_the_same_port():
    backend = SimulatedBackend("down")
    backend.start()
    url = f"http://{backend.target}/metrics"
    assert requests.get(url, timeout=5).status_code == 200
    backend.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
    backend.start()
    try:
        assert requests.get(url, timeout=5).status_code == 200
    finally:
        backend.stop()


def test_the_long_running_backend_has_old_violation_and_forged_token_counters():
    backend = SimulatedBackend("long-running")
    backend.record_history()
    backend.start()
    try:
        text = requests.get(f"http://{backend.target}/metrics", timeout=5).text
    finally:
        backend.stop()
    violations = re.findall(r'^schedule_violations_total\{violation_type="[^"]+"\} (\S+)$', text, re.M)
    forged = re.findall(r'^auth_verification_failures_total\{reason="invalid_signature"\} (\S+)$', text, re.M)
    assert violations and all(float(v) >= 1 for v in violations)
    assert forged and float(forged[0]) >= 1
    # Born weeks ago, as the application's _created series say.
    born = re.findall(r'^(?:schedule_violations|auth_verification_failures)_created\{[^}]*\} (\S+)$', text, re.M)
    assert len(born) == len(violations) + 1
    assert all(time.time() - float(b) > 7 * 24 * 3600 for b in born)


def test_backend_rejects_labels_the_application_does_not_use():
    backend = SimulatedBackend("labels")
    with pytest.raises(KeyError, match="labels"):
        backend.set("resilience_faculty_available", {"kind": "on_duty"}, 3)


def test_tasks_are_named_and_routed_as_the_application_routes_them():
    assert celery_app.ROUTES[celery_app.HEALTH_CHECK] == "resilience"
    assert celery_app.ROUTES[celery_app.CONTINGENCY_ANALYSIS] == "resilience"
    assert celery_app.UNCONSUMED_QUEUE not in celery_app.CONSUMED_QUEUES
    assert celery_app.app.conf.worker_send_task_events and celery_app.app.conf.task_send_sent_event


# -- the stand-ins speak the receivers' protocols ---------------------------------------
@pytest.fixture()
def standins(tmp_path):
    recorder = Recorder(["CriticalUtilization", "HighUtilization"])
    started = StandIns(recorder, tmp_path / "tls").start()
    yield started
    started.stop()


def test_pagerduty_stand_in_accepts_events_v2_and_rejects_malformed(standins):
    event = {"routing_key": "k", "event_action": "trigger", "dedup_key": "d1",
             "payload": {"summary": "[FIRING:1] CriticalUtilization", "source": "am", "severity": "critical"}}
    answer = requests.post(standins.url("pagerduty"), json=event, timeout=5)
    assert answer.status_code == 202 and answer.json()["status"] == "success"
    assert answer.json()["dedup_key"] == "d1"
    bad = requests.post(standins.url("pagerduty"), json={"event_action": "trigger"}, timeout=5)
    assert bad.status_code == 400
    [note] = standins.recorder.snapshot()
    assert note.kind == "pagerduty" and note.status == "firing" and note.alertnames == {"CriticalUtilization"}
    assert standins.recorder.rejected


def test_slack_stand_in_answers_ok_and_reads_status(standins):
    message = {"channel": "#x", "attachments": [{"title": "[RESOLVED] HighUtilization", "text": "back to normal"}]}
    answer = requests.post(standins.url("slack"), json=message, timeout=5)
    assert answer.status_code == 200 and answer.text == "ok"
    [note] = standins.recorder.snapshot()
    assert note.status == "resolved" and note.alertnames == {"HighUtilization"}


def _alert_mail() -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = "[FIRING:1] HighUtilization"
    mail["From"] = "am@hospital.example"
    mail["To"] = "oncall@hospital.example"
    mail.set_content("HighUtilization on backend")
    return mail


def test_smtp_stand_in_accepts_authenticated_mail_after_starttls_verified_by_the_runs_ca(standins):
    host, port = standins.smarthost.split(":")
    trusting = ssl.create_default_context(cafile=str(standins.certificate.ca_file))
    with smtplib.SMTP(host, int(port), timeout=5) as client:
        client.ehlo()
        client.starttls(context=trusting)   # verifies the chain and the name 127.0.0.1
        client.ehlo()
        client.login("am@hospital.example", "secret")
        client.send_message(_alert_mail())
    [note] = standins.recorder.snapshot()
    assert note.kind == "email" and note.alertnames == {"HighUtilization"} and note.detail["tls"] is True
    assert standins.smtp_handler.logins == ["am@hospital.example"]


def test_smtp_stand_in_refuses_login_and_mail_before_starttls(standins):
    host, port = standins.smarthost.split(":")
    with smtplib.SMTP(host, int(port), timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        with pytest.raises(smtplib.SMTPException):
            client.login("am@hospital.example", "secret")
        with pytest.raises(smtplib.SMTPException):
            client.send_message(_alert_mail())
    assert standins.recorder.snapshot() == [] and standins.smtp_handler.logins == []


def test_the_smtp_certificate_is_trusted_only_through_the_runs_ca(standins):
    host, port = standins.smarthost.split(":")
    with smtplib.SMTP(host, int(port), timeout=5) as client:
        client.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=ssl.create_default_context())


def test_names_match_whole_words_only():
    recorder = Recorder(["CeleryQueueBacklog", "CeleryQueueBacklogCritical"])
    assert recorder.names_in("CeleryQueueBacklogCritical fired") == {"CeleryQueueBacklogCritical"}


# -- processes never outlive the game day ------------------------------------------------
def test_supervisor_stops_the_whole_process_group(tmp_path):
    supervisor = Supervisor(tmp_path)
    child = supervisor.start("sleeper", ["bash", "-c", "sleep 300 & sleep 300 & wait"])
    time.sleep(0.5)
    group = child.popen.pid
    supervisor.stop_all()
    time.sleep(0.3)
    listed = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(group)], capture_output=True, text=True).stdout
    # A killed orphan may linger as a zombie until init reaps it: it runs nothing.
    alive = [line for line in listed.splitlines() if line.split()[1][0] != "Z"]
    assert not alive, f"left running: {alive}"


def test_interrupted_game_day_leaves_no_process(tmp_path):
    """Ctrl-C (SIGINT) in the middle of starting servers stops every child it started."""
    script = tmp_path / "interrupted.py"
    script.write_text(
        "import sys, time\n"
        "from pathlib import Path\n"
        "from gameday.procs import Supervisor\n"
        "s = Supervisor(Path(sys.argv[1]))\n"
        "c = s.start('sleeper', ['sleep', '300'])\n"
        "print(c.popen.pid, flush=True)\n"
        "try:\n"
        "    time.sleep(60)\n"
        "finally:\n"
        "    s.stop_all()\n")
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path / "logs")], cwd=PROJECT,
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    child_pid = int(process.stdout.readline())
    process.send_signal(signal.SIGINT)
    process.wait(timeout=20)
    time.sleep(0.3)
    with pytest.raises(ProcessLookupError):
        os.kill(child_pid, 0)


def test_a_missing_binary_is_a_clear_error():
    with pytest.raises(GamedayError, match="run ./scripts/setup"):
        require_binary("/nonexistent/prometheus", "Prometheus", "run ./scripts/setup")


def _alert(name: str, state: str, active_at: str) -> dict:
    return {"labels": {"alertname": name, "severity": "critical"}, "state": state, "activeAt": active_at}


def test_a_restored_alert_counts_only_when_firing_again_with_its_first_active_at():
    before = [_alert("A", "firing", "2026-11-26T10:00:00.123456789Z")]
    # Prometheus restores activeAt to whole seconds.
    restored = [_alert("A", "firing", "2026-11-26T10:00:00Z")]
    assert judge_restored(before, restored, restored) == ([], 1, 0)
    # Restored but not yet evaluated again: pending, still a problem until it fires.
    lost, kept, _ = judge_restored(before, [_alert("A", "pending", "2026-11-26T10:00:00Z")], before)
    assert kept == 0 and lost == ["A pending (active since 2026-11-26T10:00:00Z)"]
    # A fresh for: wait is a lost state whatever the alert's state.
    fresh = [_alert("A", "pending", "2026-11-26T10:07:30Z")]
    lost, kept, _ = judge_restored(before, fresh, before)
    assert kept == 0 and "waits a fresh for:" in lost[0]
    # An alert without for: (a burn rate) fires again at once with a new activeAt: nothing lost, nothing restored.
    again = [_alert("A", "firing", "2026-11-26T10:07:30Z")]
    assert judge_restored(before, again, before, without_for=frozenset({"A"})) == ([], 0, 0)
    lost, _, _ = judge_restored(before, fresh, before, without_for=frozenset({"A"}))
    assert lost == ["A pending (it has no for: and must fire at once)"]


def test_an_alert_gone_after_a_restart_is_lost_unless_it_cleared_everywhere():
    before = [_alert("A", "firing", "2026-11-26T10:00:00Z")]
    assert judge_restored(before, [], before) == (["A gone"], 0, 0)
    assert judge_restored(before, [], []) == ([], 0, 1)


# -- disruptions beside the scenarios ------------------------------------------------------
def _finished_thread() -> threading.Thread:
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    return thread


def test_a_planned_disruption_waits_for_its_time_its_condition_and_its_predecessor():
    first = Planned(lambda: None, 10.0)
    second = Planned(lambda: None, 5.0, when=lambda elapsed: elapsed > 20, after=(first,))
    assert not first.due(9.0) and first.due(10.0)
    assert not second.due(30.0), "its predecessor has not run"
    first.thread = _finished_thread()
    assert first.done and not first.due(60.0)
    assert not second.due(15.0) and second.due(30.0)


def test_the_quick_run_has_room_for_the_rollout_and_then_the_kill(timing):
    end = max(slot.end for slot in schedule(load_all(), timing, quick=True))
    alertmanagers = 3
    # Starting a replica takes a few seconds; allow ten.
    rolled = max(ROLL_START, 0.1 * end) + alertmanagers * (ROLL_AWAY + 10 + MIN_READY_SECONDS)
    assert max(rolled, 0.35 * end) + KILLED_AWAY < end


def test_a_duplicate_belongs_to_the_latest_alertmanager_disruption_before_it():
    roll = Disruption(ROLLED, "rolling", 100.0, 400.0)
    kill = Disruption(KILLED, "killed", 450.0, 600.0)
    assert disruption_periods([kill, roll], 900.0) == [(roll, 100.0, 450.0), (kill, 450.0, 900.0)]


# -- the verdict reads a record of what the run observed ----------------------------------
def _record(timing, **fields) -> Observations:
    base = dict(t0=1000.0, t_end=2000.0, slots=tuple(schedule(load_all(), timing, quick=False)), timing=timing,
                step_times={}, alerts_seen={}, notifications=(), rejected=(), receiver_kinds={},
                backend_targets={"scrape_outage": "127.0.0.1:9001"}, long_running_target="127.0.0.1:9001",
                long_running_alerts={}, disruptions=(), prometheus_replicas=2, alertmanager_replicas=3,
                smtp_requires_tls=True, config_changes=())
    base.update(fields)
    return Observations(**base)


def _labels(**labels) -> str:
    return json.dumps({"instance": "127.0.0.1:9001", "job": "scheduler-backend", **labels}, sort_keys=True)


def test_an_alert_about_the_long_running_backend_fails_unless_its_scenario_expects_it(timing):
    record = _record(timing)
    outage = next(slot for slot in record.slots if slot.scenario.name == "scrape_outage")
    during = record.t0 + outage.start + 180
    expected = {("prometheus-0", _labels(alertname="PrometheusTargetDown")): during}
    result = Result()
    judge_long_running(_record(timing, long_running_alerts=expected), result)
    assert [c.ok for c in result.checks] == [True]
    false_page = {**expected, ("prometheus-1", _labels(alertname="ACGMEViolationDetected",
                                                       violation_type="1_in_7")): during + 300}
    result = Result()
    judge_long_running(_record(timing, long_running_alerts=false_page), result)
    [check] = result.checks
    assert not check.ok and "ACGMEViolationDetected{violation_type=1_in_7} firing on prometheus-1" in check.detail
    # Outside its scenario's slot the target-down alert is no longer expected either.
    late = {("prometheus-0", _labels(alertname="PrometheusTargetDown")): record.t0 + outage.end + 60}
    result = Result()
    judge_long_running(_record(timing, long_running_alerts=late), result)
    assert not result.checks[0].ok


def _note(kind: str, arrived: float, status: str, *names: str) -> Notification:
    return Notification(kind, arrived, status, frozenset(names), " ".join(names))


def test_each_alertmanager_disruption_answers_for_the_duplicates_until_the_next_one(timing):
    roll = Disruption(ROLLED, "rolled", 1100.0, 1400.0)
    kill = Disruption(KILLED, "killed", 1500.0, 1650.0)
    notes = (_note("pagerduty", 1200.0, "firing", "CriticalUtilization"),
             _note("pagerduty", 1210.0, "firing", "CriticalUtilization"),
             _note("slack", 1700.0, "resolved", "LoadSheddingActive"))
    duplicates = [(1210.0, "utilization: CriticalUtilization reached pagerduty 2 times")]
    result = Result()
    judge_disruptions(_record(timing, disruptions=(kill, roll), notifications=notes), result, [], duplicates)
    by_name = {c.name.split(":")[0]: c for c in result.checks}
    assert not by_name[ROLLED].ok and by_name[KILLED].ok
    assert result.exactly_once == {ROLLED: (2, 1), KILLED: (1, 0)}


def test_a_page_after_a_prometheus_comes_back_empty_fails_its_check(timing):
    replaced = Disruption(REPLACED, "replaced", 1300.0, 1310.0)
    page = _note("pagerduty", 1500.0, "firing", "SuspiciousAuthActivity")
    result = Result()
    judge_disruptions(_record(timing, disruptions=(replaced,), notifications=(page,)), result,
                      [(page, "8m20s pagerduty firing: SuspiciousAuthActivity")], [])
    [check] = result.checks
    assert not check.ok and "1 unexpected pages" in check.detail


def test_a_notification_twice_after_a_prometheus_comes_back_empty_fails_its_check(timing):
    # The fresh replica resolves what it has no history of while the other
    # still fires: Alertmanager reports the resolution, then pages again.
    replaced = Disruption(REPLACED, "replaced", 1300.0, 1310.0)
    result = Result()
    judge_disruptions(_record(timing, disruptions=(replaced,)), result, [],
                      [(1700.0, "forged_tokens: SuspiciousAuthActivity reached pagerduty 2 times")])
    [check] = result.checks
    assert not check.ok and "1 duplicated" in check.detail


def test_verdict_knows_nothing_of_the_run():
    tree = ast.parse((PROJECT / "gameday/verdict.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "gameday.run" not in imported


def test_replica_counts_come_from_the_stack(monkeypatch, tmp_path):
    def three_prometheus_five_alertmanagers(stack, outdir):
        rendered = render(stack, outdir)
        where = dataclasses.replace(rendered.topology, prometheus=("p",) * 3, alertmanager=("a",) * 5)
        return dataclasses.replace(rendered, topology=where)
    monkeypatch.setattr(gameday_run, "render", three_prometheus_five_alertmanagers)
    counts = []
    for options in (Options(stack="prod", workdir=tmp_path, keep=True),
                    Options(stack="prod", workdir=tmp_path, keep=True, alertmanager_replicas=1)):
        day = GameDay(options)
        try:
            day.prepare()
            counts.append((day.prometheus_replicas, day.alertmanager_replicas))
        finally:
            day.close()
    assert counts == [(3, 5), (3, 1)]


class _FakePrometheus:
    """Answers the panel check's queries: data wherever `has_data` says so."""

    def __init__(self, has_data):
        self.has_data = has_data
        self.asked: list[str] = []

    def query(self, expr, at=None):
        self.asked.append(expr)
        if expr == "slo:objective:ratio":
            return [{"metric": {"slo": "api_availability"}}, {"metric": {"slo": "api_latency"}}]
        return [{"metric": {}, "value": [at, "1"]}] if self.has_data(expr) else []

    def query_range(self, expr, start, end, step):
        self.asked.append(expr)
        return [{"metric": {}, "values": [[start, "1"]]}] if self.has_data(expr) else []


def test_the_panel_check_reads_dashboards_in_folders_and_each_repeat_of_a_row(tmp_path):
    from gameday.panels import check_dashboards
    (tmp_path / "SLOs").mkdir()
    (tmp_path / "overview.json").write_text(json.dumps({"uid": "overview", "panels": [
        {"id": 1, "title": "Up", "type": "stat", "targets": [{"expr": "up"}]}]}))
    (tmp_path / "SLOs" / "slos.json").write_text(json.dumps({
        "uid": "slos",
        "templating": {"list": [{"name": "slo", "type": "query", "includeAll": True, "multi": True,
                                 "query": "label_values(slo:objective:ratio, slo)",
                                 "current": {"value": ["$__all"]}}]},
        "panels": [
            {"id": 100, "type": "row", "title": "SLO $slo", "repeat": "slo", "panels": []},
            {"id": 1, "title": "SLI now", "type": "stat", "targets": [{"expr": 'slo:sli{slo="$slo"}', "instant": True}]},
            {"id": 2, "title": "Bad requests", "type": "timeseries",
             "targets": [{"expr": 'slo_handler:bad{slo="$slo"} > 0'}]},
        ]}))
    prometheus = _FakePrometheus(lambda expr: "api_latency" not in expr or "slo_handler" not in expr)
    results = check_dashboards(tmp_path, prometheus, 0.0, 3600.0)
    drawn = {(r.dashboard, r.panel_id): r.has_data for r in results}
    assert drawn == {("overview", 1): True,
                     ("slos (slo=api_availability)", 1): True, ("slos (slo=api_availability)", 2): True,
                     ("slos (slo=api_latency)", 1): True, ("slos (slo=api_latency)", 2): False}
    assert 'slo_handler:bad{slo="api_latency"} > 0' in prometheus.asked


def test_the_game_day_checks_the_slo_dashboards_grafana_provisions(rendered):
    folders = {path.parent.relative_to(rendered / "grafana/dashboards").as_posix()
               for path in (rendered / "grafana/dashboards").rglob("*.json")}
    assert "SLOs" in folders and "." in folders


# -- the API's traffic and its SLO alerts -----------------------------------------
class RecordingApi:
    """Stands in for the instrumented API (tests/test_gameday_api.py runs the real one)."""

    def __init__(self):
        self.calls: list[tuple[str, str, str, float]] = []

    def call(self, method: str, route: str, outcome: str = "ok", seconds: float = 0.0) -> None:
        self.calls.append((method, route, outcome, seconds))


def test_the_api_fails_exactly_its_failing_share_on_routes_the_api_has():
    client = RecordingApi()
    backend = SimulatedBackend("api", api_client=client)
    backend.serve_api(now=1000.0)
    backend.api_failing(1 / 3)
    served = backend.serve_api(now=1000.0 + 300)       # five minutes at API_RATE
    backend.api_failing(0)
    backend.serve_api(now=1000.0 + 360)
    outcomes: dict[str, int] = {}
    for _, _, outcome, _ in client.calls:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert served == 600 and len(client.calls) == 720
    assert outcomes["fail"] == 200, "a third of the five minutes' requests, none after the fix"
    assert set(outcomes) == {"ok", "client-error", "fail"}
    assert {(method, route) for method, route, _, _ in client.calls} <= set(api_routes)
    slow = sum(1 for _, _, outcome, seconds in client.calls if outcome == "ok" and seconds > 1)
    assert 0 < slow / len(client.calls) < 0.01, "the latency SLO keeps within its 1 % budget"


def test_an_api_step_acts_on_the_long_running_backend_with_a_share(tmp_path):
    scenario = tmp_path / "api.yml"
    body = ("backend: {backend}\nsteps:\n  - {{at: 0s, name: failing, api: {{failing: {share}}}}}\n"
            "expect:\n  - {{alert: ApiAvailabilityBudgetBurnCritical, from: failing, notify: [pagerduty]}}\n")
    scenario.write_text(body.format(backend="long-running", share="1/3"))
    assert load(scenario).steps[0].actions["api"] == {"failing": pytest.approx(1 / 3)}
    scenario.write_text(body.format(backend="true", share="1/3"))
    with pytest.raises(GamedayError, match="long-running"):
        load(scenario)
    scenario.write_text(body.format(backend="long-running", share="4/3"))
    with pytest.raises(GamedayError, match="share"):
        load(scenario)


def test_burn_rate_pairs_are_read_from_the_rendered_fast_burn_alert(timing):
    pairs = timing.burn_pairs("ApiAvailabilityBudgetBurnCritical")
    assert [(p.long.seconds, p.short.seconds, p.threshold) for p in pairs] == \
           [(3600, 300, pytest.approx(14.4 * 0.005)), (6 * 3600, 1800, pytest.approx(6 * 0.005))]
    assert pairs[1].long.smoothing == 300, "6h sums the recorded 5-minute rates"
    assert pairs[0].long.smoothing == 0 and pairs[1].short.smoothing == 0
    assert timing.burn_pairs("CriticalUtilization") == ()


def test_a_window_holds_the_good_traffic_before_the_outage_and_the_errors_it_saw():
    from gameday.burn import Outage, Window, error_ratio
    outage = Outage(share=1 / 3, history=3600, duration=math.inf, hidden=0, interval=60)
    assert error_ratio(Window(3600), 600, outage) == pytest.approx(600 / 3 / 3600)
    assert error_ratio(Window(300), 600, outage) == pytest.approx(1 / 3)
    fresh = Outage(share=1 / 3, history=60, duration=math.inf, hidden=0, interval=60)
    assert error_ratio(Window(3600), 600, fresh) == pytest.approx(600 / 3 / 660), "only what was served counts"
    # Summed 5-minute records lag the raw window as the errors enter them.
    assert error_ratio(Window(3600, smoothing=300), 240, outage) < error_ratio(Window(3600), 240, outage)
    hidden = Outage(share=1 / 3, history=3600, duration=math.inf, hidden=15, interval=60)
    assert error_ratio(Window(300), 300, hidden) == pytest.approx(285 / 3 / 300)


def test_the_fast_burn_page_waits_longer_after_a_long_healthy_spell_and_clears_with_its_30m_window(timing):
    from gameday.burn import Outage, time_to_clear, time_to_fire
    pairs = timing.burn_pairs("ApiAvailabilityBudgetBurnCritical")
    def outage(history):
        return Outage(share=1 / 3, history=history, duration=480, hidden=15, interval=60)
    fresh, warm, hour = (time_to_fire(pairs, outage(h)) for h in (60, 27 * 60, 3600))
    assert fresh < 60 < warm < hour
    # The 6x pair's 30m window keeps the errors until fewer than 3 % of it
    # are left: 8 minutes at a third leave it after about 27 minutes...
    assert 26 * 60 < time_to_clear(pairs, outage(27 * 60)) < 28 * 60
    # ...unless the 6h window's share falls below 3 % first, after a long good spell.
    assert time_to_clear(pairs, outage(3600)) < time_to_clear(pairs, outage(27 * 60))
    with pytest.raises(GamedayError, match="never meets"):
        time_to_fire(pairs, Outage(share=0.01, history=3600, duration=480, hidden=15, interval=60))


def test_the_api_scenario_pages_within_its_windows_bound_and_waits_for_the_resolution_only_in_the_full_run(timing):
    from gameday.plan import history_at, outage_of
    scenario = next(s for s in load_all() if s.name == "api_outage")
    critical = next(e for e in scenario.expect if e.alert == "ApiAvailabilityBudgetBurnCritical")
    outage = outage_of(scenario, critical, timing, history=60)
    assert outage.share == pytest.approx(1 / 3) and outage.duration == 480
    plain = timing.fire_bound(critical.alert)
    assert plain < timing.fire_bound(critical.alert, outage=outage) < scenario.step("fixed").at
    assert timing.resolve_bound(critical, outage=outage) > 25 * 60
    quick = {slot.scenario.name: slot for slot in schedule(load_all(), timing, quick=True)}
    full = {slot.scenario.name: slot for slot in schedule(load_all(), timing, quick=False)}
    assert critical.alert not in quick["api_outage"].awaited and critical.alert in full["api_outage"].awaited
    assert history_at(scenario, critical, full["api_outage"].start) > 20 * 60


# -- a silence holds an alert back ------------------------------------------------------
_SILENCE_BODY = """backend: true
steps:
  - at: 0s
    name: silenced
    silence: {{matchers: [{matcher}], duration: {duration}, author: oncall, comment: Solver maintenance CHG-1}}
  - {{at: 15s, name: failing, inc: {{metric: schedule_generation_total, labels: {{algorithm: greedy, outcome: failure}}}}}}
  - {{at: 7m30s, name: unsilenced, unsilence: {target}}}
expect:
  - {{alert: ScheduleGenerationFailures, from: failing, notify: [slack], silenced_until: {until}}}
"""


def test_a_silence_step_is_checked_by_the_silences_package_rules(tmp_path):
    scenario = tmp_path / "silence.yml"
    good = dict(matcher="alertname=ScheduleGenerationFailures", duration="1h", target="silenced", until="unsilenced")
    scenario.write_text(_SILENCE_BODY.format(**good))
    assert load(scenario).expect[0].silenced_until == "unsilenced"
    for bad, message in ((dict(matcher="alertname=Watchdog"), "Watchdog"), (dict(duration="8d"), "7 days"),
                         (dict(target="failing"), "no step that makes a silence"),
                         (dict(until="failing"), "expires the silence")):
        scenario.write_text(_SILENCE_BODY.format(**{**good, **bad}))
        with pytest.raises(GamedayError, match=message):
            load(scenario)


def _silence_record(timing, *, expired_at, notes, firing_at):
    from gameday.observations import AlertSeen, SilenceMade
    slots = tuple(s for s in schedule(load_all(), timing, quick=True) if s.scenario.name == "maintenance_silence")
    t0 = 1000.0
    failing = t0 + 15
    seen = AlertSeen({"alertname": "ScheduleGenerationFailures", "job": "scheduler-backend"}, pending=failing + 60,
                     firing=firing_at)
    silence = SilenceMade(made_at=t0, id="5ab3c0de-0000-4000-8000-000000000001", replica="alertmanager-0",
                          active_on=["alertmanager-0", "alertmanager-1", "alertmanager-2"], expired_at=expired_at)
    return _record(timing, t0=t0, t_end=t0 + 900, slots=slots,
                   step_times={("maintenance_silence", "silenced"): t0, ("maintenance_silence", "failing"): failing,
                               ("maintenance_silence", "unsilenced"): expired_at},
                   alerts_seen={("k",): seen}, notifications=tuple(notes),
                   receiver_kinds=receiver_kinds(timing.alertmanager),
                   silences={("maintenance_silence", "silenced"): silence})


def _slack(at, status="firing", text="ScheduleGenerationFailures"):
    return Notification("slack", at, status, frozenset({"ScheduleGenerationFailures"}), json.dumps({"text": text}))


def _check(result, name):
    return next(c for c in result.checks if c.name.startswith(name))


def test_the_verdict_holds_a_silenced_alert_to_no_notification_then_one_at_the_next_flush(timing):
    from gameday.verdict import judge
    expired = 1000.0 + 450
    result = Result()
    judge(_silence_record(timing, expired_at=expired, notes=[_slack(expired + 200)], firing_at=1000.0 + 380),
          result, lambda text: None)
    held = _check(result, "maintenance_silence: ScheduleGenerationFailures held back by a silence")
    after = _check(result, "maintenance_silence: ScheduleGenerationFailures -> slack once the silence expired")
    assert held.ok, held.detail
    assert after.ok and "ratio 0.67" in after.detail, after.detail

    leaked = Result()
    judge(_silence_record(timing, expired_at=expired, notes=[_slack(1000.0 + 420), _slack(expired + 200)],
                          firing_at=1000.0 + 380), leaked, lambda text: None)
    assert not _check(leaked, "maintenance_silence: ScheduleGenerationFailures held back").ok

    untested = Result()
    judge(_silence_record(timing, expired_at=expired, notes=[_slack(expired + 200)], firing_at=expired - 10),
          untested, lambda text: None)
    check = _check(untested, "maintenance_silence: ScheduleGenerationFailures held back")
    assert not check.ok and "nothing proven" in check.detail


# -- links in notifications -------------------------------------------------------------
def test_links_are_read_from_every_field_and_from_e_mail_html():
    from gameday.verdict import links_in
    page = Notification("pagerduty", 0.0, "firing", frozenset(), json.dumps({
        "client_url": "http://localhost:9093", "links": [{"href": "https://github.com/o/r/blob/abc/runbooks/X.md"}],
        "payload": {"custom_details": {"firing": "Runbook: https://github.com/o/r/blob/abc/runbooks/X.md\n"
                                                 "Dashboard: https://grafana.example/d/x?a=1&b=2."}}}))
    assert links_in(page) == ["http://localhost:9093", "https://github.com/o/r/blob/abc/runbooks/X.md",
                              "https://github.com/o/r/blob/abc/runbooks/X.md", "https://grafana.example/d/x?a=1&b=2"]
    mail = Notification("email", 0.0, "firing", frozenset(),
                        'subject\n<p><a href="https://grafana.example/d/x?a=1&amp;b=2">Dashboard</a></p>')
    assert links_in(mail) == ["https://grafana.example/d/x?a=1&b=2"]


def test_a_link_outside_the_configured_urls_and_the_deployed_runbooks_fails_the_verdict(timing):
    from gameday.verdict import judge_links
    bases = {"prometheusUrl": "http://localhost:9090", "alertmanagerUrl": "http://localhost:9093",
             "grafanaUrl": "https://grafana.example", "runbookBaseUrl": "https://github.com/o/r/blob/abc/runbooks"}

    def verdict(*urls):
        notes = [Notification("watchdog", 1000.0, "firing", frozenset({"Watchdog"}),
                              json.dumps({"externalURL": url})) for url in urls]
        result = Result()
        judge_links(_record(timing, notifications=tuple(notes), link_bases=bases), result)
        return result.checks[0]

    assert verdict("http://localhost:9093/#/alerts", "https://grafana.example:443/d/x",
                   "http://localhost:9090/graph?g0.expr=up", "https://github.com/o/r/blob/abc/runbooks/X.md").ok
    assert not verdict("http://127.0.0.1:41235/graph?g0.expr=up").ok, "a loopback port of the run"
    assert not verdict("http://localhost:3000/d/x").ok, "Grafana's default, not the configured one"
    assert not verdict("https://github.com/o/r/blob/main/runbooks/X.md").ok, "not the deployed revision"
    assert not verdict().ok, "no link at all proves nothing"


def test_an_inhibited_alert_may_speak_before_its_source_fires_and_never_after(timing):
    from gameday.observations import AlertSeen
    from gameday.verdict import judge
    record = _record(timing)
    slot = next(s for s in record.slots if s.scenario.name == "api_outage")
    onset = record.t0 + slot.start
    seen = {("critical",): AlertSeen({"alertname": "ApiAvailabilityBudgetBurnCritical"}, pending=onset + 110,
                                     firing=onset + 110),
            ("warning",): AlertSeen({"alertname": "ApiAvailabilityBudgetBurn"}, pending=onset + 50, firing=onset + 50)}

    def warning_check(arrived):
        note = Notification("slack", arrived, "firing", frozenset({"ApiAvailabilityBudgetBurn"}), "{}")
        result = Result()
        judge(dataclasses.replace(record, alerts_seen=seen, notifications=(note,), api_since=onset - 1600,
                                  step_times={("api_outage", "failing"): onset, ("api_outage", "fixed"): onset + 480},
                                  t_end=onset + 900), result, lambda text: None)
        return _check(result, "api_outage: ApiAvailabilityBudgetBurn inhibited")

    early = warning_check(onset + 80)
    assert early.ok and "before its source fired" in early.detail, early.detail
    assert not warning_check(onset + 200).ok
