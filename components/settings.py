"""Every setting of the stack: its key, type, default, and when to change it.

This module is the only reader of `pulumi.Config`. Everything else receives a
frozen `Settings` (plain values, safe to render and to print) and a `Secrets`
(Pulumi secret Outputs, or placeholders when rendering without Pulumi).

Values come from `Pulumi.<stack>.yaml` under the `scheduler-monitoring:`
namespace. Each key is validated here, before any resource is registered, and
every bad value is reported in one `SettingsError` that names the key, the file
and line where it was set, and what is allowed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlparse

import yaml

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


class SettingsError(ValueError):
    """One or more settings are invalid; the message lists each of them."""


# --------------------------------------------------------------------------
# Parsers: raw config value -> typed value, or ValueError("what is allowed").
# --------------------------------------------------------------------------
_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_DURATION_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600,
                   "m": 60, "s": 1, "ms": 0.001}
_SIZE = re.compile(r"^(\d+)(B|KB|MB|GB|TB|PB|EB)$")
_K8S_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|Pi|Ei)$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?[a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration such as `1h30m` (raises ValueError)."""
    match = _DURATION.match(text) if text else None
    if not match or not any(match.groups()):
        raise ValueError(text)
    total = 0.0
    for part in match.groups():
        if part:
            unit = "ms" if part.endswith("ms") else part[-1]
            total += int(part[: -len(unit)]) * _DURATION_UNITS[unit]
    return total


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


def _email(value: Any) -> str:
    text = _text(value)
    if not _EMAIL.match(text):
        raise ValueError("e-mail addresses such as oncall@hospital.example")
    return text


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


