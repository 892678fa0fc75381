"""Bad input of every kind is refused with a message that names the file and line or the key.

Each case writes one mistake into a copy of the project (a stack file, a rule
file, a dashboard) or into a stack's secrets, then runs what a user runs:
`python -m components.render` for files (exit 1, `error: ...`, no traceback)
and the Pulumi program under mocks for secrets (a RunError with the message,
which Pulumi prints without a stack trace). Every message must contain the
given fragments; a secret's value must never appear in it.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pulumi
import pytest
import yaml

from components import render
from components import settings as s
from components.renderers import dashboards as d
from components.renderers import rules as r
from components.renderers import slos as slo_files
from components.revision import REVISION_ENV
from tests.support.pulumi_mocks import run_program

DOCKER_STACK = "config:\n  scheduler-monitoring:platform: docker\n"
KUBERNETES_STACK = """config:
  scheduler-monitoring:platform: kubernetes
  scheduler-monitoring:kubeContext: scheduler-test
  scheduler-monitoring:grafanaUrl: https://grafana.hospital.example
  scheduler-monitoring:backendTarget: scheduler-backend.scheduler.svc.cluster.local:8000
"""
GOOD_SECRETS = {"celeryBrokerUrl": "redis://:broker-pass@redis.scheduler.svc:6379/0",
                "watchdogWebhookUrl": "https://heartbeat.example/ping/token"}


@dataclass
class Case:
    category: str
    name: str
    expected: tuple[str, ...]
    stack_file: str = DOCKER_STACK                      # Pulumi.qa.yaml
    change: Optional[Callable[[Path], None]] = None     # edits the project copy (rules, dashboards)
    secrets: Optional[dict] = None                      # run the program with these secret values
    plain: dict = field(default_factory=dict)           # extra plain config for the program


def setting(key: str, value: str, *expected: str, base: str = DOCKER_STACK) -> Case:
    """One bad value of one setting, written on line `base lines + 1` of the stack file."""
    line = base.count("\n") + 1
    return Case("stack file", f"{key}={value}", (f"Pulumi.qa.yaml:{line}: scheduler-monitoring:{key}", *expected),
                stack_file=base + f"  scheduler-monitoring:{key}: {value}\n")


def on_kubernetes(key: str, value: str, *expected: str) -> Case:
    case = setting(key, value, *expected, base=KUBERNETES_STACK.replace(
        f"  scheduler-monitoring:{key}: " + _line_value(KUBERNETES_STACK, key) + "\n", ""))
    case.category = "stack file (kubernetes)"
    return case


def _line_value(text: str, key: str) -> str:
    for line in text.splitlines():
        if line.strip().startswith(f"scheduler-monitoring:{key}:"):
            return line.split(": ", 1)[1]
    return "\0"


def write(relative: str, text: str | bytes) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    return change


def edit(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1))
    return change


def edit_dashboard(name: str, mutate: Callable[[dict], None]) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / "dashboards" / name
        model = json.loads(path.read_text())
        mutate(model)
        path.write_text(json.dumps(model, indent=2))
    return change


def secret(key: str, value: str, *expected: str, base: str = DOCKER_STACK, plain: Optional[dict] = None,
           others: Optional[dict] = None) -> Case:
    values = {**(GOOD_SECRETS if "kubernetes" in base else {}), **(others or {}), key: value}
    return Case("secrets", f"{key}", (f"scheduler-monitoring:{key}", *expected), stack_file=base,
                secrets=values, plain=plain or {})


RULE = "rules/scheduler_tasks.yml"
DASHBOARD = "celery_tasks.json"
SLO = "slos/api_availability.yml"


def slo_line(text: str) -> int:
    """The line of the SLO file that starts with `text` (messages name it)."""
    lines = (s.PROJECT_DIR / SLO).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.strip().startswith(text))


def remove_slos(root: Path) -> None:
    for path in (root / "slos").glob("*.yml"):
        path.unlink()

CASES: list[Case] = [
    # -- the stack file itself ---------------------------------------------------------
    Case("stack file", "empty", ("Pulumi.qa.yaml: the stack file is empty",), stack_file=""),
    Case("stack file", "only comments", ("Pulumi.qa.yaml: the stack file is empty",), stack_file="# dev\n"),
    Case("stack file", "bad indentation", ("Pulumi.qa.yaml:3:", "not valid YAML"),
         stack_file="config:\n  scheduler-monitoring:platform: docker\n scheduler-monitoring:grafanaPort: 3001\n"),
    Case("stack file", "tab indentation", ("Pulumi.qa.yaml:2:", "not valid YAML"),
         stack_file="config:\n\tscheduler-monitoring:platform: docker\n"),
    Case("stack file", "unclosed quote", ("Pulumi.qa.yaml:", "not valid YAML"),
         stack_file='config:\n  scheduler-monitoring:platform: "docker\n'),
    Case("stack file", "a list, not a mapping", ("Pulumi.qa.yaml:1: a stack file is a mapping",),
         stack_file="- config\n"),
    Case("stack file", "configs typo", ("Pulumi.qa.yaml:1: unknown top-level key 'configs'", "did you mean config?"),
         stack_file="configs:\n  scheduler-monitoring:platform: docker\n"),
    Case("stack file", "no config section", ("Pulumi.qa.yaml: no `config:` section",),
         stack_file="encryptionsalt: v1:abc\n"),
    Case("stack file", "config is a list", ("Pulumi.qa.yaml:2: `config:` must be a mapping",),
         stack_file="config:\n  - scheduler-monitoring:platform\n"),
    Case("stack file", "config left empty", ("Pulumi.qa.yaml: no `config:` section",), stack_file="config:\n"),
    Case("stack file", "namespace with underscore",
         ("Pulumi.qa.yaml:2: scheduler_monitoring:platform", "did you mean scheduler-monitoring:platform?"),
         stack_file="config:\n  scheduler_monitoring:platform: kubernetes\n"),
    Case("stack file", "namespace misspelt",
         ("Pulumi.qa.yaml:3: scheduler-monitorng:grafanaPort", "did you mean scheduler-monitoring:grafanaPort?"),
         stack_file=DOCKER_STACK + "  scheduler-monitorng:grafanaPort: 3002\n"),
    Case("stack file", "another program's namespace",
         ("Pulumi.qa.yaml:3: kubernetes:context", "reads only scheduler-monitoring:*"),
         stack_file=DOCKER_STACK + "  kubernetes:context: prod-cluster\n"),
    Case("stack file", "no namespace", ("Pulumi.qa.yaml:3: 'grafanaPort' has no namespace",),
         stack_file=DOCKER_STACK + "  grafanaPort: 3002\n"),
    Case("stack file", "platform missing", ("Pulumi.qa.yaml", "scheduler-monitoring:platform is not set"),
         stack_file="config:\n  scheduler-monitoring:grafanaPort: 3002\n"),
    Case("stack file", "key set twice", ("Pulumi.qa.yaml:3: scheduler-monitoring:platform is set twice",),
         stack_file=DOCKER_STACK + "  scheduler-monitoring:platform: kubernetes\n"),
    setting("retentonTime", "15d", "not a setting", "did you mean retentionTime?"),
    setting("backendJobName", "backend", "not a setting"),
    setting("slackWebhookUrl", "https://hooks.slack.com/services/T0/B0/PLAINTEXT", "written in plain text",
            "pulumi config set --secret slackWebhookUrl"),
    setting("pagerdutyRoutingKey", "abc123", "written in plain text", "pulumi config set --secret"),
    setting("celeryBrokerUrl", "redis://:pw@redis:6379/0", "written in plain text"),
    # -- one setting's value -------------------------------------------------------------
    setting("platform", "swarm", "docker, kubernetes", base="config:\n"),
    setting("scrapeInterval", "15 seconds", "Prometheus duration"),
    setting("scrapeInterval", "0s", "greater than zero"),
    setting("scrapeInterval", "[15s]", "a single value"),
    setting("evaluationInterval", "1x", "Prometheus duration"),
    setting("retentionTime", "-5d", "Prometheus duration"),
    setting("retentionSize", "-10GB", "positive size"),
    setting("retentionSize", "10 gigs", "unit"),
    setting("retentionSize", "0GB", "positive size"),
    setting("prometheusPort", "70000", "1 to 65535"),
    setting("grafanaPort", "0", "1 to 65535"),
    setting("alertmanagerPort", "http", "1 to 65535"),
    setting("grafanaPort", "9090", "not already used"),
    setting("prometheusImage", "prom/prometheus:latest", "pinned"),
    setting("prometheusImage", "prom/prometheus:main", "release tag"),
    setting("prometheusImage", "prom/prometheus:v2.53.0", "3.10.0 or later"),
    setting("prometheusImage", "prom/prometheus:v3.9.1", "3.10.0 or later"),
    setting("alertmanagerImage", "prom/alertmanager:v0.25.0", "0.30.0 or later", "--dispatch.start-delay"),
    setting("alertmanagerImage", "prom/alertmanager:v0.29.0", "0.30.0 or later", "--dispatch.start-delay"),
    setting("alertmanagerImage", "prom/alertmanager", "pinned"),
    setting("grafanaImage", "grafana/grafana", "pinned"),
    setting("celeryExporterImage", "danihodovic/celery-exporter:latest", "pinned"),
    setting("backendTarget", "backend", "host:port"),
    setting("backendTarget", "backend:99999", "1 to 65535"),
    setting("backendTarget", "http://backend:8000/metrics", "host:port"),
    setting("backendMetricsPath", "metrics", "starting with /"),
    setting("backendScheme", "ftp", "http, https"),
    setting("grafanaUrl", "grafana.local", "http://"),
    setting("runbookBaseUrl", "ftp://docs", "https://"),
    setting("remoteWriteUrl", "mimir:9009", "http://"),
    setting("environment", "Prod_EU", "DNS label"),
    setting("celeryQueues", "[]", "at least one"),
    setting("celeryQueues", "{a: 1}", "a list"),
    setting("celeryWorkerTimeout", "5", "10 to 3600"),
    setting("celeryWorkerTimeout", "soon", "whole number"),
    setting("celeryPurgeOfflineWorkerMetrics", "30", "60 to 86400"),
    setting("celeryRuntimeBuckets", "0.1,1,10,60", "600"),
    setting("celeryRuntimeBuckets", "1,0.5,10,60,600", "increasing"),
    setting("celeryRuntimeBuckets", "1,5,30,120,600", "10"),
    setting("celeryRuntimeBuckets", "1,ten,600", "increasing positive numbers"),
    Case("stack file", "purge before timeout", ("scheduler-monitoring:celeryPurgeOfflineWorkerMetrics",
                                                "more seconds than celeryWorkerTimeout"),
         stack_file=DOCKER_STACK + "  scheduler-monitoring:celeryWorkerTimeout: 600\n"
                                   "  scheduler-monitoring:celeryPurgeOfflineWorkerMetrics: 300\n"),
    setting("pagerdutyEnabled", "maybe", "true or false"),
    setting("slackChannel", "alerts", "starting with #"),
    setting("emailTo", "'[\"not-an-address\"]'", "e-mail addresses"),
    setting("emailFrom", "alertmanager", "e-mail addresses"),
    setting("smtpSmarthost", "smtp.hospital.example", "host:port"),
    setting("smtpRequireTls", "sometimes", "true or false"),
    setting("watchdogHeartbeat", "off", "one of required, none"),
    setting("keepDataOnDestroy", "perhaps", "true or false"),
    setting("namespace", "Monitoring_NS", "DNS label"),
    setting("storageClassName", "Fast SSD", "DNS label"),
    setting("prometheusReplicas", "9", "1 to 5"),
    setting("alertmanagerReplicas", "0", "1 to 7"),
    setting("prometheusStorageSize", "10GB", "Gi"),
    setting("alertmanagerStorageSize", "-1Gi", "Kubernetes quantity"),
    setting("grafanaStorageSize", "lots", "Kubernetes quantity"),
    setting("ingressNamespace", "Ingress Nginx", "DNS label"),
    setting("grafanaAdminUser", "''", "non-empty"),
    setting("oidcAuthUrl", "http://sso.hospital.example/auth", "https://"),
    setting("oidcGroupsClaim", "realm groups", "claim name"),
    setting("oidcGroupsScope", "groups email", "one scope name"),
    Case("stack file", "single sign-on without its endpoints", (
        "scheduler-monitoring:oidcAuthUrl is required because oidcEnabled is true",
        "scheduler-monitoring:oidcTokenUrl is required", "scheduler-monitoring:oidcClientId is required",
        "scheduler-monitoring:oidcViewerGroups is empty"),
        stack_file=DOCKER_STACK + "  scheduler-monitoring:oidcEnabled: true\n"),
    Case("secrets", "single sign-on without its client secret",
         ("scheduler-monitoring:oidcClientSecret is required because oidcEnabled is true",),
         secrets={}, plain={"oidcEnabled": "true", "oidcAuthUrl": "https://sso.example/auth",
                            "oidcTokenUrl": "https://sso.example/token", "oidcUserinfoUrl": "https://sso.example/me",
                            "oidcClientId": "grafana", "oidcViewerGroups": '["oncall"]'}),
    # -- settings that must agree with the rules ------------------------------------------
    setting("scrapeInterval", "10m", "at most 45s", "a quarter of the rules' shortest range window (3m)"),
    setting("scrapeInterval", "90s", "at most 45s"),
    setting("evaluationInterval", "5m", "at most 1m", "half the shortest for: (2m)"),
    # -- settings that must agree with each other ------------------------------------------
    Case("stack file", "e-mail on without its addresses",
         ("Pulumi.qa.yaml: scheduler-monitoring:emailTo is required because emailEnabled is true",
          "pulumi config set emailTo"),
         stack_file=DOCKER_STACK + "  scheduler-monitoring:emailEnabled: true\n"),
    Case("stack file (kubernetes)", "retention above the claim",
         ("scheduler-monitoring:retentionSize", "90% of prometheusStorageSize"),
         stack_file=KUBERNETES_STACK + "  scheduler-monitoring:retentionSize: 20GB\n"
                                       "  scheduler-monitoring:prometheusStorageSize: 10Gi\n"),
    Case("stack file (kubernetes)", "retention over 90 % of the claim in binary units",
         ("scheduler-monitoring:retentionSize is 46GB", "90% of prometheusStorageSize"),
         stack_file=KUBERNETES_STACK + "  scheduler-monitoring:retentionSize: 46GB\n"
                                       "  scheduler-monitoring:prometheusStorageSize: 50Gi\n"),
    setting("prometheusIngress", "true", "is true on Docker", "needs the same sign-in as Grafana"),
    Case("stack file (kubernetes)", "alertmanager published without sign-in or groups", (
        "scheduler-monitoring:alertmanagerIngress needs the same sign-in as Grafana",
        "scheduler-monitoring:alertmanagerUrl is not set", "https://alertmanager.scheduler.hospital.example",
        "scheduler-monitoring:alertmanagerIngress lets nobody in"),
        stack_file=KUBERNETES_STACK + "  scheduler-monitoring:alertmanagerIngress: true\n"),
    Case("stack file (kubernetes)", "prometheus published at a path", (
        "scheduler-monitoring:prometheusUrl is 'https://ops.hospital.example/prometheus'", "its own host"),
        stack_file=KUBERNETES_STACK + "  scheduler-monitoring:prometheusIngress: true\n"
                                      "  scheduler-monitoring:prometheusUrl: https://ops.hospital.example/prometheus\n"
                                      "  scheduler-monitoring:oidcViewerGroups: [oncall]\n"),
    on_kubernetes("grafanaUrl", "http://localhost:3001", "an address of this machine"),
    on_kubernetes("grafanaUrl", "http://127.0.0.1:3001", "an address of this machine"),
    on_kubernetes("grafanaUrl", "http://[::1]:3001", "an address of this machine"),
    on_kubernetes("backendTarget", "host.docker.internal:8000", "Docker host"),
    on_kubernetes("backendTarget", "localhost:8000", "Docker host or loopback"),
    Case("stack file (kubernetes)", "dev defaults kept", (
        "scheduler-monitoring:grafanaUrl is 'http://localhost:3001'",
        "scheduler-monitoring:backendTarget is 'host.docker.internal:8000'"),
        stack_file="config:\n  scheduler-monitoring:platform: kubernetes\n"),
    Case("stack file (kubernetes)", "no kube context", (
        "scheduler-monitoring:kubeContext is required on Kubernetes",),
        stack_file=KUBERNETES_STACK.replace("  scheduler-monitoring:kubeContext: scheduler-test\n", "")),
    # -- rule files ---------------------------------------------------------------------
    Case("rules", ".yaml suffix", ("rules/extra.yaml: not a rule file", "rename it to extra.yml"),
         change=write("rules/extra.yaml", "groups: []\n")),
    Case("rules", "upper-case suffix", ("rules/extra.YML: not a rule file", "rename it to extra.yml"),
         change=write("rules/extra.YML", "groups: []\n")),
    Case("rules", "a README", ("rules/README.md: not a rule file", "move it out"),
         change=write("rules/README.md", "# rules\n")),
    Case("rules", "a sub-folder", ("rules/old: not a rule file",), change=write("rules/old/x.yml", "groups: []\n")),
    Case("rules", "YAML error", (f"{RULE}:", "not valid YAML"),
         change=edit(RULE, "    rules:\n", "    rules:\n   - bad: [\n")),
    Case("rules", "not UTF-8", ("rules/latin1.yml: not UTF-8",), change=write("rules/latin1.yml", b"groups: \xe9\n")),
    Case("rules", "no groups", ("rules/empty.yml: a rule file is a mapping with a `groups:` list",),
         change=write("rules/empty.yml", "rules: []\n")),
    Case("rules", "empty file", ("rules/blank.yml: a rule file is a mapping",), change=write("rules/blank.yml", "")),
    Case("rules", "two groups", ("rules/two.yml: holds 2 groups",),
         change=write("rules/two.yml", "groups:\n  - name: two\n    rules: []\n  - name: three\n    rules: []\n")),
    Case("rules", "group named otherwise", ("rules/extra.yml: its group must be named 'extra'",),
         change=write("rules/extra.yml", "groups:\n  - name: scheduler_extra\n    rules:\n"
                                         "      - record: a:b:c\n        expr: vector(1)\n")),
    Case("rules", "no rules", ("rules/extra.yml: group extra has no `rules:` list",),
         change=write("rules/extra.yml", "groups:\n  - name: extra\n")),
    Case("rules", "rule without expr", ("rules/extra.yml: rule 1 of group extra needs exactly one of alert/record",),
         change=write("rules/extra.yml", "groups:\n  - name: extra\n    rules:\n      - alert: Foo\n")),
    Case("rules", "alert and record at once", ("rules/extra.yml: rule 1 of group extra",),
         change=write("rules/extra.yml", "groups:\n  - name: extra\n    rules:\n"
                                         "      - alert: Foo\n        record: a:b:c\n        expr: vector(1)\n")),
    Case("rules", "bad for", ("rules/extra.yml: alert Foo: for 'soon' is not a Prometheus duration",),
         change=write("rules/extra.yml", "groups:\n  - name: extra\n    rules:\n"
                                         "      - alert: Foo\n        expr: vector(1)\n        for: soon\n")),
    Case("rules", "an alert whose for: is too short for the scrape interval",
         ("scheduler-monitoring:scrapeInterval is 15s", "at most 7.5s", "half the rules' shortest for: (15s)"),
         change=write("rules/extra.yml", "groups:\n  - name: extra\n    rules:\n"
                                         "      - alert: Foo\n        expr: up == 0\n        for: 15s\n")),
    Case("rules", "no rule file at all", ("rules/: no rule files",), change=lambda root: [
        p.unlink() for p in (root / "rules").glob("*.yml")]),
    Case("rules", "the SLO group's shortest window (5m) bounds the scrape interval too",
         ("scheduler-monitoring:scrapeInterval is 90s", "at most 1m15s", "a quarter of the rules' shortest range "
          "window (5m)"),
         stack_file=DOCKER_STACK + "  scheduler-monitoring:scrapeInterval: 90s\n",
         change=lambda root: ([p.unlink() for p in (root / "rules").glob("*.yml")],
                              write("rules/extra.yml", "groups:\n  - name: extra\n    rules:\n"
                                                       "      - record: job:up:avg1h\n"
                                                       "        expr: avg_over_time(up[1h])\n")(root))),
    Case("rules", "a rule file named like the generated SLO group",
         ("rules/scheduler_slos.yml: the group scheduler_slos is generated from slos/*.yml",),
         change=write("rules/scheduler_slos.yml", "groups:\n  - name: scheduler_slos\n    rules:\n"
                                                  "      - record: a:b:c\n        expr: vector(1)\n")),
    # -- SLO files ------------------------------------------------------------------------
    Case("slos", ".yaml suffix", ("slos/extra.yaml: not an SLO file", "rename it to extra.yml"),
         change=write("slos/extra.yaml", "name: extra\n")),
    Case("slos", "a README", ("slos/README.md: not an SLO file", "move it out"), change=write("slos/README.md", "# SLOs\n")),
    Case("slos", "a sub-folder", ("slos/old: not an SLO file",), change=write("slos/old/x.yml", "name: x\n")),
    Case("slos", "no SLO file at all", ("slos/: no SLO files",), change=remove_slos),
    Case("slos", "not UTF-8", ("slos/latin1.yml: not UTF-8",), change=write("slos/latin1.yml", b"name: \xe9\n")),
    # The parser notices the unclosed list on the next line.
    Case("slos", "YAML error", (f"{SLO}:{slo_line('window:')}:", "not valid YAML"),
         change=edit(SLO, "objective: 0.995", "objective: [0.995")),
    Case("slos", "a list", ("slos/extra.yml: an SLO file is a mapping",), change=write("slos/extra.yml", "- name\n")),
    Case("slos", "key written twice", (f"{SLO}:{slo_line('labels:')}: window is written twice",
                                       f"first on line {slo_line('window:')}"),
         change=edit(SLO, "labels:\n", "window: 7d\nlabels:\n")),
    Case("slos", "misspelt key", (f"{SLO}:{slo_line('objective:')}: unknown key 'objectve'", "did you mean objective?"),
         change=edit(SLO, "objective: 0.995", "objectve: 0.995")),
    Case("slos", "misspelt SLI key", (f"{SLO}:{slo_line('good:')}: unknown key 'goood'", "did you mean good?"),
         change=edit(SLO, "  good:", "  goood:")),
    Case("slos", "window missing", (f"{SLO}: needs window",), change=edit(SLO, "window: 28d\n", "")),
    Case("slos", "name not the file's", (f"{SLO}:{slo_line('name:')}: name 'api_uptime' must be the file's name",),
         change=edit(SLO, "name: api_availability", "name: api_uptime")),
    Case("slos", "name not a word", (f"{SLO}:{slo_line('name:')}: name 'API-availability' must be lower-case words",),
         change=edit(SLO, "name: api_availability", "name: API-availability")),
    Case("slos", "objective above 1", (f"{SLO}:{slo_line('objective:')}: objective is 1.5",
                                       "a fraction between 0 and 1 exclusive"),
         change=edit(SLO, "objective: 0.995", "objective: 1.5")),
    Case("slos", "objective as a percentage", (f"{SLO}:{slo_line('objective:')}: objective is 99.5",
                                               "99.5 % is written 0.995"),
         change=edit(SLO, "objective: 0.995", "objective: 99.5")),
    Case("slos", "objective of 1", (f"{SLO}:{slo_line('objective:')}: objective is 1;",),
         change=edit(SLO, "objective: 0.995", "objective: 1")),
    Case("slos", "window not a duration", (f"{SLO}:{slo_line('window:')}: window is '28 days'",
                                           "a Prometheus duration"),
         change=edit(SLO, "window: 28d", "window: 28 days")),
    Case("slos", "window shorter than the alerts' windows", (f"{SLO}:{slo_line('window:')}: window is '2d'",
                                                             "longer than 3d, the longest window its alerts look at"),
         change=edit(SLO, "window: 28d", "window: 2d")),
    Case("slos", "SLI as a rate, not a selector", (f"{SLO}:{slo_line('good:')}: sli.good must be a PromQL selector",),
         change=edit(SLO, 'good: http_requests_total{job="scheduler-backend", status!="5xx"}',
                     'good: rate(http_requests_total{job="scheduler-backend", status!="5xx"}[5m])')),
    Case("slos", "SLI without its job", (f"{SLO}:{slo_line('valid:')}: sli.valid must be a selector with exactly "
                                        'one job="..." matcher',),
         change=edit(SLO, 'valid: http_requests_total{job="scheduler-backend"}', "valid: http_requests_total{}")),
    Case("slos", "SLI matcher unreadable", (f"{SLO}:{slo_line('good:')}: sli.good must be label matchers",),
         change=edit(SLO, 'status!="5xx"', "status!=5xx")),
    Case("slos", "good and valid of different jobs", (f"{SLO}:{slo_line('sli:')}: every selector must name the same job",),
         change=edit(SLO, 'valid: http_requests_total{job="scheduler-backend"}',
                     'valid: http_requests_total{job="scheduler-frontend"}')),
    Case("slos", "valid missing", (f"{SLO}:{slo_line('sli:')}: sli.valid is missing",),
         change=edit(SLO, '  valid: http_requests_total{job="scheduler-backend"}\n', "")),
    Case("slos", "an alert label missing", (f"{SLO}:{slo_line('labels:')}: labels.tier is missing",),
         change=edit(SLO, "  tier: application\n", "")),
    Case("slos", "an SLO without its settings", ("slos/api_uptime.yml: SLO api_uptime has no settings",
                                                "sloApiUptimeObjective", "components/settings.py"),
         change=lambda root: (root / "slos/api_uptime.yml").write_text(
             (root / SLO).read_text().replace("name: api_availability", "name: api_uptime"))),
    setting("sloApiAvailabilityObjective", "1", "a fraction between 0 and 1 exclusive"),
    setting("sloApiAvailabilityObjective", "99.5", "99.5 % is written 0.995"),
    setting("sloApiAvailabilityObjective", "high", "such as 0.995"),
    setting("sloApiAvailabilityObjective", "0.9", "14.4 x (1 - 0.9) = 1.44", "could never fire",
            "an objective above 0.930556"),
    setting("sloApiLatencyWindow", "four weeks", "a Prometheus duration"),
    setting("sloApiLatencyWindow", "3d", "longer than 3d"),
    setting("sloApiLatencyWindow", "45d", "at most retentionTime (30d)"),
    setting("sloApiAvailabilityBurnRates", "14.4,6,3", "4 positive numbers", "1h/5m, 6h/30m, 1d/2h, 3d/6h"),
    setting("sloApiAvailabilityBurnRates", "14.4,6,3,0", "4 positive numbers"),
    setting("sloApiAvailabilityBurnRates", "fast,6,3,1", "4 positive numbers"),
    setting("sloApiAvailabilityBurnRates", "300,6,3,1", f"with the objective 0.995 of {SLO}:{slo_line('objective:')}",
            "300 x (1 - 0.995) = 1.5", "could never fire"),
    setting("retentionTime", "15d", "at least 28d", "api_availability SLO's window (28d)", "sloApiAvailabilityWindow"),
    # -- dashboards -----------------------------------------------------------------------
    Case("dashboards", "upper-case suffix", ("dashboards/extra.JSON: not a dashboard", "rename it to extra.json"),
         change=write("dashboards/extra.JSON", "{}")),
    Case("dashboards", "a text file", ("dashboards/notes.txt: not a dashboard", "move it out"),
         change=write("dashboards/notes.txt", "todo\n")),
    Case("dashboards", "a sub-folder", ("dashboards/old: not a dashboard",),
         change=write("dashboards/old/x.json", "{}")),
    Case("dashboards", "JSON error", (f"dashboards/{DASHBOARD}:1:3:", "not valid JSON"),
         change=edit(f"dashboards/{DASHBOARD}", "{", "{ ,", )),
    Case("dashboards", "trailing comma", ("dashboards/extra.json:1:", "not valid JSON"),
         change=write("dashboards/extra.json", '{"uid": "x", "title": "X",}')),
    Case("dashboards", "not UTF-8", ("dashboards/extra.json: not UTF-8",),
         change=write("dashboards/extra.json", b'{"title": "\xe9"}')),
    Case("dashboards", "a list", ("dashboards/extra.json: a dashboard is a JSON object",),
         change=write("dashboards/extra.json", "[]")),
    Case("dashboards", "no uid", (f"dashboards/{DASHBOARD}: needs a fixed \"uid\"",),
         change=edit_dashboard(DASHBOARD, lambda m: m.pop("uid"))),
    Case("dashboards", "uid too long", (f"dashboards/{DASHBOARD}: needs a fixed \"uid\" of 1 to 40",),
         change=edit_dashboard(DASHBOARD, lambda m: m.update(uid="x" * 41))),
    Case("dashboards", "no title", (f"dashboards/{DASHBOARD}: needs a \"title\"",),
         change=edit_dashboard(DASHBOARD, lambda m: m.update(title=" "))),
    Case("dashboards", "panels not a list", (f"dashboards/{DASHBOARD}: \"panels\" must be a list",),
         change=edit_dashboard(DASHBOARD, lambda m: m.update(panels={}))),
    Case("dashboards", "a sub-folder of the SLO dashboards", ("slo_dashboards/old: not a dashboard",),
         change=write("slo_dashboards/old/x.json", "{}")),
    Case("dashboards", "the same file name in two folders",
         ("slo_dashboards/celery_tasks.json: dashboards/celery_tasks.json has the same file name",),
         change=write("slo_dashboards/celery_tasks.json", '{"uid": "celery-tasks-slo", "title": "Copy"}')),
    Case("dashboards", "an SLO dashboard with a main dashboard's uid",
         ("slo_dashboards/zz_copy.json: uid 'celery-tasks' is also the uid of dashboards/celery_tasks.json",),
         change=write("slo_dashboards/zz_copy.json", '{"uid": "celery-tasks", "title": "Copy"}')),
    Case("dashboards", "duplicate uid", ("dashboards/zz_copy.json: uid 'celery-tasks' is also the uid of dashboards/celery_tasks.json",),
         change=write("dashboards/zz_copy.json", '{"uid": "celery-tasks", "title": "Copy"}')),
    # -- secrets (values checked for shape by the program, never shown) --------------------------
    secret("slackWebhookUrl", "not-a-url", "value not shown", "http:// or https://",
           plain={"slackEnabled": "true"}),
    secret("slackWebhookUrl", "ftp://hooks.slack.com/x", "http:// or https://", plain={"slackEnabled": "true"}),
    secret("slackWebhookUrl", "https:///services/HOSTLESS", "and a host", plain={"slackEnabled": "true"}),
    secret("slackWebhookUrl", "https://hooks.slack.com/services/T0 B0", "http:// or https://",
           plain={"slackEnabled": "true"}),
    secret("watchdogWebhookUrl", "heartbeat.example/ping", "http:// or https://"),
    secret("watchdogWebhookUrl", "mailto:oncall@hospital.example", "http:// or https://"),
    secret("pagerdutyRoutingKey", "", "non-empty", plain={"pagerdutyEnabled": "true"}),
    secret("pagerdutyRoutingKey", "   ", "non-empty", plain={"pagerdutyEnabled": "true"}),
    secret("pagerdutyRoutingKey", "R0UTING KEY", "without spaces", plain={"pagerdutyEnabled": "true"}),
    secret("smtpPassword", "", "non-empty"),
    secret("grafanaAdminPassword", "", "non-empty"),
    secret("grafanaAdminPassword", "two words", "without spaces"),
    secret("grafanaSecretKey", "", "non-empty"),
    secret("celeryBrokerUrl", "redis-host:6379", "a Redis URL"),
    secret("celeryBrokerUrl", "http://redis:6379/0", "a Redis URL"),
    secret("celeryBrokerUrl", "redis://:SECRET-PASS@/0", "with a host"),
    secret("celeryBrokerUrl", "redis://:SECRET-PASS@redis:sixty/0", "port is a number"),
    secret("celeryBrokerUrl", "amqp://guest:SECRET-PASS@rabbit:5672//", "a Redis URL"),
    secret("celeryBrokerUrl", "redis://:SECRET-PASS@host.docker.internal:6379/0", "Docker host or loopback",
           base=KUBERNETES_STACK),
    secret("celeryBrokerUrl", "redis://:SECRET-PASS@127.0.0.1:6379/0", "Docker host or loopback",
           base=KUBERNETES_STACK),
    Case("secrets", "secret given in plain config", ("scheduler-monitoring:slackWebhookUrl", "written in plain text",
                                                    "pulumi config set --secret slackWebhookUrl"),
         secrets={}, plain={"slackWebhookUrl": "https://hooks.slack.com/services/PLAIN-VALUE"}),
    Case("secrets", "routing key in plain config", ("scheduler-monitoring:pagerdutyRoutingKey", "plain text"),
         secrets={}, plain={"pagerdutyRoutingKey": "PLAIN-KEY-VALUE"}),
    Case("secrets", "kubernetes without a heartbeat",
         ("scheduler-monitoring:watchdogWebhookUrl is required because the Watchdog must reach a dead man's switch",
          "watchdogHeartbeat: none"),
         stack_file=KUBERNETES_STACK, secrets={"celeryBrokerUrl": GOOD_SECRETS["celeryBrokerUrl"]}),
    Case("secrets", "kubernetes without a broker",
         ("scheduler-monitoring:celeryBrokerUrl is required because its default is the Docker host's Redis",),
         stack_file=KUBERNETES_STACK, secrets={"watchdogWebhookUrl": GOOD_SECRETS["watchdogWebhookUrl"]}),
    Case("secrets", "heartbeat required on docker without its URL",
         ("scheduler-monitoring:watchdogWebhookUrl is required because watchdogHeartbeat is required",),
         stack_file=DOCKER_STACK + "  scheduler-monitoring:watchdogHeartbeat: required\n", secrets={}),
    Case("secrets", "pager on without its key",
         ("scheduler-monitoring:pagerdutyRoutingKey is required because pagerdutyEnabled is true",),
         secrets={}, plain={"pagerdutyEnabled": "true"}),
    Case("secrets", "SMTP user without password",
         ("scheduler-monitoring:smtpPassword is required because smtpUsername is set",),
         secrets={}, plain={"emailEnabled": "true", "emailTo": '["oncall@hospital.example"]',
                            "emailFrom": "am@hospital.example", "smtpSmarthost": "smtp.hospital.example:587",
                            "smtpUsername": "am"}),
]


def test_the_table_covers_at_least_a_hundred_bad_inputs_of_every_kind():
    categories = {case.category.split(" (")[0] for case in CASES}
    assert len(CASES) >= 100, len(CASES)
    assert categories == {"stack file", "rules", "slos", "dashboards", "secrets"}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A copy of the project's data files, which the renderers and settings then read."""
    for folder in ("rules", "slos", "dashboards", "slo_dashboards"):
        shutil.copytree(s.PROJECT_DIR / folder, tmp_path / folder)
    for path in s.PROJECT_DIR.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setattr(s, "PROJECT_DIR", tmp_path)
    monkeypatch.setattr(r, "RULES_DIR", tmp_path / "rules")
    monkeypatch.setattr(slo_files, "SLOS_DIR", tmp_path / "slos")
    monkeypatch.setattr(d, "DASHBOARDS_DIR", tmp_path / "dashboards")
    monkeypatch.setattr(d, "SLO_DASHBOARDS_DIR", tmp_path / "slo_dashboards")
    # The copy is no git checkout: name the runbooks' revision as an exported tree must.
    monkeypatch.setenv(REVISION_ENV, "0" * 40)
    return tmp_path


