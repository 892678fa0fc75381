"""alertmanager.yml and its notification templates, from settings alone.

Routing: the Watchdog to its heartbeat receiver, critical alerts (the ones
with page="true") to PagerDuty, warnings to Slack, info to e-mail; within each
severity the `tier` label picks the team (CLINICAL_TIER). A receiver switched
off in settings is replaced by "null" (a receiver without integrations), so
every stack renders the same, valid routing tree.

Secrets never appear here: each receiver reads its key or URL from a file
under ALERTMANAGER_SECRETS_DIR that the platform mounts.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Optional

import yaml

from components import constants as c
from components.renderers.command import Command
from components.settings import Settings, duration_seconds

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

NULL = "null"
PAGERDUTY = "pagerduty"
SLACK = "slack"
EMAIL = "email"
WATCHDOG = "watchdog"
# Who acts, by the alert's `tier` label: clinical problems (staffing, coverage,
# ACGME rules) go to the clinical on-call, who can call in faculty and correct
# assignments; every other tier (application, background, monitoring) to the
# engineering on-call, who can fix the software. The shared receivers above
# are the engineering team's and take clinical alerts too where the clinical
# team has no receiver of that kind.
CLINICAL_TIER = "clinical"
PAGERDUTY_CLINICAL = "pagerduty-clinical"
SLACK_CLINICAL = "slack-clinical"
EMAIL_CLINICAL = "email-clinical"

# Critical alerts silence their warning (and info) sibling for the same
# condition: one notification per problem, at the severity it has reached.
# source alert -> (alerts it silences, labels both must share)
SIBLING_INHIBITIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("CriticalUtilization", ("HighUtilization",), ("job", "instance")),
    ("DefenseLevelCritical", ("DefenseLevelDegraded",), ("job", "instance")),
    ("BothContingenciesFailed", ("N1ContingencyFailed", "N2ContingencyFailed"), ("job", "instance")),
    ("CriticalCoverageGap", ("ScheduleCoverageGap",), ("job", "instance")),
    ("CriticalFacultyShortage", ("LowFacultyAvailability",), ("job", "instance")),
    ("CriticalLoadShedding", ("LoadSheddingActive",), ("job", "instance")),
    ("CeleryTaskFailureRateCritical", ("CeleryTaskFailureRate",), ("name", "queue_name")),
    ("CeleryQueueBacklogCritical", ("CeleryQueueBacklog",), ("job",)),
    # With no worker alive, growing queues and a missed health check are
    # consequences, not separate problems.
    ("CeleryNoWorkers", ("CeleryQueueBacklogCritical", "CeleryQueueBacklog", "ResilienceHealthCheckStale"), ()),
    ("PrometheusNotConnectedToAlertmanagers", ("PrometheusErrorSendingAlerts", "PrometheusNotificationsDropped"),
     ("instance",)),
    ("PrometheusNotificationsDropped", ("PrometheusErrorSendingAlerts",), ("instance",)),
    # A block that cannot be reloaded fails every compaction too (the reload is
    # part of it): one problem, told by its cause.
    ("PrometheusTSDBReloadsFailing", ("PrometheusTSDBCompactionsFailing",), ("instance",)),
)
# A scrape target that is down makes every alert computed from its metrics
# stale: the rules label those alerts `scrape_job=<job>`, the target-down
# alert carries the same label, and only the target-down alert goes out.
TARGET_DOWN_ALERTS = ("PrometheusTargetDown", "CeleryExporterDown")

# How long each severity waits and repeats: pages leave within seconds and
# repeat hourly while unacknowledged; chat and mail repeat less, as their
# readers act during the day.
TIMING = {
    PAGERDUTY: {"group_wait": "10s", "group_interval": "5m", "repeat_interval": "1h"},
    SLACK: {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"},
    EMAIL: {"group_wait": "5m", "group_interval": "30m", "repeat_interval": "24h"},
    # Heartbeat services expect a ping every few minutes.
    WATCHDOG: {"group_wait": "0s", "group_interval": "1m", "repeat_interval": "5m"},
}


def _secret(name: str) -> str:
    return f"{c.ALERTMANAGER_SECRETS_DIR}/{name}"


def _pagerduty(name: str, key_file: str) -> dict:
    return {"name": name, "pagerduty_configs": [{
        "routing_key_file": _secret(key_file),
        "send_resolved": True,
        "severity": "critical",
        "description": '{{ template "scheduler.title" . }}',
        "client": "Residency Scheduler Alertmanager",
        "client_url": "{{ .ExternalURL }}",
        "details": {
            "summary": "{{ .CommonAnnotations.summary }}",
            "firing": '{{ template "scheduler.text" . }}',
            "action_required": "{{ .CommonAnnotations.action_required }}",
            "runbook": "{{ .CommonAnnotations.runbook_url }}",
            "dashboard": "{{ .CommonAnnotations.dashboard_url }}",
            "env": "{{ .CommonLabels.env }}",
            "component": "{{ .CommonLabels.component }}",
            "tier": "{{ .CommonLabels.tier }}",
            "num_firing": "{{ .Alerts.Firing | len }}",
        },
        "links": [{"href": "{{ .CommonAnnotations.runbook_url }}", "text": "Runbook"}],
    }]}


def _slack(name: str, url_file: str, channel: Optional[str]) -> dict:
    config = {
        "api_url_file": _secret(url_file),
        "send_resolved": True,
        "color": '{{ if eq .Status "firing" }}warning{{ else }}good{{ end }}',
        "title": '{{ template "scheduler.title" . }}',
        "title_link": "{{ .CommonAnnotations.dashboard_url }}",
        "text": '{{ template "scheduler.text" . }}',
    }
    if channel:
        config = {"api_url_file": config.pop("api_url_file"), "channel": channel, **config}
    return {"name": name, "slack_configs": [config]}


def _email(name: str, settings: Settings, to: tuple[str, ...]) -> dict:
    r = settings.receivers
    email: dict = {
        "to": ", ".join(to),
        "from": r.email_from,
        "smarthost": r.smtp_smarthost,
        "require_tls": r.smtp_require_tls,
        "send_resolved": True,
        "headers": {"Subject": '{{ template "scheduler.title" . }}'},
        "html": '{{ template "scheduler.email.html" . }}',
        "text": '{{ template "scheduler.text" . }}',
    }
    if r.smtp_username:
        email["auth_username"] = r.smtp_username
        email["auth_password_file"] = _secret(c.SMTP_PASSWORD_FILE)
    return {"name": name, "email_configs": [email]}


def _receivers(settings: Settings) -> list[dict]:
    r = settings.receivers
    receivers: list[dict] = [{"name": NULL}]
    if r.pagerduty:
        receivers.append(_pagerduty(PAGERDUTY, c.PAGERDUTY_ROUTING_KEY_FILE))
        receivers.append(_pagerduty(PAGERDUTY_CLINICAL, c.PAGERDUTY_CLINICAL_ROUTING_KEY_FILE))
    if r.slack:
        receivers.append(_slack(SLACK, c.SLACK_WEBHOOK_URL_FILE, r.slack_channel))
    if r.slack and r.slack_clinical:
        receivers.append(_slack(SLACK_CLINICAL, c.SLACK_CLINICAL_WEBHOOK_URL_FILE, r.slack_clinical_channel))
    if r.email:
        receivers.append(_email(EMAIL, settings, r.email_to))
    if r.email and r.email_clinical_to:
        receivers.append(_email(EMAIL_CLINICAL, settings, r.email_clinical_to))
    if r.watchdog:
        receivers.append({"name": WATCHDOG, "webhook_configs": [{
            "url_file": _secret(c.WATCHDOG_WEBHOOK_URL_FILE),
            "send_resolved": False,
            "max_alerts": 1,
        }]})
    return receivers


def _route(settings: Settings) -> dict:
    r = settings.receivers
    default = SLACK if r.slack else NULL

    def by_severity(severity: str, timing: str, receiver: str, clinical_receiver: Optional[str]) -> list[dict]:
        # A clinical alert goes to the clinical team's own receiver where the
        # stack has one, else to the shared one with every other tier.
        routes = []
        if clinical_receiver:
            routes.append({"receiver": clinical_receiver,
                           "matchers": [f'severity="{severity}"', f'tier="{CLINICAL_TIER}"'], **TIMING[timing]})
        routes.append({"receiver": receiver, "matchers": [f'severity="{severity}"'], **TIMING[timing]})
        return routes

    return {
        "receiver": default,
        "group_by": ["alertname", "component"],
        **TIMING[SLACK],
        "routes": [
            {"receiver": WATCHDOG if r.watchdog else NULL, "matchers": ['alertname="Watchdog"'],
             "group_by": ["alertname"], **TIMING[WATCHDOG]},
            # Severity, not the `page` label, decides: the rules keep page="true"
            # on exactly the critical alerts, and a rule that forgets `page`
            # must still page. The tier decides who is paged.
            *by_severity("critical", PAGERDUTY, PAGERDUTY if r.pagerduty else NULL,
                         PAGERDUTY_CLINICAL if r.pagerduty else None),
            *by_severity("warning", SLACK, default, SLACK_CLINICAL if r.slack and r.slack_clinical else None),
            *by_severity("info", EMAIL, EMAIL if r.email else NULL,
                         EMAIL_CLINICAL if r.email and r.email_clinical_to else None),
        ],
    }


def _inhibit_rules() -> list[dict]:
    rules = []
    for source, targets, equal in SIBLING_INHIBITIONS:
        rules.append({
            "source_matchers": [f'alertname="{source}"'],
            "target_matchers": [f'alertname=~"{"|".join(targets)}"'],
            # env: one Alertmanager may serve several stacks.
            "equal": ["env", *equal],
        })
    # An SLO that pages needs no ticket as well: the page silences the same
    # SLO's ticket (the rules label both with `slo`), whatever their names.
    rules.append({
        "source_matchers": ['slo=~".+"', 'severity="critical"'],
        "target_matchers": ['slo=~".+"', 'severity="warning"'],
        "equal": ["env", "slo"],
    })
    down = "|".join(TARGET_DOWN_ALERTS)
    rules.append({
        "source_matchers": [f'alertname=~"{down}"'],
        "target_matchers": ['scrape_job=~".+"', f'alertname!~"{down}"'],
        "equal": ["env", "scrape_job"],
    })
    return rules


def render_alertmanager_config(settings: Settings) -> str:
    config = {
        "global": {"resolve_timeout": "5m"},
        "templates": [f"{c.ALERTMANAGER_TEMPLATES_DIR}/*.tmpl"],
        "route": _route(settings),
        "inhibit_rules": _inhibit_rules(),
        "receivers": _receivers(settings),
    }
    header = (f"# Rendered by components/renderers/alertmanager.py for stack {settings.stack}; "
              "do not edit.\n# Receiver secrets are files under "
              f"{c.ALERTMANAGER_SECRETS_DIR}/, never inline.\n")
    return header + yaml.safe_dump(config, sort_keys=False, width=200)


# Silences outlive a long weekend.
SILENCE_RETENTION = "168h"

# Alertmanager's own default; a shorter wait would let a slow send to
# PagerDuty or Slack (logged only once it returns) go out twice.
SHORTEST_PEER_TIMEOUT = 15
LONGEST_PEER_TIMEOUT = 30


def peer_timeout_seconds(replicas: int, tick: float, group_waits: Iterable[float]) -> Optional[int]:
    """The --cluster.peer-timeout (whole seconds) for `replicas` clustered Alertmanagers.

    How a cluster sends once (Alertmanager 0.35.0: notify/notify.go,
    notify/cluster_stages.go, notify/dedup_stage.go, app/cluster.go): every
    replica flushes every alert group itself. Before sending, the replica at
    position k (its rank among the peer names; a restarted replica takes a
    new name, which sorts last) waits k x peer-timeout, then reads the
    gossiped notification log and sends only what no peer has logged. Two
    replicas send the same notification when they read the log within the
    time one send takes to reach the other's log: the receiver's answer plus
    the gossip.

    When replicas flush (dispatch/dispatch.go): a group flushes group_wait
    after its first alert, then every group_interval. Prometheus sends alerts
    right after an evaluation, so the flushes fall on the grid of evaluation
    ticks (`tick`: the rule intervals and group intervals are whole multiples
    of it) shifted by group_wait. A replica that missed an alert's first send
    (unreachable for a moment, or restarted without a start delay) gets it
    with a resend and flushes a group of old alerts at once, without
    group_wait. Since 0.30 that happens only when the group is created (the
    `hasFlushed` reset on later inserts is gone), which still puts it on the
    grid. 0.33's alert markers per aggregation group (silenced and inhibited
    state kept per group) move no flush and write nothing to the log. So two
    replicas flush a group whole ticks apart, plus 0 or +-group_wait, and a
    duplicate needs k x peer-timeout to equal such a shift modulo the tick.

    The exception is 0.30's `--dispatch.start-delay`, which the stack sets
    (dispatch_start_delay_seconds: without it a restarted replica sends
    inhibited alerts). A restarted replica flushes the groups of the alerts
    firing when it came back all at once when the delay ends, at a moment
    unrelated to the grid. No timeout keeps those groups apart from the
    peers'; a duplicate needs one of their later notifications (a
    resolution) to fall in the collision window measured below, about 2 s of
    a 5m group_interval: under 1 in 100. Groups made after the delay are
    back on the grid.

    Alertmanager's default of 15 s fails with three replicas and 30 s ticks:
    2 x 15 s is one tick, so the third replica reads the log at the instant
    the first one sends. Measured on the 0.35.0 binaries (3 clustered
    replicas with debug logs, one killed and restarted on its data directory
    and given each group's alert again at offsets over a whole 5m
    group_interval, in 0.25 s steps and in 0.1 s steps near the predicted
    collisions): duplicates came only where that replica read the log from
    0.15 s before to 2 s after the first one (the first one's entry took up
    to 2 s to arrive when it had just logged a hundred groups at once), and
    from 1.9 s before to 2.6 s after when the receiver took 2 s to answer:
    a 3 s margin holds. With 15 s that is at offset 270 s, a whole number of
    ticks, which a missed first send gives every Slack and e-mail group
    (duplicated when measured); with 17 s at 266 s, which the grid never
    gives (no duplicate at any offset it gives, multiples of 10 s).

    The chosen value keeps every k x peer-timeout farthest from every shift;
    of equally good values, the shortest (it delays only the backup
    replicas). 17 s for three replicas and 30 s ticks: 17 s is 3 s from the
    20 s shift, 2 x 17 s = 34 s is 4 s from a tick. None for a single
    Alertmanager, which has no peers to wait for.
    """
    if replicas < 2:
        return None
    waits = tuple(group_waits)
    return max(range(SHORTEST_PEER_TIMEOUT, LONGEST_PEER_TIMEOUT + 1),
               key=lambda timeout: (peer_timeout_margin(timeout, replicas, tick, waits), -timeout))


def peer_timeout_margin(timeout: float, replicas: int, tick: float, group_waits: Iterable[float]) -> float:
    """Seconds between two replicas' looks at the notification log, at worst (0: a duplicate)."""
    waits = tuple(group_waits)
    shifts = {0.0} | {wait % tick for wait in waits} | {-wait % tick for wait in waits}
    return min(_distance_on_circle((k * timeout) % tick, shift, tick)
               for k in range(1, replicas) for shift in shifts)


