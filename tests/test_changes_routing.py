"""Routing in the change report: alerts that change receiver, and how the tree and inhibitions changed.

The walk itself (alerting.routing) is held against amtool in tests/test_alerting_routing.py.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.gitrepo import GitRepo

RULES = """
groups:
  - name: scheduler_resilience
    rules:
      - alert: CriticalUtilization
        expr: scheduler_utilization_ratio > 0.9
        labels: {severity: critical, component: resilience}
      - alert: HighUtilization
        expr: scheduler_utilization_ratio > 0.8
        labels: {severity: warning, component: resilience}
      - alert: CeleryQueueBacklog
        expr: celery_queue_length > 100
        labels: {severity: warning, component: celery}
"""

# A stand-in for the project's settings module and renderer: the report must use
# each revision's own code, so the tests change this code between commits.
SETTINGS = '''
from dataclasses import dataclass
from pathlib import Path
import yaml

@dataclass(frozen=True)
class Setting:
    key: str
    default: object = None
    secret: bool = False

SETTINGS = (Setting("slackEnabled", False), Setting("slackWebhookUrl", secret=True))

@dataclass(frozen=True)
class Settings:
    environment: str
    slack: bool

def from_stack_file(stack):
    document = yaml.safe_load((Path(__file__).parent.parent / f"Pulumi.{stack}.yaml").read_text())
    config = document.get("config") or {}
    return Settings(config.get("scheduler-monitoring:environment", stack),
                    bool(config.get("scheduler-monitoring:slackEnabled", False))), None
'''

RENDERER = '''
import yaml

def render_alertmanager_config(settings):
    routes = [{"matchers": ['severity="critical"'], "receiver": "pagerduty"}]
    if settings.slack:
        routes.append({"matchers": ['severity="warning"'], "receiver": "slack"})
    return yaml.safe_dump({
        "route": {"receiver": "default", "group_by": ["alertname"], "routes": routes},
        "receivers": [{"name": "default"}, {"name": "pagerduty", "pagerduty_configs": [{"routing_key_file": "/k"}]}]
                     + ([{"name": "slack", "slack_configs": [{"channel": "#alerts"}]}] if settings.slack else []),
        "inhibit_rules": [{"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
                           "equal": ["alertname"]}],
    })
'''


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    repo = GitRepo(tmp_path)
    repo.write("rules/scheduler_resilience.yml", RULES)
    repo.write("components/__init__.py", "")
    repo.write("components/settings.py", SETTINGS)
    repo.write("components/renderers/__init__.py", "")
    repo.write("components/renderers/alertmanager.py", RENDERER)
    repo.write("Pulumi.dev.yaml", "config:\n  scheduler-monitoring:slackEnabled: false\n")
    repo.commit("base")
    return repo


def test_a_setting_that_adds_a_route_moves_alerts_to_the_new_receiver(repo):
    repo.write("Pulumi.dev.yaml", "config:\n  scheduler-monitoring:slackEnabled: true\n"
                                  "  scheduler-monitoring:slackWebhookUrl:\n    secure: v1:SECRET\n")
    repo.commit("slack on")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "### Routing and inhibition (`dev`)" in text
    assert "- receiver `slack` added (slack_configs)" in text
    assert '+  - severity="warning" -> slack' in text
    assert "| HighUtilization | warning | `default` | `slack` |" in text
    assert "| CeleryQueueBacklog | warning | `default` | `slack` |" in text
    assert "CriticalUtilization |" not in text, "an alert whose receiver stays is not listed"
    assert "`slackEnabled`: `false` → `true`" in text
    assert "`slackWebhookUrl`: secret set" in text and "SECRET" not in text


def test_each_revision_renders_with_its_own_renderer(repo):
    changed = (RENDERER
               .replace('"receiver": "pagerduty"}]', '"receiver": "pagerduty", "continue": True},'
                        ' {"matchers": [\'component="celery"\'], "receiver": "celery-team"}]')
               .replace('"equal": ["alertname"]', '"equal": ["alertname", "env"]')
               .replace('[{"name": "default"},', '[{"name": "default"}, {"name": "celery-team"},'))
    repo.write("components/renderers/alertmanager.py", changed)
    repo.commit("celery team route, critical continues")
    text = repo.report_text("HEAD~1", "HEAD")
    assert '-  - severity="critical" -> pagerduty' in text
    assert '+  - severity="critical" -> pagerduty; continue' in text
    assert '+  - component="celery" -> celery-team' in text
    assert "| CeleryQueueBacklog | warning | `default` | `celery-team` |" in text
    # A matching `continue` route still ends at its own receiver: no fall-back to the parent's.
    assert "| CriticalUtilization |" not in text
    assert 'Inhibition rules:' in text
    assert '+- severity="critical" mutes severity="warning" when equal on alertname, env' in text


def test_a_relabelled_alert_follows_its_new_labels(repo):
    repo.write("rules/scheduler_resilience.yml", RULES.replace(
        "labels: {severity: warning, component: resilience}", "labels: {severity: critical, component: resilience}"))
    repo.commit("HighUtilization pages")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "| HighUtilization | critical | `default` | `pagerduty` |" in text
    assert "Route tree" not in text, "the routing itself did not change"


def test_routing_absent_at_base_and_broken_at_head(repo, tmp_path):
    bare = GitRepo(tmp_path / "bare")
    bare.write("rules/scheduler_resilience.yml", RULES)
    bare.write("Pulumi.dev.yaml", "config: {}\n")
    bare.commit("no renderer yet")
    for name in ("components/__init__.py", "components/settings.py", "components/renderers/__init__.py",
                 "components/renderers/alertmanager.py"):
        bare.write(name, (repo.path / name).read_text())
    bare.commit("renderer")
    text = bare.report_text("HEAD~1", "HEAD")
    assert "Alertmanager routing is new at `HEAD`" in text
    assert "| CriticalUtilization | critical | (no routing) | `pagerduty` |" in text

    bare.write("components/renderers/alertmanager.py", RENDERER.replace('severity="critical"', 'severity=~"("'))
    bare.commit("a route Alertmanager would refuse")
    result = bare.report("HEAD~1", "HEAD")
    assert result.returncode == 0, result.stderr
    assert "Alertmanager would refuse the rendered alertmanager.yml" in result.stdout
    assert "cannot read regular expression" in result.stdout

    bare.write("components/renderers/alertmanager.py", RENDERER.replace("import yaml", "import yaml\n1 / 0"))
    bare.commit("broken renderer")
    result = bare.report("HEAD~1", "HEAD")
    assert result.returncode == 0, result.stderr
    assert "routing could not be rendered at `HEAD`" in result.stdout
    assert "ZeroDivisionError" in result.stdout


def test_the_projects_own_renderer_and_settings_route_by_severity(tmp_path):
    """The real components package, copied into a throwaway repository, at two revisions."""
    project = Path(__file__).resolve().parent.parent
    repo = GitRepo(tmp_path)
    shutil.copytree(project / "components", tmp_path / "components",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(project / "Pulumi.prod.yaml", tmp_path / "Pulumi.prod.yaml")
    for folder in ("dashboards", "slos", "slo_dashboards"):
        shutil.copytree(project / folder, tmp_path / folder)
    repo.write("rules/scheduler_resilience.yml", RULES)
    repo.commit("real components")
    repo.write("rules/scheduler_resilience.yml", RULES.replace(
        "labels: {severity: warning, component: resilience}", "labels: {severity: critical, component: resilience}"))
    repo.commit("HighUtilization critical")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "could not be rendered" not in text, text
    row = next((line for line in text.splitlines() if line.startswith("| HighUtilization |")), None)
    assert row is not None, f"prod routes warning and critical alerts to different receivers:\n{text}"
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "critical" and cells[2] != cells[3] and "(no routing)" not in cells[2:], row


@pytest.fixture
def real_project(tmp_path) -> GitRepo:
    """The project's components, rules, dashboards, runbooks and stacks in a throwaway repository."""
    project = Path(__file__).resolve().parent.parent
    repo = GitRepo(tmp_path)
    for folder in ("components", "rules", "dashboards", "slos", "slo_dashboards", "runbooks"):
        shutil.copytree(project / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for stack in ("dev", "prod"):
        shutil.copy(project / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    repo.commit("the project")
    return repo


def test_routes_per_tier_show_who_gets_each_tiers_alerts(real_project):
    path = real_project.path / "Pulumi.prod.yaml"
    path.write_text(path.read_text() + "  scheduler-monitoring:slackClinicalWebhookUrl:\n    secure: v1:SECRET\n")
    real_project.commit("clinical warnings to the clinical channel")
    text = real_project.report_text("HEAD~1", "HEAD")
    assert "Where each tier's alerts go, by severity:" in text
    assert "| clinical | `pagerduty-clinical` | `slack` → `slack-clinical` | `email` |" in text
    assert "| background | `pagerduty` | `slack` | `email` |" in text


def test_dropping_the_dead_mans_switch_is_said_loudly(real_project):
    path = real_project.path / "Pulumi.prod.yaml"
    path.write_text(path.read_text() + "  scheduler-monitoring:watchdogHeartbeat: none\n")
    real_project.commit("no heartbeat")
    text = real_project.report_text("HEAD~1", "HEAD")
    assert "**`prod` now runs without a dead man's switch** (`watchdogHeartbeat: none`)" in text


def test_an_objective_change_is_said_with_the_error_budget_it_gives(real_project):
    path = real_project.path / "Pulumi.prod.yaml"
    path.write_text(path.read_text() + "  scheduler-monitoring:sloApiAvailabilityObjective: '0.999'\n")
    real_project.commit("stricter availability")
    text = real_project.report_text("HEAD~1", "HEAD")
    assert "### Service-level objectives" in text
    assert ("objective now 99.9 % over 28d instead of 99.5 %; the error budget shrinks from 3h21m36s to "
            "40m19s200ms (prod).") in text


def test_a_window_and_an_sli_change_are_said_too(real_project):
    slo = real_project.path / "slos" / "api_latency.yml"
    slo.write_text(slo.read_text().replace('le="1.0"', 'le="0.5"'))
    path = real_project.path / "Pulumi.dev.yaml"
    path.write_text(path.read_text() + "  scheduler-monitoring:sloApiLatencyWindow: 14d\n")
    real_project.commit("faster and shorter")
    text = real_project.report_text("HEAD~1", "HEAD")
    assert "SLI: good events now" in text and 'le="0.5"' in text and "(dev, prod)." in text
    assert "objective now 99 % over 14d instead of over 28d; the error budget shrinks from 6h43m12s to 3h21m36s (dev)." \
        in text
