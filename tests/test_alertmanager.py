"""alertmanager.yml: valid for amtool, routes every alert by severity, inhibits
siblings and target-down dependants (checked on a real Alertmanager)."""
from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from alerting.routing import inhibition_matchers, matches_all
from components import constants as c
from components.renderers.alertmanager import (
    TIMING,
    alert_tick_seconds,
    peer_timeout_margin,
    peer_timeout_seconds,
    render_alertmanager_command,
    render_alertmanager_config,
    render_templates,
)
from components.renderers.rules import render_rule_files
from components.settings import duration_seconds, parse
from tests.support import rules as r
from tests.support.amtool import with_local_templates

ALERTS = r.alerting_rules()
DEV = parse("dev", {"platform": "docker"})
PROD = parse("prod", {
    "platform": "kubernetes", "kubeContext": "scheduler-test", "grafanaUrl": "https://grafana.hospital.example",
    "backendTarget": "scheduler-backend.scheduler.svc:8000",
    "pagerdutyEnabled": True, "slackEnabled": True, "emailEnabled": True,
    "emailTo": ["oncall@hospital.example"], "emailFrom": "alerts@hospital.example",
    "smtpSmarthost": "smtp.hospital.example:587", "smtpUsername": "alerts",
}, dict.fromkeys(("pagerdutyRoutingKey", "pagerdutyClinicalRoutingKey", "slackWebhookUrl", "smtpPassword",
                  "watchdogWebhookUrl", "celeryBrokerUrl")))
# Prod with the clinical team's own Slack channel and mailbox as well.
PROD_BY_TIER = parse("prod", {
    "platform": "kubernetes", "kubeContext": "scheduler-test", "grafanaUrl": "https://grafana.hospital.example",
    "backendTarget": "scheduler-backend.scheduler.svc:8000",
    "pagerdutyEnabled": True, "slackEnabled": True, "emailEnabled": True, "slackClinicalChannel": "#clinical",
    "emailTo": ["oncall@hospital.example"], "emailClinicalTo": ["coordinators@hospital.example"],
    "emailFrom": "alerts@hospital.example", "smtpSmarthost": "smtp.hospital.example:587",
}, dict.fromkeys(("pagerdutyRoutingKey", "pagerdutyClinicalRoutingKey", "slackWebhookUrl", "slackClinicalWebhookUrl",
                  "watchdogWebhookUrl", "celeryBrokerUrl")))
SETTINGS_OF = {"dev": DEV, "prod": PROD, "prod-by-tier": PROD_BY_TIER}
# What each severity calls for (the issue's routing table), with every receiver on.
PROD_RECEIVER = {"critical": "pagerduty", "warning": "slack", "info": "email"}


def expected_receiver(settings, labels) -> str:
    """Severity picks the kind of receiver; the tier picks the team where it has a receiver of that kind."""
    if labels["alertname"] == "Watchdog":
        return "watchdog" if settings.receivers.watchdog else "null"
    wanted = PROD_RECEIVER[labels["severity"]]
    if not getattr(settings.receivers, wanted):
        return "null"
    clinical_has_own = {"pagerduty": True, "slack": settings.receivers.slack_clinical,
                        "email": bool(settings.receivers.email_clinical_to)}[wanted]
    return f"{wanted}-clinical" if labels.get("tier") == "clinical" and clinical_has_own else wanted


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("alertmanager")
    templates = directory / "templates"
    templates.mkdir()
    for name, text in render_templates().items():
        (templates / name).write_text(text)
    paths = {}
    for key, settings in SETTINGS_OF.items():
        path = directory / f"{key}.yml"
        path.write_text(with_local_templates(render_alertmanager_config(settings), templates))
        paths[key] = path
    return paths