def _distance_on_circle(a: float, b: float, circumference: float) -> float:
    d = abs(a - b) % circumference
    return min(d, circumference - d)


def alert_tick_seconds(settings: Settings, rule_files: dict[str, str]) -> float:
    """The step on which every rule group evaluates and every group flushes (their GCD).

    Prometheus sends alerts right after a group's evaluation, and Alertmanager
    flushes groups every group_interval; both are whole multiples of this.
    """
    steps = alerting_intervals(settings, rule_files)
    steps.update(duration_seconds(t["group_interval"]) for t in TIMING.values())
    return math.gcd(*(round(step * 1000) for step in steps)) / 1000


# Prometheus's --rules.alert.resend-delay, which the stack leaves at its
# default: a firing alert is sent again at the first evaluation of its group
# more than this after the last send.
PROMETHEUS_RESEND_DELAY = 60.0
# The evaluation that resends, and the send, take a moment past its timestamp.
START_DELAY_MARGIN = 10.0


def alerting_intervals(settings: Settings, rule_files: dict[str, str]) -> set[float]:
    """The evaluation intervals of the groups that hold alerts (recording-only groups send nothing)."""
    default = duration_seconds(settings.evaluation_interval)
    return {duration_seconds(group["interval"]) if "interval" in group else default
            for text in rule_files.values() for group in (yaml.safe_load(text) or {}).get("groups", [])
            if any("alert" in rule for rule in group.get("rules") or [])} or {default}


