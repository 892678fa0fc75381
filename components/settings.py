"""Every setting of the stack: its key, type, default, and when to change it.

This module is the only reader of `pulumi.Config`. Everything else receives a
frozen `Settings` (plain values, safe to render and to print) and a `Secrets`
(Pulumi secret Outputs, or placeholders when rendering without Pulumi). Both,
the README's table and Pulumi.yaml's config schema are derived from the one
`SETTINGS` table: adding a setting is one entry there plus its use.

Values come from `Pulumi.<stack>.yaml` under the `scheduler-monitoring:`
namespace. The file and each key are validated here, before any resource is
registered, and every problem is reported in one `SettingsError` that names
the file and line, the key, and what is allowed. Secret values are checked
for shape too, and never printed.
"""
from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlparse

import yaml

from alerting.durations import duration_seconds

PROJECT = "scheduler-monitoring"
PROJECT_DIR = Path(__file__).resolve().parent.parent

# The application's Celery queues (scheduler-metrics.md). Listing them makes the
# exporter report every queue even when no worker consumes it, which is exactly
# when its backlog matters.
SCHEDULER_QUEUES = ("default", "resilience", "notifications", "metrics",
                    "exports", "security", "maintenance")

# Task runtime histogram buckets (seconds). The application's tasks may run up to
# the 600 s hard time limit, and the dashboards colour 10 s and 60 s, so both
# must be bucket bounds and the last bound must reach 600 s.
RUNTIME_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

# Hosts that only mean something on a developer's Docker host: a Kubernetes
# stack that kept one of them would scrape, alert and link to nothing.
DOCKER_HOST = "host.docker.internal"


class InputError(ValueError):
    """A file or setting the user wrote is wrong; the message names where and what is allowed."""


class SettingsError(InputError):
    """One or more settings are invalid; the message lists each of them."""


# Parsers: raw config value -> typed value, or ValueError("what is allowed").
# --------------------------------------------------------------------------
_SIZE = re.compile(r"^(\d+)(B|KB|MB|GB|TB|PB|EB)$")
_K8S_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|Pi|Ei)$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?[a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def quantity_bytes(text: str) -> int:
    """Bytes in a Kubernetes binary quantity such as `50Gi` (raises ValueError)."""
    match = _K8S_QUANTITY.match(text)
    if not match:
        raise ValueError(text)
    return int(match.group(1)) * 1024 ** ("KMGTPE".index(match.group(2)[0]) + 1)


def retention_size_bytes(text: str) -> int:
    """Bytes Prometheus reads from --storage.tsdb.retention.size such as `8GB` (raises ValueError).

    Prometheus parses it as base-2 bytes: 8GB is 8 GiB, as its own
    prometheus_tsdb_retention_limit_bytes shows.
    """
    match = _SIZE.match(text)
    if not match:
        raise ValueError(text)
    return int(match.group(1)) * 1024 ** "BKMGTPE".index(match.group(2)[0])


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("a single value")
    return str(value).strip()


def _duration(value: Any) -> str:
    text = _text(value)
    try:
        seconds = duration_seconds(text)
    except ValueError:
        raise ValueError("a Prometheus duration such as 30s, 5m, 12h or 15d") from None
    if seconds <= 0:
        raise ValueError("a duration greater than zero")
    return text


def _size(value: Any) -> str:
    text = _text(value)
    if text.startswith("-"):
        raise ValueError("a positive size such as 10GB (negative sizes make no sense)")
    match = _SIZE.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError("a positive size with a unit B, KB, MB, GB, TB, PB or EB, such as 10GB")
    return text


def _quantity(value: Any) -> str:
    text = _text(value)
    match = _K8S_QUANTITY.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError("a positive Kubernetes quantity in Ki, Mi, Gi or Ti, such as 50Gi")
    return text


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value)
        if text not in allowed:
            raise ValueError("one of " + ", ".join(allowed))
        return text
    return parse


def _port(value: Any) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ValueError("a TCP port number from 1 to 65535") from None
    if not 1 <= number <= 65535:
        raise ValueError("a TCP port number from 1 to 65535")
    return number


