"""`python -m components.render` for both stacks, checked by promtool and amtool."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components import constants as c
from components.render import render_stack
from components.settings import PROJECT_DIR, from_stack_file
from tests.support import catalog
from tests.support import rules as r
from tests.support.promql import metric_names

STACKS = ("dev", "prod")


@pytest.fixture(scope="module", params=STACKS)
def rendered(request, tmp_path_factory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp(f"render-{request.param}")
    result = subprocess.run([sys.executable, "-m", "components.render", request.param, str(out)],
                            cwd=PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return request.param, out


def test_render_writes_every_deployed_file(rendered):
    _, out = rendered
    for relative in ("prometheus/prometheus.yml", "alertmanager/alertmanager.yml",
                     "grafana/provisioning/datasources/prometheus.yml", "grafana/grafana.ini",
                     "alertmanager/flags.txt", "celery-exporter/flags.txt"):
        assert (out / relative).is_file(), relative
    rules = sorted(p.name for p in (out / "prometheus/rules").glob("*.yml"))
    # The files of rules/ and the group generated from slos/.
    assert rules == sorted([p.name for p in (PROJECT_DIR / "rules").glob("*.yml")] + [f"{c.SLO_RULE_GROUP}.yml"])
    # Each Grafana folder's dashboards where its project folder says: the main one at the top, SLOs below.
    dashboards = sorted(p.name for p in (out / "grafana/dashboards").glob("*.json"))
    assert dashboards == sorted(p.name for p in (PROJECT_DIR / "dashboards").glob("*.json")) and dashboards
    nested = sorted(p.name for p in (out / "grafana/dashboards" / c.SLO_FOLDER_TITLE).glob("*.json"))
    assert nested == sorted(p.name for p in (PROJECT_DIR / "slo_dashboards").glob("*.json")) and nested


def test_promtool_accepts_the_config_with_its_rules(rendered, tmp_path):
    stack, out = rendered
    config = yaml.safe_load((out / "prometheus/prometheus.yml").read_text())
    result = subprocess.run([r.tool("promtool", stack), "check", "config", "--syntax-only",
                             str(out / "prometheus/prometheus.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # Again with the rule files where the config points, so they are checked with it.
    config["rule_files"] = [str(out / "prometheus/rules/*.yml")]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    result = subprocess.run([r.tool("promtool", stack), "check", "config", str(local)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_amtool_accepts_the_alertmanager_config(rendered):
    stack, out = rendered
    result = subprocess.run([r.tool("amtool", stack), "check-config", str(out / "alertmanager/alertmanager.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_rendered_files_hold_no_secret(rendered):
    stack, out = rendered
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "redis://" not in text, f"{path} holds a broker URL"
            assert "hooks.slack.com/services/" not in text, f"{path} holds a webhook"


def test_prometheus_config_scrapes_every_part_and_alerts_alertmanager(rendered):
    stack, out = rendered
    config = yaml.safe_load((out / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "scheduler-backend", "celery-exporter", "alertmanager", "grafana"}
    assert jobs["scheduler-backend"]["metrics_path"] == "/metrics"
    assert config["global"]["external_labels"]["env"] == stack
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == jobs["alertmanager"]["static_configs"][0]["targets"]
    assert {"action": "labeldrop", "regex": "replica"} in config["alerting"]["alert_relabel_configs"]


def test_celery_scrape_drops_the_task_series_nothing_reads_and_only_those(rendered):
    """Each deploy gives every worker a new hostname and a new set of task series; the unread ones are dropped."""
    _, out = rendered
    config = yaml.safe_load((out / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    [drop] = jobs["celery-exporter"]["metric_relabel_configs"]
    assert drop["action"] == "drop" and drop["source_labels"] == ["__name__"]
    assert not any("metric_relabel_configs" in job for name, job in jobs.items() if name != "celery-exporter")
    pattern = re.compile(f"^(?:{drop['regex']})$")
    read = set()
    for path in (out / "prometheus/rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            read.update(name for rule in group["rules"] for name in metric_names(rule["expr"]))
    for path in (out / "grafana/dashboards").rglob("*.json"):
        model = json.loads(path.read_text())
        panels = [p for top in model["panels"] for p in [top, *top.get("panels", [])]]
        read.update(name for panel in panels for target in panel.get("targets", [])
                    for name in metric_names(target["expr"]))
    task_series = {name for name in catalog.series_names() if name.startswith("celery_task_")}
    dropped = {name for name in catalog.series_names() if pattern.match(name)}
    assert dropped == task_series - read, "drop exactly the exporter's task series that no rule or panel reads"
    assert {"celery_task_received_total", "celery_task_started_created"} <= dropped
    assert {"celery_task_succeeded_total", "celery_task_failed_total", "celery_task_runtime_bucket"} <= read


def test_exporter_flags(rendered):
    _, out = rendered
    flags = (out / "celery-exporter/flags.txt").read_text()
    assert "--queues=default,resilience,notifications,metrics,exports,security,maintenance" in flags
    assert "--buckets=0.1,0.5,1,2.5,5,10,30,60,120,300,600" in flags
    assert "--broker-url" not in flags and "# secret environment: CE_BROKER_URL" in flags


def test_alertmanager_flags(rendered):
    stack, out = rendered
    flags = render_stack(from_stack_file(stack)[0]).commands[c.ALERTMANAGER].args
    assert "--data.retention=168h" in flags
    # Three clustered replicas in prod; dev's lone Alertmanager has no peers to wait for.
    assert ("--cluster.peer-timeout=17s" in flags) == (stack == "prod")
    assert [f for f in flags if f.startswith("--cluster.")] == (["--cluster.peer-timeout=17s"] if stack == "prod" else [])


def test_unknown_stack_is_a_clear_error():
    result = subprocess.run([sys.executable, "-m", "components.render", "staging", "/tmp/unused"],
                            cwd=PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode == 1
    assert "Pulumi.staging.yaml: no such stack file" in result.stderr


@pytest.mark.parametrize("raw, prometheus, alertmanager", [
    ({}, "http://localhost:9090", "http://localhost:9093"),
    ({"prometheusPort": "19090", "alertmanagerPort": "19093"}, "http://localhost:19090", "http://localhost:19093"),
    ({"prometheusUrl": "https://prometheus.hospital.example", "alertmanagerUrl": "https://am.hospital.example/"},
     "https://prometheus.hospital.example", "https://am.hospital.example"),
])
def test_prometheus_and_alertmanager_link_to_the_urls_people_open(raw, prometheus, alertmanager):
    from components.settings import parse
    commands = render_stack(parse("dev", {"platform": "docker", **raw})).commands
    assert f"--web.external-url={prometheus}" in commands[c.PROMETHEUS].args
    assert f"--web.external-url={alertmanager}" in commands[c.ALERTMANAGER].args
    for service in (c.PROMETHEUS, c.ALERTMANAGER):
        assert "--web.route-prefix=/" in commands[service].args, "the API and probes stay at /"


def test_alerts_link_to_the_runbooks_as_deployed_not_to_a_moving_branch(monkeypatch):
    from components.revision import REVISION_ENV
    from components.settings import parse
    monkeypatch.delenv(REVISION_ENV, raising=False)
    last = subprocess.run(["git", "-C", str(PROJECT_DIR), "log", "-1", "--format=%H", "--", "runbooks"],
                          capture_output=True, text=True).stdout.strip()
    assert len(last) == 40
    rules = render_stack(parse("dev", {"platform": "docker"})).files["prometheus/rules/scheduler_tasks.yml"]
    assert f"/blob/{last}/runbooks/CeleryNoWorkers.md" in rules and "/blob/main/" not in rules
    monkeypatch.setenv(REVISION_ENV, "f" * 40)
    rules = render_stack(parse("dev", {"platform": "docker"})).files["prometheus/rules/scheduler_tasks.yml"]
    assert f"/blob/{'f' * 40}/runbooks/CeleryNoWorkers.md" in rules


def test_a_fixed_runbook_url_needs_no_revision(monkeypatch, tmp_path):
    from components import settings as settings_module
    from components.revision import REVISION_ENV
    from components.settings import InputError, parse
    monkeypatch.delenv(REVISION_ENV, raising=False)
    monkeypatch.setattr(settings_module, "PROJECT_DIR", tmp_path)   # no git checkout there
    with pytest.raises(InputError, match="not a git checkout"):
        render_stack(parse("dev", {"platform": "docker"}))
    fixed = parse("dev", {"platform": "docker", "runbookBaseUrl": "https://docs.hospital.example/runbooks/v7"})
    assert "https://docs.hospital.example/runbooks/v7/Watchdog.md" in \
        render_stack(fixed).files["prometheus/rules/scheduler_monitoring.yml"]