@pytest.mark.parametrize("stack", sorted(SETTINGS_OF))
def test_amtool_accepts_the_rendered_config(configs, stack):
    result = r.run(r.tool("amtool", SETTINGS_OF[stack].stack), "check-config", str(configs[stack]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


def test_secrets_are_files_never_inline():
    text = render_alertmanager_config(PROD)
    config = yaml.safe_load(text)
    by_name = {receiver["name"]: receiver for receiver in config["receivers"]}
    secrets = c.ALERTMANAGER_SECRETS_DIR
    assert by_name["pagerduty"]["pagerduty_configs"][0]["routing_key_file"] == f"{secrets}/{c.PAGERDUTY_ROUTING_KEY_FILE}"
    assert by_name["slack"]["slack_configs"][0]["api_url_file"] == f"{secrets}/{c.SLACK_WEBHOOK_URL_FILE}"
    assert by_name["email"]["email_configs"][0]["auth_password_file"] == f"{secrets}/{c.SMTP_PASSWORD_FILE}"
    assert by_name["watchdog"]["webhook_configs"][0]["url_file"] == f"{secrets}/{c.WATCHDOG_WEBHOOK_URL_FILE}"
    for inline in ("routing_key:", "service_key:", "api_url:", "auth_password:", " url:"):
        assert inline not in text


def test_dev_routes_everything_to_the_null_receiver_and_prod_to_real_ones():
    dev = yaml.safe_load(render_alertmanager_config(DEV))
    assert [receiver["name"] for receiver in dev["receivers"]] == ["null"]
    assert {route["receiver"] for route in dev["route"]["routes"]} == {"null"}
    prod = yaml.safe_load(render_alertmanager_config(PROD))
    assert {receiver["name"] for receiver in prod["receivers"]} == {"null", "pagerduty", "pagerduty-clinical", "slack", "email", "watchdog"}
    assert prod["route"]["group_by"] == ["alertname", "component"]
    waits = {route["receiver"]: route["group_wait"] for route in prod["route"]["routes"]}
    assert waits["pagerduty"] == "10s", "pages leave fast"


def test_inhibition_rules_do_not_depend_on_the_receivers():
    dev = yaml.safe_load(render_alertmanager_config(DEV))
    prod = yaml.safe_load(render_alertmanager_config(PROD))
    assert dev["inhibit_rules"] == prod["inhibit_rules"]


@pytest.mark.parametrize("stack", sorted(SETTINGS_OF))
def test_every_alert_in_the_rule_files_reaches_the_receiver_its_severity_and_tier_call_for(configs, stack):
    settings = SETTINGS_OF[stack]
    amtool = r.tool("amtool", settings.stack)
    failures = []
    for name, rule in sorted(ALERTS.items()):
        labels = {"alertname": name, "env": settings.stack, **rule["labels"]}
        receiver = expected_receiver(settings, labels)
        result = r.run(amtool, "config", "routes", "test", f"--config.file={configs[stack]}",
                       f"--verify.receivers={receiver}", *(f"{k}={v}" for k, v in labels.items()))
        if result.returncode != 0:
            failures.append(f"{name} -> expected {receiver}: {result.stdout.strip()} {result.stderr.strip()}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- inhibition
# Every pair the issue names (critical over its warning sibling), which the
# rendered rules must cover; the checks below are derived from the rendered
# rules themselves, so added rules are tested too.
REQUIRED_SIBLINGS = {
    ("CriticalUtilization", "HighUtilization"), ("DefenseLevelCritical", "DefenseLevelDegraded"),
    ("BothContingenciesFailed", "N1ContingencyFailed"), ("BothContingenciesFailed", "N2ContingencyFailed"),
    ("CriticalCoverageGap", "ScheduleCoverageGap"), ("CriticalFacultyShortage", "LowFacultyAvailability"),
    ("CriticalLoadShedding", "LoadSheddingActive"), ("CeleryTaskFailureRateCritical", "CeleryTaskFailureRate"),
    ("CeleryQueueBacklogCritical", "CeleryQueueBacklog"),
    ("PrometheusNotificationsDropped", "PrometheusErrorSendingAlerts"),
    ("PrometheusTSDBReloadsFailing", "PrometheusTSDBCompactionsFailing"),
}
BACKEND_GROUPS = {"scheduler_resilience", "scheduler_compliance", "scheduler_performance", "scheduler_security",
                  "scheduler_slos"}
# Each SLO's page silences its ticket.
SLO_SIBLINGS = {("ApiAvailabilityBudgetBurnCritical", "ApiAvailabilityBudgetBurn"),
                ("ApiLatencyBudgetBurnCritical", "ApiLatencyBudgetBurn")}


def _pairs() -> list[tuple[str, str, tuple[str, ...]]]:
    """(source alert, target alert, equal labels) for every inhibition the rendered rules define."""
    config = yaml.safe_load(render_alertmanager_config(DEV))
    pairs = []
    for rule in config["inhibit_rules"]:
        for source, source_rule in ALERTS.items():
            if not matches_all(inhibition_matchers(rule, "source"), {"alertname": source, **source_rule["labels"]}):
                continue
            for target, target_rule in ALERTS.items():
                target_labels = {"alertname": target, **target_rule["labels"]}
                if target == source or not matches_all(inhibition_matchers(rule, "target"), target_labels):
                    continue
                # A static label in `equal` (scrape_job) must agree, or the rule never pairs them.
                static = [(source_rule["labels"].get(label), target_rule["labels"].get(label)) for label in rule["equal"]]
                if all(a == b for a, b in static if a is not None or b is not None):
                    pairs.append((source, target, tuple(rule["equal"])))
    return pairs


PAIRS = _pairs()


def test_inhibitions_cover_the_issues_siblings_and_target_down_dependants():
    found = {(s, t) for s, t, _ in PAIRS}
    assert REQUIRED_SIBLINGS <= found
    # An SLO's page silences its own ticket only, never another SLO's.
    slo_pairs = {(s, t) for s, t, _ in PAIRS if "slo" in ALERTS[s]["labels"] and "slo" in ALERTS[t]["labels"]}
    assert slo_pairs == SLO_SIBLINGS
    backend_dependants = {t for s, t, _ in PAIRS if s == "PrometheusTargetDown"}
    assert backend_dependants == {n for n, rule in ALERTS.items() if rule["group"] in BACKEND_GROUPS} | {
        "ResilienceHealthCheckStale"}
    celery = {n for n in ALERTS if n.startswith("Celery") and n != "CeleryExporterDown"}
    assert {t for s, t, _ in PAIRS if s == "CeleryExporterDown"} == celery
    # Nothing silences a page for a problem of its own.
    assert not {t for _, t, _ in PAIRS} & {"PrometheusTargetDown", "CeleryExporterDown", "Watchdog"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def alertmanager(configs, tmp_path_factory):
    binary = r.tool("alertmanager", "dev")
    port = _free_port()
    data = tmp_path_factory.mktemp("alertmanager-data")
    process = subprocess.Popen(
        [binary, f"--config.file={configs['dev']}", f"--storage.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1)
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                time.sleep(0.1)
        else:
            pytest.fail("Alertmanager did not become ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _post(url: str, alerts: list[dict]) -> None:
    body = json.dumps([{"labels": labels, "annotations": {}} for labels in alerts]).encode()
    request = urllib.request.Request(f"{url}/api/v2/alerts", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5)


def _inhibited(url: str, env: str) -> dict[str, bool]:
    """alertname -> inhibited, for the alerts of one test environment."""
    with urllib.request.urlopen(f"{url}/api/v2/alerts?filter=env%3D%22{env}%22", timeout=5) as response:
        alerts = json.load(response)
    return {a["labels"]["alertname"]: bool(a["status"]["inhibitedBy"]) for a in alerts}


def _labels(name: str, env: str, shared: dict) -> dict:
    return {"alertname": name, **ALERTS[name]["labels"], "env": env, **shared}


def _wait_for(url: str, env: str, count: int, want: dict[str, bool]) -> dict[str, bool]:
    # The inhibitor learns of source alerts asynchronously.
    state: dict[str, bool] = {}
    for _ in range(50):
        state = _inhibited(url, env)
        if len(state) == count and state == want:
            break
        time.sleep(0.1)
    return state


@pytest.mark.parametrize("source,target,equal", PAIRS, ids=[f"{s}>{t}" for s, t, _ in PAIRS])
def test_a_real_alertmanager_inhibits_the_target_only_with_equal_labels(alertmanager, source, target, equal):
    env = f"{source}-{target}".lower()
    shared = {label: f"{label}-a" for label in equal if label not in ("env", "scrape_job")}
    _post(alertmanager, [_labels(source, env, shared), _labels(target, env, shared)])
    state = _wait_for(alertmanager, env, 2, {source: False, target: True})
    assert state == {source: False, target: True}

    # The same source for another instance, task, queue... (or, when only env
    # and static labels must agree, in another environment) silences nothing.
    other = env + "-other"
    if shared:
        different = {label: f"{label}-b" for label in shared}
        _post(alertmanager, [_labels(source, other, different), _labels(target, other, shared)])
        want = {source: False, target: False}
    else:
        _post(alertmanager, [_labels(source, other + "-elsewhere", shared), _labels(target, other, shared)])
        want = {target: False}
    assert _wait_for(alertmanager, other, len(want), want) == want


# -- clustered replicas: when each looks at the notification log ---------------------
GROUP_WAITS = tuple(duration_seconds(t["group_wait"]) for t in TIMING.values())


def test_alerts_reach_alertmanager_on_30_second_ticks():
    # The resilience group evaluates every 30 s, the others every minute.
    assert alert_tick_seconds(PROD, render_rule_files(PROD)) == 30


def test_alertmanagers_default_peer_timeout_duplicates_with_three_replicas():
    # Position 2 waits 2 x 15 s = one tick: after a restart it can look at the
    # log at the very instant position 0 sends (seen on the real binaries).
    assert peer_timeout_margin(15, 3, 30, GROUP_WAITS) == 0
    # 20 s lands on PagerDuty's 10 s group_wait shifted by a tick.
    assert peer_timeout_margin(20, 3, 30, GROUP_WAITS) == 0


def test_the_chosen_peer_timeout_keeps_replicas_apart():
    chosen = peer_timeout_seconds(3, 30, GROUP_WAITS)
    assert chosen == 17
    assert peer_timeout_margin(chosen, 3, 30, GROUP_WAITS) == 3
    # Nothing from 15 to 30 s does better: the shifts are 10 s apart.
    assert all(peer_timeout_margin(t, 3, 30, GROUP_WAITS) <= 3 for t in range(15, 31))


@pytest.mark.parametrize("replicas", [2, 3, 4, 5])
def test_any_replica_count_gets_a_peer_timeout_with_room(replicas):
    chosen = peer_timeout_seconds(replicas, 30, GROUP_WAITS)
    assert 15 <= chosen <= 30
    assert peer_timeout_margin(chosen, replicas, 30, GROUP_WAITS) >= 2


def test_a_lone_alertmanager_has_no_peer_timeout():
    assert peer_timeout_seconds(1, 30, GROUP_WAITS) is None


def test_a_clinical_page_reaches_the_clinical_on_call_and_every_other_page_the_engineers(configs):
    """amtool on the prod routing: every critical alert, by its tier."""
    amtool = r.tool("amtool", "prod")
    clinical = {name for name, rule in ALERTS.items()
                if rule["labels"]["severity"] == "critical" and rule["labels"]["tier"] == "clinical"}
    engineering = {name for name, rule in ALERTS.items()
                   if rule["labels"]["severity"] == "critical" and rule["labels"]["tier"] != "clinical"}
    assert {"ACGMEViolationDetected", "CriticalFacultyShortage", "CriticalCoverageGap"} <= clinical
    assert {"CeleryNoWorkers", "PrometheusTargetDown"} <= engineering
    for names, receiver in ((clinical, "pagerduty-clinical"), (engineering, "pagerduty")):
        for name in sorted(names):
            labels = {"alertname": name, "env": "prod", **ALERTS[name]["labels"]}
            result = r.run(amtool, "config", "routes", "test", f"--config.file={configs['prod']}",
                           *(f"{k}={v}" for k, v in labels.items()))
            assert result.returncode == 0 and result.stdout.strip() == receiver, \
                f"{name} ({labels['tier']}) reaches {result.stdout.strip()}, not {receiver}"


@pytest.mark.parametrize("settings", [PROD, DEV], ids=["prod", "dev"])
def test_a_started_alertmanager_sends_nothing_until_prometheus_has_resent_every_firing_alert(settings):
    rule_files = render_rule_files(settings)
    [delay] = [arg for arg in render_alertmanager_command(settings, rule_files, replicas=3).args
               if arg.startswith("--dispatch.start-delay=")]
    seconds = duration_seconds(delay.split("=", 1)[1])
    # Only groups with alerts are resent; a group of recording rules sends nothing.
    groups = [group for text in rule_files.values() for group in yaml.safe_load(text)["groups"]]
    intervals = {duration_seconds(group.get("interval", settings.evaluation_interval)) for group in groups
                 if any("alert" in rule for rule in group["rules"])}
    for interval in intervals:
        # Prometheus resends at the first evaluation strictly after its 1m resend delay.
        resend = next(k * interval for k in range(1, 100) if k * interval > 60)
        assert seconds > resend, f"{interval}s groups are resent after {resend}s, the delay is {seconds}s"
    # Not much longer: a full restart of the cluster holds every page that long.
    assert seconds <= max(intervals) * 2 + 15
    recording_only = [g for g in groups if not any("alert" in rule for rule in g["rules"])]
    assert any(duration_seconds(g.get("interval", "0")) > 2 * max(intervals) for g in recording_only), \
        "the 5m recording group is what this guards against"