def _count(minimum: int, maximum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        try:
            number = int(str(value))
        except ValueError:
            raise ValueError(f"a whole number from {minimum} to {maximum}") from None
        if not minimum <= number <= maximum:
            raise ValueError(f"a whole number from {minimum} to {maximum}")
        return number
    return parse


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueError("true or false")


def _image(value: Any) -> str:
    text = _text(value)
    if not _IMAGE.match(text) or text.endswith(":latest"):
        raise ValueError("an image reference pinned to a tag, such as prom/prometheus:v3.14.0 (not :latest)")
    return text


def _host_port(value: Any) -> str:
    text = _text(value)
    host, _, port = text.rpartition(":")
    if not host or "/" in text:
        raise ValueError("host:port, such as backend:8000")
    _port(port)
    return text


def _path(value: Any) -> str:
    text = _text(value)
    if not text.startswith("/"):
        raise ValueError("a URL path starting with /, such as /metrics")
    return text


def _url(*schemes: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value).rstrip("/")
        parsed = urlparse(text)
        if parsed.scheme not in schemes or not parsed.netloc:
            raise ValueError("a URL starting with " + " or ".join(f"{s}://" for s in schemes))
        return text
    return parse


def _name(value: Any) -> str:
    text = _text(value)
    if not _DNS_LABEL.match(text) or len(text) > 63:
        raise ValueError("a DNS label: lower-case letters, digits and '-', at most 63 characters")
    return text


def _word(value: Any) -> str:
    text = _text(value)
    if not text:
        raise ValueError("a non-empty value")
    return text


def _list(item: Callable[[Any], Any], *, non_empty: bool = True) -> Callable[[Any], tuple]:
    def parse(value: Any) -> tuple:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError("a list")
        if non_empty and not value:
            raise ValueError("a list with at least one entry")
        return tuple(item(entry) for entry in value)
    return parse


def _matching(pattern: re.Pattern, allowed: str) -> Callable[[Any], str]:
    """A single value the pattern matches whole."""
    def parse(value: Any) -> str:
        text = _text(value)
        if not pattern.match(text):
            raise ValueError(allowed)
        return text
    return parse


_email = _matching(_EMAIL, "e-mail addresses such as oncall@hospital.example")


def _channel(value: Any) -> str:
    text = _text(value)
    if not text.startswith("#") or len(text) < 2:
        raise ValueError("a Slack channel name starting with #")
    return text


def _buckets(value: Any) -> tuple:
    def number(entry: Any) -> float:
        try:
            result = float(entry)
        except (TypeError, ValueError):
            raise ValueError("a list of increasing positive numbers of seconds") from None
        return result
    bounds = _list(number)(value)
    if any(b <= 0 for b in bounds) or list(bounds) != sorted(set(bounds)):
        raise ValueError("a list of increasing positive numbers of seconds")
    if bounds[-1] < 600:
        raise ValueError("buckets whose last bound reaches 600 (the tasks' hard time limit)")
    for needed in (10, 60):
        if needed not in bounds:
            raise ValueError(f"buckets that include {needed} (a dashboard threshold)")
    return tuple(int(b) if float(b).is_integer() else b for b in bounds)


_RELEASE_TAG = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


def image_release(image: str) -> Optional[tuple[int, int, int]]:
    """The release an image's tag names (`prom/prometheus:v3.14.0` -> (3, 14, 0)), or None."""
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    match = _RELEASE_TAG.match(last.rsplit(":", 1)[1])
    return tuple(int(part) for part in match.groups()) if match else None


def _release_image(minimum: tuple[int, int, int], needed_for: str) -> Callable[[Any], str]:
    """An image pinned to a release no older than what the rendered configuration uses."""
    def parse(value: Any) -> str:
        text = _image(value)
        release = image_release(text)
        if release is None:
            raise ValueError("an image pinned to a release tag such as vX.Y.Z (the tests build and run "
                             "exactly that release)")
        if release < minimum:
            raise ValueError(f"release {'.'.join(map(str, minimum))} or later ({needed_for})")
        return text
    return parse


def _is_local_host(host: str) -> bool:
    """Loopback or the Docker host: addresses that exist only on a developer's machine."""
    if host in ("localhost", DOCKER_HOST) or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_of(value: str) -> str:
    parsed = urlparse(value if "://" in value else f"//{value}")
    return parsed.hostname or ""


# Secret values: checked for shape, never echoed (errors name the key only).
_CLAIM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


_claim = _matching(_CLAIM, "a claim name of letters, digits and _, such as groups")


def _scope(value: Any) -> str:
    text = _text(value)
    if any(ch.isspace() for ch in text):
        raise ValueError("one scope name without spaces, or empty")
    return text


def _secret_text(value: Any) -> str:
    text = _text(value)
    if not text or any(ch.isspace() for ch in text):
        raise ValueError("a non-empty value without spaces")
    return text


def _secret_url(value: Any) -> str:
    text = _text(value)
    parsed = urlparse(text)
    if parsed.scheme not in ("https", "http") or not parsed.hostname or " " in text:
        raise ValueError("a URL with an http:// or https:// scheme and a host")
    return text


def _broker_url(value: Any) -> str:
    text = _text(value)
    parsed = urlparse(text)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise ValueError("a Redis URL with a host: redis://[:PASSWORD@]HOST:PORT/DB or rediss://...")
    try:
        parsed.port
    except ValueError:
        raise ValueError("a Redis URL whose port is a number from 1 to 65535") from None
    return text


# --------------------------------------------------------------------------
# The table of settings. Defaults live here and nowhere else.
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    key: str
    parse: Callable[[Any], Any]
    default: Any
    doc: str
    secret: bool = False
    kind: str = "string"          # the Pulumi.yaml config schema type
    required: bool = False        # no default: every stack file must set it

    @property
    def field(self) -> str:
        """The attribute of Settings (or Secrets) that holds it: celeryBrokerUrl -> celery_broker_url."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.key).lower()


# Service-level objectives. Each SLO in slos/ writes its SLI, objective and
# window; a stack may override the objective, the window and the burn rates
# at which it alerts. The alerts are the Google SRE workbook's multiwindow,
# multi-burn-rate ones: (severity, long window, short window), each short
# window a twelfth of its long one so an alert stops soon after the errors do.
SLO_ALERT_WINDOWS = (("critical", "1h", "5m"), ("critical", "6h", "30m"),
                     ("warning", "1d", "2h"), ("warning", "3d", "6h"))
# The workbook's burn rates for those pairs: 2 % and 5 % of a 30-day budget
# spent in 1 h and 6 h page, 10 % in 1 d and 3 d open a ticket.
SLO_BURN_RATES = (14.4, 6, 3, 1)
SLO_LONGEST_ALERT_WINDOW = max(SLO_ALERT_WINDOWS, key=lambda pair: duration_seconds(pair[1]))[1]


def objective_value(value: Any) -> float:
    """An SLO objective: a fraction strictly between 0 and 1 (raises ValueError saying what is allowed)."""
    if isinstance(value, bool):
        raise ValueError("a fraction between 0 and 1 exclusive, such as 0.995 for 99.5 %")
    try:
        number = float(_text(value))
    except ValueError:
        raise ValueError("a fraction between 0 and 1 exclusive, such as 0.995 for 99.5 %") from None
    if not math.isfinite(number) or not 0 < number < 1:
        hint = f" ({number:g} % is written {number / 100:g})" if 50 <= number < 100 else ""
        raise ValueError(f"a fraction between 0 and 1 exclusive, such as 0.995 for 99.5 %{hint}")
    return number


def slo_window_value(value: Any) -> str:
    """An SLO window: a duration longer than the longest alert window, whose error ratio it contains."""
    text = _duration(value)
    if duration_seconds(text) <= duration_seconds(SLO_LONGEST_ALERT_WINDOW):
        raise ValueError(f"a duration longer than {SLO_LONGEST_ALERT_WINDOW}, the longest window its alerts "
                         "look at, such as 28d")
    return text


def _burn_rates(value: Any) -> tuple:
    wanted = (f"{len(SLO_ALERT_WINDOWS)} positive numbers, comma-separated, one per alert window pair "
              f"({', '.join(f'{long}/{short}' for _, long, short in SLO_ALERT_WINDOWS)}), such as "
              f"{','.join(f'{rate:g}' for rate in SLO_BURN_RATES)}")

    def number(entry: Any) -> float:
        try:
            rate = float(entry)
        except (TypeError, ValueError):
            raise ValueError(wanted) from None
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(wanted)
        return rate
    try:
        rates = _list(number)(value)
    except ValueError:
        raise ValueError(wanted) from None
    if len(rates) != len(SLO_ALERT_WINDOWS):
        raise ValueError(wanted)
    return tuple(int(rate) if rate.is_integer() else rate for rate in rates)


def slo_setting_keys(slo: str) -> tuple[str, str, str]:
    """The objective, window and burn-rate settings of the SLO `slo` (api_latency -> sloApiLatencyObjective, ...)."""
    camel = "".join(part.capitalize() for part in slo.split("_"))
    return f"slo{camel}Objective", f"slo{camel}Window", f"slo{camel}BurnRates"


def _slo_settings(slo: str, what: str) -> tuple[Setting, ...]:
    objective, window, burn_rates = slo_setting_keys(slo)
    pairs = ", ".join(f"{long}/{short}" for _, long, short in SLO_ALERT_WINDOWS)
    return (
        Setting(objective, objective_value, None,
                f"Objective of the {slo} SLO ({what}): the share of good requests, a fraction between 0 and 1 "
                f"(0.995 = 99.5 %). Unset: the objective in slos/{slo}.yml. Relax it for a stack whose users "
                "accept less; every alert threshold follows it."),
        Setting(window, slo_window_value, None,
                f"Window over which the {slo} SLO is measured and its error budget counted. Unset: the window in "
                f"slos/{slo}.yml. Longer than {SLO_LONGEST_ALERT_WINDOW} (the alerts' longest window) and at "
                "most retentionTime."),
        Setting(burn_rates, _burn_rates, ",".join(f"{rate:g}" for rate in SLO_BURN_RATES),
                f"Burn rates at which the {slo} SLO alerts, one per window pair ({pairs}): the first two page, "
                "the last two open a ticket in Slack. A burn rate of 1 spends the budget in exactly the window. "
                "Each times (1 - objective) must stay below 1, or its alert could never fire."),
    )


SETTINGS: tuple[Setting, ...] = (
    Setting("platform", _choice("docker", "kubernetes"), None,
            "Where the stack runs: docker (one host, dev) or kubernetes (HA, prod). Every stack file "
            "must say it.", required=True),
    Setting("environment", _name, None,
            "The `env` external label on every series and alert. Defaults to the stack name; "
            "set it when two stacks must share a label value."),
    # Images: pinned so a `pulumi up` never upgrades silently. Change to upgrade.
    Setting("prometheusImage", _release_image((3, 10, 0), "the monitors read its per-Alertmanager "
                                              "notification metrics, labelled alertmanager since 3.10"),
            "prom/prometheus:v3.14.0",
            "Prometheus image, pinned to a release (3.10 or later). Change to upgrade Prometheus; "
            "./scripts/test then builds and tests that release."),
    Setting("alertmanagerImage", _release_image((0, 30, 0), "every replica starts with "
                                                "--dispatch.start-delay, a flag from 0.30 (an older one exits)"),
            "prom/alertmanager:v0.35.0",
            "Alertmanager image, pinned to a release (0.30 or later). Change to upgrade Alertmanager; "
            "./scripts/test then builds and tests that release."),
    Setting("grafanaImage", _image, "grafana/grafana:13.2.3",
            "Grafana image. Change to upgrade Grafana."),
    Setting("celeryExporterImage", _image, "danihodovic/celery-exporter:0.11.2",
            "danihodovic/celery-exporter image. Change to upgrade the exporter."),
    # Prometheus.
    Setting("scrapeInterval", _duration, "15s",
            "How often every target is scraped. Raise it to cut load; alert latency grows with it. "
            "At most a quarter of the rules' shortest range window (so a rate survives a missed "
            "scrape) and half their shortest for: (so one failed scrape cannot page): 45s today."),
    Setting("evaluationInterval", _duration, "30s",
            "Rule evaluation interval for groups that set none (the monitors' group). "
            "The scheduler groups keep the intervals the spec gives them. At most half the shortest "
            "for: of the rules it evaluates, so a for: still means what it says: 60s today."),
    Setting("retentionTime", _duration, "30d",
            "How long Prometheus keeps samples. Raise it for longer history (needs more disk). At least "
            "the longest SLO window (28d), or the SLO dashboard counts the budget over fewer days."),
    Setting("retentionSize", _size, "8GB",
            "Disk budget for Prometheus's TSDB; oldest blocks go first. Keep it below the volume size."),
    Setting("remoteWriteUrl", _url("http", "https"), None,
            "Optional remote-write endpoint (Thanos Receive, Mimir, ...) for long-term storage. "
            "Set it when one Prometheus's retention is no longer enough."),
    # The scheduler backend (scraped as job "scheduler-backend", which every rule and panel names).
    Setting("backendTarget", _host_port, "host.docker.internal:8000",
            "host:port of the FastAPI backend's metrics endpoint, as Prometheus reaches it. "
            "In dev the default reaches port 8000 of the Docker host; a Kubernetes stack must set its own."),
    Setting("backendMetricsPath", _path, "/metrics",
            "Path of the backend's metrics endpoint; change it only if the backend serves metrics elsewhere."),
    Setting("backendScheme", _choice("http", "https"), "http",
            "Scheme of the backend's metrics endpoint; https when it sits behind TLS."),
    # Celery and its exporter.
    Setting("celeryBrokerUrl", _broker_url, "redis://host.docker.internal:6379/0",
            "The application's Redis broker, usually with a password, so it is a secret. "
            "Set it with `pulumi config set --secret celeryBrokerUrl redis://:PASSWORD@host:6379/0`; "
            "the default (the Docker host's Redis) serves dev only.",
            secret=True),
    Setting("celeryQueues", _list(_word), list(SCHEDULER_QUEUES),
            "Queues the exporter always reports, even with no worker consuming them. "
            "Add a queue here when the application adds one.", kind="array"),
    Setting("celeryWorkerTimeout", _count(10, 3600), 60,
            "Seconds without a heartbeat before the exporter marks a worker down "
            "(Celery heartbeats every 2 s). CeleryNoWorkers fires 2m after that; lower it for faster paging.",
            kind="integer"),
    Setting("celeryPurgeOfflineWorkerMetrics", _count(60, 86400), 600,
            "Seconds after which a dead worker's series are deleted. Must exceed celeryWorkerTimeout.",
            kind="integer"),
    Setting("celeryRuntimeBuckets", _buckets, ",".join(str(b) for b in RUNTIME_BUCKETS),
            "Task runtime histogram bounds in seconds, comma-separated. Must include 10 and 60 and "
            "reach 600 (the tasks' hard time limit)."),
    # Notifications. All optional in dev; prod switches all three on.
    Setting("pagerdutyEnabled", _boolean, False,
            "Page critical alerts through PagerDuty. Needs pagerdutyRoutingKey.", kind="boolean"),
    Setting("pagerdutyRoutingKey", _secret_text, None,
            "PagerDuty Events API v2 integration (routing) key of the engineering on-call service: pages "
            "of every tier but clinical (application, background, monitoring).", secret=True),
    Setting("pagerdutyClinicalRoutingKey", _secret_text, None,
            "PagerDuty Events API v2 routing key of the clinical on-call service (e.g. the chief "
            "resident's rota): pages of tier clinical (ACGME violations, staffing, coverage), which an "
            "engineer cannot act on. Required with pagerdutyEnabled.", secret=True),
    Setting("slackEnabled", _boolean, False,
            "Send warning alerts to Slack. Needs slackWebhookUrl.", kind="boolean"),
    Setting("slackWebhookUrl", _secret_url, None,
            "Slack incoming webhook URL of the warnings channel.", secret=True),
    Setting("slackChannel", _channel, "#scheduler-alerts",
            "Slack channel for warnings; the webhook's default channel is overridden by it."),
    Setting("slackClinicalWebhookUrl", _secret_url, None,
            "Slack incoming webhook of the clinical team's channel: warnings of tier clinical go there "
            "instead of slackWebhookUrl. Unset: they go to the shared channel.", secret=True),
    Setting("slackClinicalChannel", _channel, None,
            "Channel for clinical warnings, overriding the clinical webhook's own; only with "
            "slackClinicalWebhookUrl."),
    Setting("emailEnabled", _boolean, False,
            "Send info alerts by e-mail. Needs emailTo, emailFrom and smtpSmarthost.", kind="boolean"),
    Setting("emailTo", _list(_email), None,
            "Recipients of info alerts (a list); usually the scheduling team's shared mailbox.", kind="array"),
    Setting("emailClinicalTo", _list(_email), None,
            "Recipients of info alerts of tier clinical (a list), e.g. the program coordinators; unset: "
            "they go to emailTo.", kind="array"),
    Setting("emailFrom", _email, None, "Sender address of alert e-mails; must be accepted by the SMTP relay."),
    Setting("smtpSmarthost", _host_port, None, "SMTP relay as host:port, e.g. smtp.hospital.example:587."),
    Setting("smtpUsername", _word, None, "SMTP user, when the relay needs authentication."),
    Setting("smtpPassword", _secret_text, None, "SMTP password for smtpUsername.", secret=True),
    Setting("smtpRequireTls", _boolean, True,
            "Require STARTTLS to the relay. Turn off only for a local relay.", kind="boolean"),
    Setting("watchdogWebhookUrl", _secret_url, None,
            "Dead man's switch endpoint that receives the always-firing Watchdog (e.g. a "
            "healthchecks service); silence from it means the alerting pipeline is broken. "
            "Required on Kubernetes unless watchdogHeartbeat is none.",
            secret=True),
    Setting("watchdogHeartbeat", _choice("required", "none"), None,
            "Whether the Watchdog must reach a dead man's switch (watchdogWebhookUrl). Required on "
            "Kubernetes; write `none` only for a stack that knowingly runs without one (nobody "
            "notices when its alerting stops). Unset on Docker means optional."),
    # Where people open the UIs: every link in a notification and on a dashboard points there.
    Setting("prometheusUrl", _url("http", "https"), None,
            "Prometheus's URL as people open it (its --web.external-url): the Source link of every alert. "
            "Default http://localhost:<prometheusPort>, the dev port or `kubectl port-forward` on Kubernetes; "
            "set the public URL when an ingress serves it."),
    Setting("alertmanagerUrl", _url("http", "https"), None,
            "Alertmanager's URL as people open it (its --web.external-url): the silence and alert links "
            "of every notification. Default http://localhost:<alertmanagerPort>, as prometheusUrl."),
    # Grafana.
    Setting("grafanaUrl", _url("http", "https"), "http://localhost:3001",
            "Grafana's URL as users and the Pulumi Grafana provider reach it; used for "
            "links in alerts. A Kubernetes stack must set its public URL."),
    Setting("grafanaAdminUser", _word, "admin", "Grafana admin login; change it to match your admin naming policy. "
            "With oidcEnabled it is the break-glass account only (/login?disableAutoLogin=true)."),
    Setting("grafanaAdminPassword", _secret_text, None,
            "Grafana admin password. Generated (and exported as a secret) when not set.", secret=True),
    Setting("grafanaSecretKey", _secret_text, None,
            "Grafana's secret_key that encrypts datasource secrets. Generated when not set; "
            "never change it on a running Grafana.", secret=True),
    # Sign-in to Grafana through the hospital's identity provider (OpenID Connect).
    Setting("oidcEnabled", _boolean, False,
            "Sign in to Grafana through the hospital's OIDC provider, with roles from its groups; the "
            "admin account stays for break-glass. Needs the oidc* endpoints, client and at least one group.",
            kind="boolean"),
    Setting("oidcName", _word, "Hospital SSO", "The sign-in button's label."),
    Setting("oidcIssuerUrl", _url("https"), None,
            "The provider's issuer (its /.well-known/openid-configuration lives under it); the sign-in "
            "proxies of prometheusIngress and alertmanagerIngress discover the provider from it."),
    Setting("oidcAuthUrl", _url("https"), None,
            "The provider's authorization_endpoint (from its /.well-known/openid-configuration)."),
    Setting("oidcTokenUrl", _url("https"), None, "The provider's token_endpoint; Grafana's pods reach it."),
    Setting("oidcUserinfoUrl", _url("https"), None, "The provider's userinfo_endpoint; Grafana's pods reach it."),
    Setting("oidcClientId", _word, None, "Client id of Grafana's registration at the provider."),
    Setting("oidcClientSecret", _secret_text, None, "Client secret of that registration.", secret=True),
    Setting("oidcGroupsClaim", _claim, "groups",
            "The claim of the userinfo (or ID token) that lists a person's groups."),
    Setting("oidcGroupsScope", _scope, "groups",
            "Extra scope that makes the provider send the groups claim; empty when it always does."),
    Setting("oidcAdminGroups", _list(_word, non_empty=False), None,
            "Groups whose members administer Grafana's organisation (dashboards, folders, users).", kind="array"),
    Setting("oidcEditorGroups", _list(_word, non_empty=False), None,
            "Groups whose members may edit dashboards (changes made in the UI are overwritten by the next "
            "`pulumi up`).", kind="array"),
    Setting("oidcViewerGroups", _list(_word, non_empty=False), None,
            "Groups whose members may view the dashboards, e.g. the on-call rotas and program "
            "coordinators. Anyone in none of the groups is refused.", kind="array"),
    # Dev host ports (bound to 127.0.0.1 only).
    Setting("prometheusPort", _port, 9090, "Host port of Prometheus in dev.", kind="integer"),
    Setting("alertmanagerPort", _port, 9093, "Host port of Alertmanager in dev.", kind="integer"),
    Setting("grafanaPort", _port, 3001, "Host port of Grafana in dev.", kind="integer"),
    # Docs.
    Setting("runbookBaseUrl", _url("https", "http"),
            "https://github.com/residency-scheduler/scheduler-monitoring/blob/{revision}/runbooks",
            "Where runbooks/<AlertName>.md are published; every alert links there. {revision} becomes "
            "the commit that last changed runbooks/, so a link shows the runbook as deployed, not as a "
            "branch says later. Change it to your fork or docs site."),
    # Service-level objectives (slos/*.yml).
    *_slo_settings("api_availability", "requests answered without a server error"),
    *_slo_settings("api_latency", "requests served within 1 s"),
    # Volumes.
    Setting("keepDataOnDestroy", _boolean, True,
            "Keep data volumes (Docker) and claims (Kubernetes) when the stack or a workload is "
            "deleted. Turn off only for throwaway stacks.", kind="boolean"),
    # Kubernetes (prod).
    Setting("kubeContext", _word, None,
            "The kubeconfig context the Kubernetes stack deploys to. Required on Kubernetes, so that "
            "whichever context is current on the machine running `pulumi up` cannot receive it."),
    Setting("namespace", _name, "monitoring", "Kubernetes namespace of the stack; change it when the cluster has a naming scheme."),
    Setting("adoptNamespace", _boolean, False,
            "Take over the namespace if it already exists (the one `pulumi destroy` kept with the data, "
            "or one the cluster's admins made for this stack): its labels become the stack's and its "
            "pods fall under the stack's default-deny policy. Off, an existing namespace stops "
            "`pulumi up` (Kubernetes answers AlreadyExists) rather than taking over someone else's.",
            kind="boolean"),
    Setting("storageClassName", _name, None,
            "StorageClass of the claims; the cluster default when not set."),
    Setting("prometheusReplicas", _count(1, 5), 2,
            "Prometheus replicas on Kubernetes (2 = an HA pair scraping the same targets).",
            kind="integer"),
    Setting("alertmanagerReplicas", _count(1, 7), 3,
            "Alertmanager replicas on Kubernetes, forming one gossip cluster (odd numbers).",
            kind="integer"),
    Setting("prometheusStorageSize", _quantity, "10Gi",
            "Claim size of each Prometheus replica. Must exceed retentionSize."),
    Setting("alertmanagerStorageSize", _quantity, "1Gi", "Claim size of each Alertmanager replica (silences and notification log)."),
    Setting("prometheusIngress", _boolean, False,
            "Publish Prometheus at prometheusUrl through the ingress controller, behind the same sign-in as "
            "Grafana (an oauth2-proxy; members of oidcViewerGroups, oidcEditorGroups or oidcAdminGroups). "
            "Kubernetes only; needs oidcEnabled, oidcIssuerUrl and an https prometheusUrl. Off: port-forward.",
            kind="boolean"),
    Setting("alertmanagerIngress", _boolean, False,
            "Publish Alertmanager at alertmanagerUrl the same way; only members of oidcEditorGroups or "
            "oidcAdminGroups, since its UI makes and expires silences. Kubernetes only.", kind="boolean"),
    Setting("authProxyImage", _image, "quay.io/oauth2-proxy/oauth2-proxy:v7.15.6",
            "oauth2-proxy image of the sign-in proxies in front of prometheusIngress and alertmanagerIngress."),
    Setting("ingressClassName", _name, None,
            "IngressClass of Grafana's Ingress; set it when the cluster has several ingress controllers."),
    Setting("ingressNamespace", _name, "ingress-nginx",
            "Namespace of the ingress controller: the only source allowed to reach Grafana's port. "
            "Change it to where your controller runs."),
    Setting("grafanaTlsSecretName", _name, None,
            "TLS Secret for grafanaUrl's host on the Ingress; unset uses the controller's default certificate."),
    Setting("grafanaStorageSize", _quantity, "2Gi", "Claim size of Grafana's SQLite database and plugins."),
)

SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}


# --------------------------------------------------------------------------
# The typed result, derived from the table.
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Receivers:
    """Where notifications go, as the Alertmanager renderer needs it."""
    pagerduty: bool
    slack: bool
    email: bool
    watchdog: bool
    slack_channel: str
    slack_clinical: bool
    slack_clinical_channel: Optional[str]
    email_to: tuple[str, ...]
    email_clinical_to: tuple[str, ...]
    email_from: Optional[str]
    smtp_smarthost: Optional[str]
    smtp_username: Optional[str]
    smtp_require_tls: bool


class _SettingsViews:
    """What Settings offers beyond its fields (one per non-secret setting, plus `stack` and `secrets_set`)."""

    @property
    def on_kubernetes(self) -> bool:
        return self.platform == "kubernetes"

    @property
    def receivers(self) -> Receivers:
        return Receivers(
            pagerduty=self.pagerduty_enabled, slack=self.slack_enabled, email=self.email_enabled,
            watchdog="watchdogWebhookUrl" in self.secrets_set, slack_channel=self.slack_channel,
            slack_clinical="slackClinicalWebhookUrl" in self.secrets_set,
            slack_clinical_channel=self.slack_clinical_channel,
            email_to=self.email_to or (), email_clinical_to=self.email_clinical_to or (),
            email_from=self.email_from, smtp_smarthost=self.smtp_smarthost,
            smtp_username=self.smtp_username, smtp_require_tls=self.smtp_require_tls)


Settings = make_dataclass(
    "Settings",
    [("stack", str), ("secrets_set", frozenset)]
    + [(s.field, Any) for s in SETTINGS if not s.secret],
    bases=(_SettingsViews,), frozen=True)
Settings.__module__ = __name__
Settings.__doc__ = ("Plain, validated, non-secret settings of one stack: one field per setting of SETTINGS, "
                    "`stack`, and `secrets_set` (the secret settings that have a value).")

# Secret values: Pulumi secret Outputs in a program, placeholders when
# rendering. None means "not set" (a generated value is used for Grafana's
# password and key).
Secrets = make_dataclass("Secrets", [(s.field, Any, field(default=None)) for s in SETTINGS if s.secret],
                         frozen=True)
Secrets.__module__ = __name__


def with_secrets_set(settings: Settings, *keys: str) -> Settings:
    """The same settings as if the secrets `keys` had values too (rendering as deployed)."""
    import dataclasses
    return dataclasses.replace(settings, secrets_set=settings.secrets_set | frozenset(keys))


# --------------------------------------------------------------------------
# Stack files.
# --------------------------------------------------------------------------
# What Pulumi itself keeps at the top of a stack file besides `config`.
STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")


def stack_file(stack: str) -> Path:
    return PROJECT_DIR / f"Pulumi.{stack}.yaml"


@dataclass
class StackFile:
    """One Pulumi.<stack>.yaml as written: this project's keys, and where each problem is."""
    name: str
    values: dict[str, Any] = field(default_factory=dict)     # key (no namespace) -> raw value
    secure: set[str] = field(default_factory=set)            # keys stored encrypted
    lines: dict[str, int] = field(default_factory=dict)      # key -> line number
    problems: list[str] = field(default_factory=list)        # complete messages, file and line first

    def where(self, key: Optional[str] = None) -> str:
        return f"{self.name}:{self.lines[key]}" if key in self.lines else self.name


def _suggestion(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def yaml_error_text(name: str, error: yaml.YAMLError) -> str:
    """`file:line:column: not valid YAML: what`, from PyYAML's marks."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{where}: not valid YAML: {problem}"


def _duplicate_keys(node: yaml.Node, name: str) -> list[str]:
    """A key written twice in one mapping: YAML keeps the last one silently, Pulumi refuses the file."""
    problems = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and key.value in seen:
                problems.append(f"{name}:{line}: {key.value} is set twice (first on line {seen[key.value]})")
            elif isinstance(key, yaml.ScalarNode):
                seen[key.value] = line
            problems += _duplicate_keys(value, name)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems += _duplicate_keys(item, name)
    return problems


def read_stack_file(stack: str) -> StackFile:
    """The stack file's keys of this project, with every structural problem named by file and line."""
    path = stack_file(stack)
    found = StackFile(path.name)
    if not path.exists():
        stacks = ", ".join(sorted(p.name[7:-5] for p in PROJECT_DIR.glob("Pulumi.*.yaml")))
        found.problems.append(f"{path.name}: no such stack file (stacks: {stacks}); every stack has one, "
                              f"which says at least {PROJECT}:platform")
        return found
    try:
        root = yaml.compose(path.read_text())
    except yaml.YAMLError as error:
        found.problems.append(yaml_error_text(path.name, error))
        return found
    if root is None or (isinstance(root, yaml.ScalarNode) and not root.value.strip()):
        found.problems.append(f"{path.name}: the stack file is empty; it must say at least "
                              f"`config: {{{PROJECT}:platform: docker}}` (or kubernetes)")
        return found
    if not isinstance(root, yaml.MappingNode):
        found.problems.append(f"{path.name}:{root.start_mark.line + 1}: a stack file is a mapping with a "
                              "`config:` key")
        return found
    found.problems += _duplicate_keys(root, path.name)
    config_node = None
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        if key_node.value == "config":
            config_node = value_node
        elif key_node.value not in STACK_FILE_KEYS:
            found.problems.append(f"{path.name}:{line}: unknown top-level key {key_node.value!r}"
                                  f"{_suggestion(key_node.value, list(STACK_FILE_KEYS))}; settings go under "
                                  "`config:`")
    if config_node is None or (isinstance(config_node, yaml.ScalarNode) and not config_node.value.strip()):
        found.problems.append(f"{path.name}: no `config:` section; it must set at least {PROJECT}:platform")
        return found
    if not isinstance(config_node, yaml.MappingNode):
        found.problems.append(f"{path.name}:{config_node.start_mark.line + 1}: `config:` must be a mapping "
                              f"of {PROJECT}:<setting> keys")
        return found
    document = yaml.safe_load(path.read_text())
    values = document.get("config") or {}
    for key_node, _ in config_node.value:
        full_key, line = str(key_node.value), key_node.start_mark.line + 1
        namespace, colon, key = full_key.partition(":")
        if not colon:
            found.problems.append(f"{path.name}:{line}: {full_key!r} has no namespace; write "
                                  f"{PROJECT}:{full_key}{_suggestion(full_key, list(SETTINGS_BY_KEY))}")
            continue
        if namespace != PROJECT:
            hint = (f" (did you mean {PROJECT}:{key}?)" if difflib.get_close_matches(namespace, [PROJECT], cutoff=0.75)
                    else f"; this program reads only {PROJECT}:* settings")
            found.problems.append(f"{path.name}:{line}: {full_key} is under namespace {namespace!r}{hint}")
            continue
        value = values[full_key]
        found.lines[key] = line
        if isinstance(value, dict) and set(value) == {"secure"}:
            found.secure.add(key)
        else:
            found.values[key] = value
    return found


# --------------------------------------------------------------------------
# Validation.
# --------------------------------------------------------------------------
def parse(stack: str, raw: Mapping[str, Any], secrets: Mapping[str, Optional[str]] | None = None,
          file: Optional[StackFile] = None) -> Settings:
    """Validate raw config values (key -> value, unset keys absent) into Settings.

    `secrets` maps each secret setting that has a value to that value, or to
    None where the value is not available (encrypted in a stack file being
    rendered); values are checked for shape and never reach Settings or an
    error message. `file` gives the lines for error messages (read from disk
    when not given). Raises SettingsError naming every problem.
    """
    secrets = dict(secrets or {})
    file = file if file is not None else read_stack_file(stack)
    errors: list[str] = []
    values: dict[str, Any] = {}

    def problem(key: str, message: str) -> None:
        errors.append(f"{file.where(key)}: {PROJECT}:{key} {message}")

    for key in sorted(set(raw) - set(SETTINGS_BY_KEY)):
        problem(key, f"is not a setting of this stack{_suggestion(key, list(SETTINGS_BY_KEY))}; "
                "see the README's settings table")

    for setting in SETTINGS:
        if setting.secret:
            if setting.key in raw:
                problem(setting.key, "is a secret but is written in plain text; remove it and set it with "
                        f"`pulumi config set --secret {setting.key} <value>`")
            elif secrets.get(setting.key) is not None:
                try:
                    setting.parse(secrets[setting.key])
                except ValueError as error:
                    problem(setting.key, f"(secret, value not shown) has the wrong shape; allowed: {error}")
            continue
        if setting.key not in raw or raw[setting.key] is None:
            if setting.required:
                problem(setting.key, f"is not set; allowed: {_allowed(setting)}. Every stack file must "
                        "say it")
                continue
            values[setting.key] = setting.parse(setting.default) if setting.default is not None else None
            continue
        try:
            values[setting.key] = setting.parse(raw[setting.key])
        except ValueError as error:
            problem(setting.key, f"is {raw[setting.key]!r}; allowed: {error}")

    if not errors:
        _check_together(values, secrets, problem)
    if errors:
        raise SettingsError(f"invalid settings for stack '{stack}':\n  " + "\n  ".join(errors))
    values["environment"] = values["environment"] or _name(stack.lower())
    values["prometheusUrl"] = values["prometheusUrl"] or f"http://localhost:{values['prometheusPort']}"
    values["alertmanagerUrl"] = values["alertmanagerUrl"] or f"http://localhost:{values['alertmanagerPort']}"
    return Settings(stack=stack, secrets_set=frozenset(secrets),
                    **{s.field: values[s.key] for s in SETTINGS if not s.secret})


def _allowed(setting: Setting) -> str:
    try:
        setting.parse(None)
    except ValueError as error:
        return str(error)
    return "a value"


# What each receiver needs once switched on.
RECEIVER_NEEDS = {
    "pagerdutyEnabled": ("pagerdutyRoutingKey", "pagerdutyClinicalRoutingKey"),
    "slackEnabled": ("slackWebhookUrl",),
    "emailEnabled": ("emailTo", "emailFrom", "smtpSmarthost"),
}


def required_secrets(values: Mapping[str, Any]) -> dict[str, str]:
    """Secret settings these (parsed) values make required -> why."""
    needed: dict[str, str] = {}
    for flag, keys in RECEIVER_NEEDS.items():
        if values.get(flag):
            needed.update({k: f"{flag} is true" for k in keys if SETTINGS_BY_KEY[k].secret})
    if values.get("emailEnabled") and values.get("smtpUsername"):
        needed["smtpPassword"] = "smtpUsername is set"
    heartbeat = values.get("watchdogHeartbeat")
    if heartbeat == "required" or (heartbeat is None and values.get("platform") == "kubernetes"):
        needed["watchdogWebhookUrl"] = ("the Watchdog must reach a dead man's switch on Kubernetes "
                                        "(or write watchdogHeartbeat: none to run without one)"
                                        if heartbeat is None else "watchdogHeartbeat is required")
    if values.get("platform") == "kubernetes":
        needed["celeryBrokerUrl"] = "its default is the Docker host's Redis, which a cluster cannot reach"
    return needed


def _check_together(values: dict, secrets: Mapping[str, Optional[str]],
                    problem: Callable[[str, str], None]) -> None:
    """Rules that span several settings."""
    for flag, needs in RECEIVER_NEEDS.items():
        for key in needs:
            if values[flag] and not SETTINGS_BY_KEY[key].secret and values.get(key) is None:
                problem(key, f"is required because {flag} is true; set it with `pulumi config set {key} "
                        f"<value>` or set {flag} to false")
    for key, why in required_secrets(values).items():
        if key not in secrets:
            problem(key, f"is required because {why}; set it with `pulumi config set --secret {key} <value>`")
    if values["slackClinicalChannel"] and "slackClinicalWebhookUrl" not in secrets:
        problem("slackClinicalChannel", "is set without slackClinicalWebhookUrl; set the clinical team's "
                "webhook with `pulumi config set --secret slackClinicalWebhookUrl <url>`, or remove it")
    if values["celeryPurgeOfflineWorkerMetrics"] <= values["celeryWorkerTimeout"]:
        problem("celeryPurgeOfflineWorkerMetrics",
                f"is {values['celeryPurgeOfflineWorkerMetrics']}; allowed: more seconds than "
                f"celeryWorkerTimeout ({values['celeryWorkerTimeout']}), or a worker's series "
                "vanish before it is ever reported down")
    on_kubernetes = values["platform"] == "kubernetes"
    if on_kubernetes:
        # Both as Prometheus and Kubernetes count them: 46GB is 46 GiB, 92 % of a 50Gi claim.
        retention_bytes = retention_size_bytes(values["retentionSize"])
        claim_bytes = quantity_bytes(values["prometheusStorageSize"])
        if retention_bytes > 0.9 * claim_bytes:
            problem("retentionSize", f"is {values['retentionSize']}; allowed: at most 90% of "
                    f"prometheusStorageSize ({values['prometheusStorageSize']}), so the WAL and "
                    "compaction have room")
    if values["oidcEnabled"]:
        for key in ("oidcAuthUrl", "oidcTokenUrl", "oidcUserinfoUrl", "oidcClientId"):
            if not values[key]:
                problem(key, f"is required because oidcEnabled is true; set it with `pulumi config set {key} "
                        "<value>`")
        if "oidcClientSecret" not in secrets:
            problem("oidcClientSecret", "is required because oidcEnabled is true; set it with "
                    "`pulumi config set --secret oidcClientSecret <value>`")
        if not any(values[k] for k in ("oidcAdminGroups", "oidcEditorGroups", "oidcViewerGroups")):
            problem("oidcViewerGroups", "is empty, and so are oidcAdminGroups and oidcEditorGroups; with "
                    "oidcEnabled nobody could sign in: name at least one group")
    for flag, url_key, groups in (("prometheusIngress", "prometheusUrl",
                                   ("oidcAdminGroups", "oidcEditorGroups", "oidcViewerGroups")),
                                  ("alertmanagerIngress", "alertmanagerUrl", ("oidcAdminGroups", "oidcEditorGroups"))):
        if not values[flag]:
            continue
        url = values[url_key] or ""
        if not on_kubernetes:
            problem(flag, "is true on Docker; allowed: false (dev publishes every UI on 127.0.0.1)")
        if not values["oidcEnabled"] or not values["oidcIssuerUrl"]:
            problem(flag, "needs the same sign-in as Grafana: set oidcEnabled and oidcIssuerUrl too")
        if not url.startswith("https://") or _is_local_host(_host_of(url)) or urlparse(url).path not in ("", "/"):
            shown = f"is {url!r}" if url else "is not set"
            problem(url_key, f"{shown}; allowed with {flag}: the https URL of its own host (the Ingress routes by "
                    f"host), such as https://{url_key.removesuffix('Url')}.scheduler.hospital.example")
        if not any(values[key] for key in groups):
            problem(flag, f"lets nobody in: {' and '.join(groups)} are empty")
    if on_kubernetes and not values["kubeContext"]:
        problem("kubeContext", "is required on Kubernetes: the kubeconfig context to deploy to (see "
                "`kubectl config get-contexts`), so that the current context cannot receive the stack "
                "by accident")
    if on_kubernetes:
        # Dev defaults (and any loopback address) exist only on a developer's machine.
        if _is_local_host(_host_of(values["grafanaUrl"])):
            problem("grafanaUrl", f"is {values['grafanaUrl']!r}, an address of this machine; allowed: the URL "
                    "at which Grafana is reached on the cluster (its Ingress host)")
        if _is_local_host(_host_of(values["backendTarget"])):
            problem("backendTarget", f"is {values['backendTarget']!r}, an address of the Docker host or "
                    "loopback; allowed: the backend's Service on the cluster, such as "
                    "scheduler-backend.scheduler.svc.cluster.local:8000")
        broker = secrets.get("celeryBrokerUrl")
        if broker is not None and _is_local_host(_host_of(broker)):
            problem("celeryBrokerUrl", "(secret, value not shown) points at the Docker host or loopback; "
                    "allowed: the Redis Service the Celery workers use on the cluster")
    ports = [("prometheusPort", values["prometheusPort"]), ("alertmanagerPort", values["alertmanagerPort"]),
             ("grafanaPort", values["grafanaPort"])]
    seen: dict[int, str] = {}
    for key, port in ports:
        if port in seen:
            problem(key, f"is {port}; allowed: a port not already used by {seen[port]}")
        seen[port] = key


def _parsed_for_requirements(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Best-effort parsed values (bad ones left out) to tell which secrets a stack file needs."""
    parsed: dict[str, Any] = {}
    for key in ("platform", "watchdogHeartbeat", "emailEnabled", "smtpUsername", *RECEIVER_NEEDS):
        setting = SETTINGS_BY_KEY[key]
        try:
            parsed[key] = setting.parse(raw[key]) if raw.get(key) is not None else (
                setting.parse(setting.default) if setting.default is not None else None)
        except ValueError:
            parsed[key] = None
    return parsed


def settings_error(settings: Settings, key: str, message: str) -> SettingsError:
    """An error about one setting found after parsing (checked against the rules), located like the others."""
    return SettingsError(f"invalid settings for stack '{settings.stack}':\n  "
                         f"{read_stack_file(settings.stack).where(key)}: {PROJECT}:{key} {message}")


# --------------------------------------------------------------------------
# Sources: Pulumi's config (inside a program) or the stack file (rendering).
# --------------------------------------------------------------------------
def from_pulumi() -> tuple[Settings, Secrets]:
    """Read the current stack's config through pulumi.Config (only here)."""
    import pulumi
    from pulumi.runtime import is_config_secret

    stack = pulumi.get_stack()
    file = read_stack_file(stack)
    if file.problems:
        raise SettingsError(f"invalid settings for stack '{stack}':\n  " + "\n  ".join(file.problems))
    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {key: "" for key in file.values if key not in SETTINGS_BY_KEY}
    secret_values: dict[str, str] = {}
    for setting in SETTINGS:
        value = config.get(setting.key)
        if value is None:
            continue
        if setting.secret and is_config_secret(f"{PROJECT}:{setting.key}"):
            secret_values[setting.key] = value
        else:
            # A secret setting in plain text lands here and is refused by parse().
            raw[setting.key] = value
    settings = parse(stack, raw, secret_values, file)
    outputs = {key: pulumi.Output.secret(value) for key, value in secret_values.items()}
    outputs.setdefault("celeryBrokerUrl", pulumi.Output.secret(SETTINGS_BY_KEY["celeryBrokerUrl"].default))
    return settings, Secrets(**{SETTINGS_BY_KEY[key].field: value for key, value in outputs.items()})


def from_stack_file(stack: str) -> tuple[Settings, Secrets]:
    """Read Pulumi.<stack>.yaml directly (no Pulumi engine), for rendering.

    Secret values stay encrypted in the file; they come back as placeholders.
    Rendering never sees secret values, so a secret the stack requires (a
    receiver switched on, the Kubernetes broker and heartbeat) is shown with a
    placeholder; `pulumi preview` is where a missing one is an error.
    """
    file = read_stack_file(stack)
    if file.problems:
        raise SettingsError(f"invalid settings for stack '{stack}':\n  " + "\n  ".join(file.problems))
    secret_set = set(file.secure) | (set(required_secrets(_parsed_for_requirements(file.values)))
                                     - set(file.values))
    settings = parse(stack, file.values, dict.fromkeys(secret_set), file)
    placeholders = {key: f"<secret {key}>" for key in secret_set}
    placeholders.setdefault("celeryBrokerUrl", "<secret celeryBrokerUrl>")
    return settings, Secrets(**{SETTINGS_BY_KEY[key].field: value for key, value in placeholders.items()})


def config_schema() -> dict:
    """The `config:` block of Pulumi.yaml, derived from SETTINGS (types, secrecy, docs)."""
    schema: dict = {}
    for setting in SETTINGS:
        entry: dict = {"type": setting.kind}
        if setting.kind == "array":
            entry["items"] = {"type": "string"}
        if setting.secret:
            entry["secret"] = True
        entry["description"] = setting.doc
        schema[setting.key] = entry
    return schema


def settings_table() -> str:
    """The README's settings table, derived from SETTINGS."""
    rows = ["| setting | default | secret | what it is, and when to change it |", "|---|---|---|---|"]
    for setting in SETTINGS:
        default = ("required" if setting.required else "—") if setting.default is None else f"`{setting.default}`"
        rows.append(f"| `{setting.key}` | {default} | {'yes' if setting.secret else ''} | "
                    f"{setting.doc.replace('|', '/')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    # After changing SETTINGS: the config block for Pulumi.yaml, then the README's table.
    print(yaml.safe_dump({"config": config_schema()}, sort_keys=False, width=120))
    print(settings_table())