def _ids(case: Case) -> str:
    return f"{case.category}: {case.name}"


@pytest.mark.parametrize("case", [c for c in CASES if c.secrets is None], ids=_ids)
def test_render_refuses_bad_files_naming_where(case, project, capsys):
    (project / "Pulumi.qa.yaml").write_text(case.stack_file)
    if case.change:
        case.change(project)
    code = render.main(["qa", str(project / "out")])
    out = capsys.readouterr()
    assert code == 1, f"accepted: {out.out[-300:]}"
    assert out.err.startswith("error: ") and "Traceback" not in out.err
    for fragment in case.expected:
        assert fragment in out.err, f"{fragment!r} not in:\n{out.err}"
    assert not (project / "out").exists(), "nothing is written when the input is bad"


@pytest.mark.parametrize("case", [c for c in CASES if c.secrets is not None], ids=_ids)
def test_the_program_refuses_bad_secrets_naming_the_key_never_the_value(case, project):
    (project / "Pulumi.qa.yaml").write_text(case.stack_file)
    config = {**_file_config(case.stack_file), **case.plain, **case.secrets}
    with pytest.raises(pulumi.RunError) as caught:
        run_program("qa", config, tuple(case.secrets))
    message = str(caught.value)
    for fragment in case.expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    for value in [*case.secrets.values(), *(v for k, v in case.plain.items() if s.SETTINGS_BY_KEY[k].secret)]:
        if value.strip():
            assert value not in message, "a secret value is printed"


