"""The change report on small repositories with known changes: rules, dashboards, settings, revisions."""
from __future__ import annotations

import json

import pytest

from changes.rules import thresholds
from components.renderers.dashboards import stable_dashboard_json
from tests.support.gitrepo import GitRepo

RULES = """
groups:
  - name: scheduler_resilience
    interval: 30s
    rules:
      - alert: CriticalUtilization
        expr: max(scheduler_utilization_ratio{job="scheduler-backend"}) > {threshold}
        for: {wait}
        labels:
          severity: critical
          page: "true"
          component: resilience
        annotations:
          summary: Utilization is critical.
      - alert: HighUtilization
        expr: max(scheduler_utilization_ratio) > 0.8
        for: 5m
        labels:
          severity: warning
          page: "false"
      - record: job:scheduler_utilization_ratio:max
        expr: max by (job) (scheduler_utilization_ratio)
"""


def rules(threshold="0.9", wait="2m") -> str:
    return RULES.replace("{threshold}", threshold).replace("{wait}", wait)


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    repo = GitRepo(tmp_path)
    repo.write("rules/scheduler_resilience.yml", rules())
    repo.write("Pulumi.dev.yaml", """
        config:
          scheduler-monitoring:platform: docker
          scheduler-monitoring:scrapeInterval: 15s
    """)
    repo.write("README.md", "monitoring\n")
    repo.commit("base")
    return repo


def test_changed_alert_reads_as_one_sentence_with_old_and_new_values(repo):
    repo.write("rules/scheduler_resilience.yml", rules(threshold="0.85", wait="1m"))
    repo.commit("tighten CriticalUtilization")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "CriticalUtilization now fires at 0.85 after 1m instead of 0.9 after 2m." in text
    assert "threshold: `> 0.9` → `> 0.85`" in text
    assert "for: `2m` → `1m`" in text
    assert "HighUtilization" not in text, "an unchanged alert is not reported"


def test_added_removed_and_relabelled_alerts_and_recording_rules(repo):
    changed = (rules()
               .replace("severity: warning", "severity: critical")
               .replace('page: "false"', 'page: "true"')
               .replace("summary: Utilization is critical.", "summary: Utilization is above 90%.")
               .replace("max by (job) (scheduler_utilization_ratio)", "max by (job, instance) (scheduler_utilization_ratio)")
               .replace("      - record:", """      - alert: NoFaculty
        expr: scheduler_faculty_available == 0
        labels:
          severity: critical
      - record:"""))
    repo.write("rules/scheduler_resilience.yml", changed)
    repo.write("rules/scheduler_security.yml", """
        groups:
          - name: scheduler_security
            interval: 1m
            rules:
              - alert: SuspiciousAuthActivity
                expr: sum(rate(auth_failures_total[5m])) > 1
                labels: {severity: warning}
    """)
    repo.commit("rework alerts")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "New alert NoFaculty (critical) fires at 0 immediately." in text
    assert "New alert SuspiciousAuthActivity (warning) fires above 1 immediately." in text
    assert "HighUtilization is now critical (was warning); page is now true (was false)." in text
    assert "CriticalUtilization changed annotation summary." in text
    assert "annotation summary: `Utilization is critical.` → `Utilization is above 90%.`" in text
    assert "### Recording rules" in text
    assert "job:scheduler_utilization_ratio:max records a new expression." in text
    assert "group `scheduler_security` added (rules/scheduler_security.yml, evaluated every 1m)" in text

    repo.write("rules/scheduler_resilience.yml", rules().replace("interval: 30s", "interval: 1m"))
    repo.git("rm", "-q", "rules/scheduler_security.yml")
    repo.commit("back")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "Alert SuspiciousAuthActivity is removed." in text
    assert "Alert NoFaculty is removed." in text
    assert "group `scheduler_resilience` is now evaluated every 1m instead of 30s" in text
    assert "group `scheduler_security` removed" in text


def test_same_alert_name_twice_pairs_by_order(repo):
    twice = """
        groups:
          - name: scheduler_tasks
            rules:
              - alert: CeleryQueueBacklog
                expr: sum(celery_queue_length) > {warn}
                for: 15m
                labels: {severity: warning}
              - alert: CeleryQueueBacklog
                expr: sum(celery_queue_length) > 500
                for: 5m
                labels: {severity: critical}
    """
    repo.write("rules/scheduler_tasks.yml", twice.replace("{warn}", "100"))
    repo.commit("backlog")
    repo.write("rules/scheduler_tasks.yml", twice.replace("{warn}", "200"))
    repo.commit("raise the warning")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "CeleryQueueBacklog now fires at 200 after 15m instead of 100 after 15m." in text
    assert text.count("CeleryQueueBacklog") == 1, text