def dispatch_start_delay_seconds(settings: Settings, rule_files: dict[str, str]) -> int:
    """The --dispatch.start-delay (whole seconds): how long a started Alertmanager sends nothing.

    Alerts are not gossiped: an Alertmanager that restarts (a lost node, each
    pod of a rollout) knows no alert until Prometheus resends it, at the first
    evaluation of the alert's group more than the resend delay after the last
    send: after up to 90 s for the 30 s groups, 120 s for the 1m groups.
    Alertmanager flushes a group of old alerts as soon as it has one, so an
    inhibited alert resent before the alert inhibiting it goes out (measured
    on 0.35.0: a restarted replica sent the inhibited alert 44 s after it came
    back, the peers having held it back all along). Held until every firing
    alert is back, the restarted replica inhibits as its peers do (none sent
    with a 60 s delay). Single Alertmanagers too: there no peer stands in.
    Only groups with alerts count: a group of recording rules alone (the 5m
    task counts) resends nothing, and waiting for it would hold every page
    of a restarted replica five minutes.
    """
    resent_within = max(interval * (math.floor(PROMETHEUS_RESEND_DELAY / interval) + 1)
                        for interval in alerting_intervals(settings, rule_files))
    return math.ceil(resent_within + START_DELAY_MARGIN)


def render_alertmanager_command(settings: Settings, rule_files: dict[str, str], replicas: int) -> Command:
    """The arguments every one of `replicas` Alertmanagers runs with (cluster addresses are the component's)."""
    args = [f"--config.file={c.ALERTMANAGER_CONFIG_DIR}/alertmanager.yml",
            f"--storage.path={c.ALERTMANAGER_DATA_DIR}",
            f"--data.retention={SILENCE_RETENTION}",
            f"--dispatch.start-delay={dispatch_start_delay_seconds(settings, rule_files)}s",
            # Notifications link here (alerts, silences); the API stays at /.
            f"--web.external-url={settings.alertmanager_url}",
            "--web.route-prefix=/"]
    timeout = peer_timeout_seconds(replicas, alert_tick_seconds(settings, rule_files),
                                   (duration_seconds(t["group_wait"]) for t in TIMING.values()))
    if timeout is not None:
        args.append(f"--cluster.peer-timeout={timeout}s")
    return Command(tuple(args))


def render_templates() -> dict[str, str]:
    """File name -> notification template text, installed in ALERTMANAGER_TEMPLATES_DIR."""
    return {path.name: path.read_text() for path in sorted(TEMPLATES_DIR.glob("*.tmpl"))}