SETTINGS: tuple[Setting, ...] = (
    Setting("platform", _choice("docker", "kubernetes"), "docker",
            "Where the stack runs: docker (one host, dev) or kubernetes (HA, prod). Change per stack."),
    Setting("environment", _name, None,
            "The `env` external label on every series and alert. Defaults to the stack name; "
            "set it when two stacks must share a label value."),
    # Images: pinned so a `pulumi up` never upgrades silently. Change to upgrade.
    Setting("prometheusImage", _image, "prom/prometheus:v3.14.0",
            "Prometheus image. Change to upgrade Prometheus."),
    Setting("alertmanagerImage", _image, "prom/alertmanager:v0.35.0",
            "Alertmanager image. Change to upgrade Alertmanager."),
    Setting("grafanaImage", _image, "grafana/grafana:13.2.3",
            "Grafana image. Change to upgrade Grafana."),
    Setting("celeryExporterImage", _image, "danihodovic/celery-exporter:0.11.2",
            "danihodovic/celery-exporter image. Change to upgrade the exporter."),
    # Prometheus.
    Setting("scrapeInterval", _duration, "15s",
            "How often every target is scraped. Raise it to cut load; alert latency grows with it."),
    Setting("evaluationInterval", _duration, "30s",
            "Rule evaluation interval for groups that set none (the monitors' group). "
            "The scheduler groups keep the intervals the spec gives them."),
    Setting("retentionTime", _duration, "15d",
            "How long Prometheus keeps samples. Raise it for longer history (needs more disk)."),
    Setting("retentionSize", _size, "8GB",
            "Disk budget for Prometheus's TSDB; oldest blocks go first. Keep it below the volume size."),
    Setting("remoteWriteUrl", _url("http", "https"), None,
            "Optional remote-write endpoint (Thanos Receive, Mimir, ...) for long-term storage. "
            "Set it when one Prometheus's retention is no longer enough."),
    # The scheduler backend.
    Setting("backendJobName", _name, "scheduler-backend",
            "The scrape job of the backend. Dashboards and alerts select on it: change it only with them."),
    Setting("backendTarget", _host_port, "host.docker.internal:8000",
            "host:port of the FastAPI backend's metrics endpoint, as Prometheus reaches it. "
            "In dev the default reaches port 8000 of the Docker host."),
    Setting("backendMetricsPath", _path, "/metrics",
            "Path of the backend's metrics endpoint; change it only if the backend serves metrics elsewhere."),
    Setting("backendScheme", _choice("http", "https"), "http",
            "Scheme of the backend's metrics endpoint; https when it sits behind TLS."),
    # Celery and its exporter.
    Setting("celeryBrokerUrl", _url("redis", "rediss"), "redis://host.docker.internal:6379/0",
            "The application's Redis broker, usually with a password, so it is a secret. "
            "Set it with `pulumi config set --secret celeryBrokerUrl redis://:PASSWORD@host:6379/0`.",
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
    Setting("pagerdutyRoutingKey", _word, None,
            "PagerDuty Events API v2 integration (routing) key of the on-call service.", secret=True),
    Setting("slackEnabled", _boolean, False,
            "Send warning alerts to Slack. Needs slackWebhookUrl.", kind="boolean"),
    Setting("slackWebhookUrl", _url("https", "http"), None,
            "Slack incoming webhook URL of the warnings channel.", secret=True),
    Setting("slackChannel", _channel, "#scheduler-alerts",
            "Slack channel for warnings; the webhook's default channel is overridden by it."),
    Setting("emailEnabled", _boolean, False,
            "Send info alerts by e-mail. Needs emailTo, emailFrom and smtpSmarthost.", kind="boolean"),
    Setting("emailTo", _list(_email), None,
            "Recipients of info alerts (a list); usually the scheduling team's shared mailbox.", kind="array"),
    Setting("emailFrom", _email, None, "Sender address of alert e-mails; must be accepted by the SMTP relay."),
    Setting("smtpSmarthost", _host_port, None, "SMTP relay as host:port, e.g. smtp.hospital.example:587."),
    Setting("smtpUsername", _word, None, "SMTP user, when the relay needs authentication."),
    Setting("smtpPassword", _word, None, "SMTP password for smtpUsername.", secret=True),
    Setting("smtpRequireTls", _boolean, True,
            "Require STARTTLS to the relay. Turn off only for a local relay.", kind="boolean"),
    Setting("watchdogWebhookUrl", _url("https", "http"), None,
            "Dead man's switch endpoint that receives the always-firing Watchdog (e.g. a "
            "healthchecks service); silence from it means the alerting pipeline is broken.",
            secret=True),
    # Grafana.
    Setting("grafanaUrl", _url("http", "https"), "http://localhost:3001",
            "Grafana's URL as users and the Pulumi Grafana provider reach it; used for "
            "links in alerts. Set it to the public URL in prod."),
    Setting("grafanaAdminUser", _word, "admin", "Grafana admin login; change it to match your admin naming policy."),
    Setting("grafanaAdminPassword", _word, None,
            "Grafana admin password. Generated (and exported as a secret) when not set.", secret=True),
    Setting("grafanaSecretKey", _word, None,
            "Grafana's secret_key that encrypts datasource secrets. Generated when not set; "
            "never change it on a running Grafana.", secret=True),
    # Dev host ports (bound to 127.0.0.1 only).
    Setting("prometheusPort", _port, 9090, "Host port of Prometheus in dev.", kind="integer"),
    Setting("alertmanagerPort", _port, 9093, "Host port of Alertmanager in dev.", kind="integer"),
    Setting("grafanaPort", _port, 3001, "Host port of Grafana in dev.", kind="integer"),
    # Docs.
    Setting("runbookBaseUrl", _url("https", "http"),
            "https://github.com/residency-scheduler/scheduler-monitoring/blob/main/runbooks",
            "Where runbooks/<AlertName>.md are published; every alert links there. "
            "Change it to your fork or docs site."),
    # Volumes.
    Setting("keepDataOnDestroy", _boolean, True,
            "Keep data volumes (Docker) and claims (Kubernetes) when the stack or a workload is "
            "deleted. Turn off only for throwaway stacks.", kind="boolean"),
    # Kubernetes (prod).
    Setting("namespace", _name, "monitoring", "Kubernetes namespace of the stack; change it when the cluster has a naming scheme."),
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
# The typed result.
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Receivers:
    pagerduty: bool
    slack: bool
    email: bool
    watchdog: bool
    slack_channel: str
    email_to: tuple[str, ...]
    email_from: Optional[str]
    smtp_smarthost: Optional[str]
    smtp_username: Optional[str]
    smtp_require_tls: bool


@dataclass(frozen=True)
class Settings:
    """Plain, validated, non-secret settings of one stack."""
    stack: str
    platform: str
    environment: str
    prometheus_image: str
    alertmanager_image: str
    grafana_image: str
    celery_exporter_image: str
    scrape_interval: str
    evaluation_interval: str
    retention_time: str
    retention_size: str
    remote_write_url: Optional[str]
    backend_job_name: str
    backend_target: str
    backend_metrics_path: str
    backend_scheme: str
    celery_queues: tuple[str, ...]
    celery_worker_timeout: int
    celery_purge_offline_worker_metrics: int
    celery_runtime_buckets: tuple[float, ...]
    receivers: Receivers
    grafana_url: str
    grafana_admin_user: str
    prometheus_port: int
    alertmanager_port: int
    grafana_port: int
    runbook_base_url: str
    keep_data_on_destroy: bool
    namespace: str
    storage_class_name: Optional[str]
    prometheus_replicas: int
    alertmanager_replicas: int
    prometheus_storage_size: str
    alertmanager_storage_size: str
    grafana_storage_size: str
    ingress_class_name: Optional[str]
    ingress_namespace: str
    grafana_tls_secret_name: Optional[str]

    @property
    def on_kubernetes(self) -> bool:
        return self.platform == "kubernetes"


@dataclass(frozen=True)
class Secrets:
    """Secret values: Pulumi secret Outputs in a program, placeholders when rendering.

    None means "not set" (a generated value is used for Grafana's password and key).
    """
    celery_broker_url: Any
    pagerduty_routing_key: Any = None
    slack_webhook_url: Any = None
    smtp_password: Any = None
    watchdog_webhook_url: Any = None
    grafana_admin_password: Any = None
    grafana_secret_key: Any = None


# --------------------------------------------------------------------------
# Loading.
# --------------------------------------------------------------------------
def stack_file(stack: str) -> Path:
    return PROJECT_DIR / f"Pulumi.{stack}.yaml"


def _locations(stack: str) -> dict[str, str]:
    """`file:line` where each key is set in Pulumi.<stack>.yaml, for error messages."""
    path = stack_file(stack)
    found: dict[str, str] = {}
    try:
        root = yaml.compose(path.read_text())
    except (OSError, yaml.YAMLError):
        return found
    if root is None or not isinstance(root, yaml.MappingNode):
        return found
    for key_node, value_node in root.value:
        if key_node.value == "config" and isinstance(value_node, yaml.MappingNode):
            for config_key, _ in value_node.value:
                name = config_key.value.split(":", 1)[-1]
                found[name] = f"{path.name}:{config_key.start_mark.line + 1}"
    return found


def parse(stack: str, raw: Mapping[str, Any], secret_keys_set: frozenset[str] = frozenset()) -> Settings:
    """Validate raw config values (key -> value, unset keys absent) into Settings.

    `secret_keys_set` names the secret settings that have a value; their values
    never reach this function, so they cannot leak into Settings or its errors.
    Raises SettingsError naming every bad key.
    """
    where = _locations(stack)
    errors: list[str] = []
    values: dict[str, Any] = {}

    def problem(key: str, message: str) -> None:
        location = where.get(key, f"Pulumi.{stack}.yaml")
        errors.append(f"{location}: {PROJECT}:{key} {message}")

    unknown = sorted(set(raw) - set(SETTINGS_BY_KEY))
    for key in unknown:
        close = [k for k in SETTINGS_BY_KEY if k.lower() == key.lower()]
        hint = f" (did you mean {close[0]}?)" if close else ""
        problem(key, f"is not a setting of this stack{hint}; see the README's settings table")

    for setting in SETTINGS:
        if setting.secret:
            if setting.key in raw:
                problem(setting.key, "must be set as a secret: "
                        f"pulumi config set --secret {setting.key} <value>")
            continue
        if setting.key not in raw or raw[setting.key] is None:
            values[setting.key] = setting.parse(setting.default) if setting.default is not None else None
            continue
        try:
            values[setting.key] = setting.parse(raw[setting.key])
        except ValueError as error:
            shown = raw[setting.key]
            problem(setting.key, f"is {shown!r}; allowed: {error}")

    if not errors:
        _check_together(values, secret_keys_set, problem)
    if errors:
        raise SettingsError("invalid settings for stack "
                            f"'{stack}':\n  " + "\n  ".join(errors))

    receivers = Receivers(
        pagerduty=values["pagerdutyEnabled"],
        slack=values["slackEnabled"],
        email=values["emailEnabled"],
        watchdog="watchdogWebhookUrl" in secret_keys_set,
        slack_channel=values["slackChannel"],
        email_to=values["emailTo"] or (),
        email_from=values["emailFrom"],
        smtp_smarthost=values["smtpSmarthost"],
        smtp_username=values["smtpUsername"],
        smtp_require_tls=values["smtpRequireTls"],
    )
    return Settings(
        stack=stack,
        platform=values["platform"],
        environment=values["environment"] or _name(stack.lower()),
        prometheus_image=values["prometheusImage"],
        alertmanager_image=values["alertmanagerImage"],
        grafana_image=values["grafanaImage"],
        celery_exporter_image=values["celeryExporterImage"],
        scrape_interval=values["scrapeInterval"],
        evaluation_interval=values["evaluationInterval"],
        retention_time=values["retentionTime"],
        retention_size=values["retentionSize"],
        remote_write_url=values["remoteWriteUrl"],
        backend_job_name=values["backendJobName"],
        backend_target=values["backendTarget"],
        backend_metrics_path=values["backendMetricsPath"],
        backend_scheme=values["backendScheme"],
        celery_queues=values["celeryQueues"],
        celery_worker_timeout=values["celeryWorkerTimeout"],
        celery_purge_offline_worker_metrics=values["celeryPurgeOfflineWorkerMetrics"],
        celery_runtime_buckets=values["celeryRuntimeBuckets"],
        receivers=receivers,
        grafana_url=values["grafanaUrl"],
        grafana_admin_user=values["grafanaAdminUser"],
        prometheus_port=values["prometheusPort"],
        alertmanager_port=values["alertmanagerPort"],
        grafana_port=values["grafanaPort"],
        runbook_base_url=values["runbookBaseUrl"],
        keep_data_on_destroy=values["keepDataOnDestroy"],
        namespace=values["namespace"],
        storage_class_name=values["storageClassName"],
        prometheus_replicas=values["prometheusReplicas"],
        alertmanager_replicas=values["alertmanagerReplicas"],
        prometheus_storage_size=values["prometheusStorageSize"],
        alertmanager_storage_size=values["alertmanagerStorageSize"],
        grafana_storage_size=values["grafanaStorageSize"],
        ingress_class_name=values["ingressClassName"],
        ingress_namespace=values["ingressNamespace"],
        grafana_tls_secret_name=values["grafanaTlsSecretName"],
    )


_SIZE_BYTES = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15, "EB": 10**18}
_QUANTITY_BYTES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


# What each receiver needs once switched on.
RECEIVER_NEEDS = {
    "pagerdutyEnabled": ("pagerdutyRoutingKey",),
    "slackEnabled": ("slackWebhookUrl",),
    "emailEnabled": ("emailTo", "emailFrom", "smtpSmarthost"),
}


def _check_together(values: dict, secrets_set: frozenset[str], problem: Callable[[str, str], None]) -> None:
    """Rules that span several settings."""
    for flag, needs in RECEIVER_NEEDS.items():
        if not values[flag]:
            continue
        for key in needs:
            setting = SETTINGS_BY_KEY[key]
            present = key in secrets_set if setting.secret else values.get(key) is not None
            if not present:
                how = f"pulumi config set {'--secret ' if setting.secret else ''}{key} <value>"
                problem(key, f"is required because {flag} is true; set it with `{how}` "
                        f"or set {flag} to false")
    if values["emailEnabled"] and values["smtpUsername"] and "smtpPassword" not in secrets_set:
        problem("smtpPassword", "is required because smtpUsername is set; "
                "set it with `pulumi config set --secret smtpPassword <value>`")
    if values["celeryPurgeOfflineWorkerMetrics"] <= values["celeryWorkerTimeout"]:
        problem("celeryPurgeOfflineWorkerMetrics",
                f"is {values['celeryPurgeOfflineWorkerMetrics']}; allowed: more seconds than "
                f"celeryWorkerTimeout ({values['celeryWorkerTimeout']}), or a worker's series "
                "vanish before it is ever reported down")
    retention = _SIZE.match(values["retentionSize"])
    claim = _K8S_QUANTITY.match(values["prometheusStorageSize"])
    if values["platform"] == "kubernetes" and retention and claim:
        retention_bytes = int(retention.group(1)) * _SIZE_BYTES[retention.group(2)]
        claim_bytes = int(claim.group(1)) * _QUANTITY_BYTES[claim.group(2)]
        if retention_bytes > 0.9 * claim_bytes:
            problem("retentionSize", f"is {values['retentionSize']}; allowed: at most 90% of "
                    f"prometheusStorageSize ({values['prometheusStorageSize']}), so the WAL and "
                    "compaction have room")
    if values["platform"] == "kubernetes" and values["grafanaUrl"].startswith("http://localhost"):
        problem("grafanaUrl", "is the dev default; allowed: the URL at which Grafana is reached "
                "on the cluster (set it in Pulumi.<stack>.yaml)")
    ports = [("prometheusPort", values["prometheusPort"]), ("alertmanagerPort", values["alertmanagerPort"]),
             ("grafanaPort", values["grafanaPort"])]
    seen: dict[int, str] = {}
    for key, port in ports:
        if port in seen:
            problem(key, f"is {port}; allowed: a port not already used by {seen[port]}")
        seen[port] = key


# --------------------------------------------------------------------------
# Sources: Pulumi's config (inside a program) or the stack file (rendering).
# --------------------------------------------------------------------------
def from_pulumi() -> tuple[Settings, Secrets]:
    """Read the current stack's config through pulumi.Config (only here)."""
    import pulumi

    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.secret:
            value = config.get_secret(setting.key)
            if value is not None:
                secrets[setting.key] = value
            continue
        value = config.get(setting.key)
        if value is not None:
            raw[setting.key] = value
    # Keys set in the stack file that are not settings are typos worth stopping for.
    for key in _stack_file_keys(pulumi.get_stack()):
        if key not in SETTINGS_BY_KEY:
            raw.setdefault(key, "")
    settings = parse(pulumi.get_stack(), raw, frozenset(secrets))
    default_broker = SETTINGS_BY_KEY["celeryBrokerUrl"].default
    return settings, Secrets(
        celery_broker_url=secrets.get("celeryBrokerUrl", pulumi.Output.secret(default_broker)),
        pagerduty_routing_key=secrets.get("pagerdutyRoutingKey"),
        slack_webhook_url=secrets.get("slackWebhookUrl"),
        smtp_password=secrets.get("smtpPassword"),
        watchdog_webhook_url=secrets.get("watchdogWebhookUrl"),
        grafana_admin_password=secrets.get("grafanaAdminPassword"),
        grafana_secret_key=secrets.get("grafanaSecretKey"),
    )


def _stack_file_keys(stack: str) -> list[str]:
    try:
        document = yaml.safe_load(stack_file(stack).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []
    keys = []
    for full_key in (document.get("config") or {}):
        namespace, _, key = str(full_key).partition(":")
        if namespace == PROJECT:
            keys.append(key)
    return keys


def from_stack_file(stack: str) -> tuple[Settings, Secrets]:
    """Read Pulumi.<stack>.yaml directly (no Pulumi engine), for rendering.

    Secret values stay encrypted in the file; they come back as placeholders.
    """
    path = stack_file(stack)
    if not path.exists():
        raise SettingsError(f"{path.name}: no such stack file (stacks: "
                            + ", ".join(sorted(p.name[7:-5] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))) + ")")
    document = yaml.safe_load(path.read_text()) or {}
    raw: dict[str, Any] = {}
    secret_set: set[str] = set()
    for full_key, value in (document.get("config") or {}).items():
        namespace, _, key = str(full_key).partition(":")
        if namespace != PROJECT:
            continue
        setting = SETTINGS_BY_KEY.get(key)
        if setting is not None and setting.secret:
            if isinstance(value, dict) and "secure" in value:
                secret_set.add(key)
                continue
        raw[key] = value
    # Rendering never sees secret values, so a receiver that is switched on is
    # shown with placeholders for its secrets; `pulumi preview` is where a
    # missing one is an error.
    for flag, needs in RECEIVER_NEEDS.items():
        try:
            enabled = _boolean(raw.get(flag, False))
        except ValueError:
            continue
        if enabled:
            secret_set.update(k for k in needs if SETTINGS_BY_KEY[k].secret)
            if flag == "emailEnabled" and raw.get("smtpUsername"):
                secret_set.add("smtpPassword")
    settings = parse(stack, raw, frozenset(secret_set))

    def placeholder(key: str) -> Optional[str]:
        return f"<secret {key}>" if key in secret_set else None

    return settings, Secrets(
        celery_broker_url=placeholder("celeryBrokerUrl") or "<secret celeryBrokerUrl>",
        pagerduty_routing_key=placeholder("pagerdutyRoutingKey"),
        slack_webhook_url=placeholder("slackWebhookUrl"),
        smtp_password=placeholder("smtpPassword"),
        watchdog_webhook_url=placeholder("watchdogWebhookUrl"),
        grafana_admin_password=placeholder("grafanaAdminPassword"),
        grafana_secret_key=placeholder("grafanaSecretKey"),
    )


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
        default = "—" if setting.default is None else f"`{setting.default}`"
        rows.append(f"| `{setting.key}` | {default} | {'yes' if setting.secret else ''} | "
                    f"{setting.doc.replace('|', '/')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    # After changing SETTINGS: the config block for Pulumi.yaml, then the README's table.
    print(yaml.safe_dump({"config": config_schema()}, sort_keys=False, width=120))
    print(settings_table())