def test_thresholds_come_from_comparisons_with_constants_only():
    assert thresholds('sum(rate(x{job!="a", le="0.5"}[5m])) > 0.9') == ("> 0.9",)
    assert thresholds("x >= bool 3 and 0.5 < y") == (">= bool 3", "0.5 <")
    assert thresholds("absent(up{job=\"x\"})") == ()
    assert thresholds("x >") == (), "an expression that does not parse has no known threshold"


def test_operator_change_is_spelled_out(repo):
    repo.write("rules/scheduler_resilience.yml", rules().replace("> 0.9", ">= 0.9"))
    repo.commit("inclusive")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "CriticalUtilization now fires at or above 0.9 after 2m instead of above 0.9 after 2m." in text


def test_no_monitoring_changes(repo):
    repo.write("README.md", "monitoring, documented\n")
    repo.commit("docs only")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "No monitoring changes." in text
    assert "###" not in text


def test_unknown_revision_fails_with_one_line(repo):
    result = repo.report("no-such-branch", "HEAD")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == f"changes: error: revision 'no-such-branch' does not exist in {repo.path}"
    assert repo.report("HEAD", "deadbeef" * 5).returncode == 2


def test_head_defaults_to_the_working_tree(repo):
    repo.write("rules/scheduler_resilience.yml", rules(threshold="0.95"))
    text = repo.report_text("HEAD")
    assert "the working tree" in text
    assert "CriticalUtilization now fires at 0.95 after 2m instead of 0.9 after 2m." in text
    assert "No monitoring changes." in repo.report_text("HEAD", "HEAD")


def test_settings_changes_never_print_secret_values(repo, tmp_path):
    # The real settings table says which keys are secret, even when set in plain text by mistake.
    from components import settings as real_settings
    repo.write("components/__init__.py", "")
    repo.write("components/settings.py", (real_settings.PROJECT_DIR / "components" / "settings.py").read_text())
    repo.write("Pulumi.dev.yaml", """
        config:
          scheduler-monitoring:platform: docker
          scheduler-monitoring:scrapeInterval: 15s
          scheduler-monitoring:pagerdutyRoutingKey:
            secure: v1:CIPHERTEXTONE
    """)
    repo.commit("with settings table")
    repo.write("Pulumi.dev.yaml", """
        config:
          scheduler-monitoring:platform: docker
          scheduler-monitoring:scrapeInterval: 30s
          scheduler-monitoring:retentionTime: 45d
          scheduler-monitoring:pagerdutyRoutingKey:
            secure: v1:CIPHERTEXTTWO
          scheduler-monitoring:slackWebhookUrl: https://hooks.slack.example/PLAINTEXTLEAK
    """)
    repo.write("Pulumi.prod.yaml", "config:\n  scheduler-monitoring:platform: kubernetes\n")
    repo.commit("settings")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "`scrapeInterval`: `15s` → `30s`" in text
    assert "`retentionTime`: set to `45d` (default `30d`)" in text
    assert "`pagerdutyRoutingKey`: secret changed" in text
    assert "`slackWebhookUrl`: secret set" in text
    assert "new stack file `Pulumi.prod.yaml`" in text
    for leak in ("CIPHERTEXT", "PLAINTEXTLEAK", "hooks.slack"):
        assert leak not in text


DASHBOARD = {
    "uid": "scheduler-overview", "title": "Scheduler Overview", "id": 7, "version": 3,
    "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                             "current": {"text": "Prometheus"}}]},
    "panels": [
        {"id": 1, "title": "System Utilization", "type": "gauge", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
         "fieldConfig": {"defaults": {"unit": "percentunit", "thresholds": {"mode": "absolute", "steps": [
             {"color": "green", "value": None}, {"color": "red", "value": 0.9}]}}},
         "targets": [{"refId": "A", "expr": "max(scheduler_utilization_ratio)"}]},
        {"id": 2, "title": "Defense Level", "type": "stat", "gridPos": {"x": 6, "y": 0, "w": 6, "h": 4},
         "targets": [{"refId": "A", "expr": "max(resilience_defense_level)"}]},
        {"id": 100, "title": "Trends", "type": "row", "collapsed": True, "gridPos": {"x": 0, "y": 4, "w": 24, "h": 1},
         "panels": [{"id": 7, "title": "Utilization Over Time", "type": "timeseries",
                     "gridPos": {"x": 0, "y": 5, "w": 24, "h": 8},
                     "targets": [{"refId": "A", "expr": "scheduler_utilization_ratio"}]}]},
    ],
}