def _file_config(text: str) -> dict:
    """What `pulumi up` passes the program from the stack file: its plain keys."""
    document = yaml.safe_load(text) or {}
    return {key.split(":", 1)[1]: str(value).lower() if isinstance(value, bool) else value
            for key, value in (document.get("config") or {}).items()}


def test_the_program_refuses_a_bad_stack_file_before_declaring_anything(project):
    (project / "Pulumi.qa.yaml").write_text("configs:\n  scheduler-monitoring:platform: docker\n")
    with pytest.raises(pulumi.RunError, match=r"Pulumi.qa.yaml:1: unknown top-level key 'configs'"):
        run_program("qa", {"platform": "docker"})


def test_the_program_refuses_a_bad_rule_file_before_declaring_anything(project):
    (project / "rules" / "extra.yaml").write_text("groups: []\n")
    (project / "Pulumi.qa.yaml").write_text(DOCKER_STACK)
    with pytest.raises(pulumi.RunError, match=r"rules/extra.yaml: not a rule file"):
        run_program("qa", {"platform": "docker"})


def test_good_secrets_pass(project):
    (project / "Pulumi.qa.yaml").write_text(KUBERNETES_STACK)
    run = run_program("qa", {**_file_config(KUBERNETES_STACK), **GOOD_SECRETS}, tuple(GOOD_SECRETS))
    assert run.declared
