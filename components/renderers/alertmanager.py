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

    The replica at position k of the cluster sends a notification only after
    waiting k x peer-timeout and finding that no peer has logged it. The
    replicas flush a group at moments that differ by whole evaluation ticks
    of the rules (`tick`), shifted by the route's group_wait when one replica
    received the alert fresh and another only later (a restarted replica
    flushes a group it learns late at once). If k x peer-timeout equals such a
    shift, two replicas look at the notification log at the same instant and
    both send. Alertmanager's default of 15 s does exactly that for three
    replicas and 30 s ticks. The chosen value keeps every k x peer-timeout
    as far as possible from every shift; of equally good values, the shortest.
    None for a single Alertmanager, which has no peers to wait for.
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
    steps = {duration_seconds(settings.evaluation_interval)}
    for text in rule_files.values():
        for group in (yaml.safe_load(text) or {}).get("groups", []):
            if "interval" in group:
                steps.add(duration_seconds(group["interval"]))
    steps.update(duration_seconds(t["group_interval"]) for t in TIMING.values())
    return math.gcd(*(round(step * 1000) for step in steps)) / 1000


def render_alertmanager_command(settings: Settings, rule_files: dict[str, str], replicas: int) -> Command:
    """The arguments every one of `replicas` Alertmanagers runs with (cluster addresses are the component's)."""
    args = [f"--config.file={c.ALERTMANAGER_CONFIG_DIR}/alertmanager.yml",
            f"--storage.path={c.ALERTMANAGER_DATA_DIR}",
            f"--data.retention={SILENCE_RETENTION}",
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