def test_dashboard_changes_by_panel(repo):
    repo.write("dashboards/scheduler_overview.json", json.dumps(DASHBOARD, indent=2))
    repo.commit("dashboard")
    changed = json.loads(json.dumps(DASHBOARD))
    changed.update(version=9, refresh="1m", time={"from": "now-24h", "to": "now"})
    changed["templating"]["list"][0]["current"] = {"text": "Other"}          # a user's click, not design
    changed["templating"]["list"].append({"name": "queue", "type": "query", "query": "label_values(queue_name)"})
    utilization = changed["panels"][0]
    utilization["fieldConfig"]["defaults"]["unit"] = "percent"
    utilization["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] = 0.85
    utilization["targets"][0]["expr"] = "max(scheduler_utilization_ratio{job=\"scheduler-backend\"})"
    utilization["options"] = {"showThresholdMarkers": True}
    del changed["panels"][1]
    nested = changed["panels"][1]["panels"][0]
    nested["gridPos"]["h"] = 10
    changed["panels"].append({"id": 3, "title": "Schedule Coverage", "type": "stat",
                              "gridPos": {"x": 12, "y": 0, "w": 6, "h": 4}, "targets": []})
    repo.write("dashboards/scheduler_overview.json", json.dumps(changed, indent=2))
    repo.commit("rework dashboard")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "- **Scheduler Overview** (changed)" in text
    assert "refresh: `30s` → `1m`" in text
    assert "time range: `now-6h to now` → `now-24h to now`" in text
    assert "variable `$queue` added: `label_values(queue_name)`" in text
    assert "variable `$datasource`" not in text
    assert "panel 1 **System Utilization**: unit: `percentunit` → `percent`; " \
           "thresholds: `absolute: green, red≥0.9` → `absolute: green, red≥0.85`; " \
           "query A: `max(scheduler_utilization_ratio)` → " \
           "`max(scheduler_utilization_ratio{job=\"scheduler-backend\"})`; " \
           "other settings changed: `options`" in text
    assert "panel 2 **Defense Level** removed" in text
    assert "panel 3 **Schedule Coverage** added (stat, at x=12 y=0 w=6 h=4)" in text
    assert "panel 7 **Utilization Over Time**: moved/resized: `x=0 y=5 w=24 h=8` → `x=0 y=5 w=24 h=10`" in text
    assert "version" not in text


def test_dashboard_save_noise_is_no_change(repo):
    repo.write("dashboards/scheduler_overview.json", json.dumps(DASHBOARD, indent=2))
    repo.commit("dashboard")
    resaved = {**DASHBOARD, "id": 42, "version": 10, "iteration": 1700000000000}
    repo.write("dashboards/scheduler_overview.json", json.dumps(resaved, indent=4, sort_keys=True))
    repo.commit("saved again from the UI")
    assert "No monitoring changes." in repo.report_text("HEAD~1", "HEAD")


def test_stable_dashboard_json_is_independent_of_key_order_and_save_counters():
    first = stable_dashboard_json(DASHBOARD)
    reordered = dict(reversed(list({**DASHBOARD, "version": 99, "iteration": 5, "id": None}.items())))
    assert stable_dashboard_json(reordered) == first
    parsed = json.loads(first)
    assert "id" not in parsed and "version" not in parsed
    assert [p["id"] for p in parsed["panels"]] == [1, 2, 100], "panel ids are part of the design"
    assert first.splitlines()[1] == '  "panels": [', "keys are sorted and indented for line diffs"


def test_unreadable_files_are_reported(repo):
    repo.write("rules/broken.yml", "groups: [\n")
    repo.write("dashboards/broken.json", "{")
    repo.commit("broken")
    text = repo.report_text("HEAD~1", "HEAD")
    assert "rules/broken.yml is not valid YAML" in text
    assert "dashboards/broken.json is not valid JSON" in text


def test_a_long_report_is_cut_to_fit_a_comment(repo):
    many = "groups:\n  - name: scheduler_tasks\n    rules:\n" + "".join(
        f"      - alert: Alert{i}\n        expr: x{i} > {i}\n        labels: {{severity: warning}}\n"
        for i in range(400))
    repo.write("rules/scheduler_tasks.yml", many)
    repo.commit("many alerts")
    full = repo.report_text("HEAD~1", "HEAD")
    assert len(full) > 20000 and "Alert399" in full
    cut = repo.report_text("HEAD~1", "HEAD", "--max-chars", "20000")
    assert len(cut) <= 20000
    assert cut.rstrip().endswith("for all of it._")
    assert full.startswith(cut.split("\n\n_The report is longer")[0])
