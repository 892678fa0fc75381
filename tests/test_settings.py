"""Settings: defaults, and bad input stopped before any resource, naming the key."""
from __future__ import annotations

import pytest
import yaml

from components import settings as s
from components.settings import SETTINGS, SettingsError, parse

ALL_SECRETS = frozenset(x.key for x in SETTINGS if x.secret)


def test_defaults_are_valid_and_typed():
    settings = parse("dev", {})
    assert settings.platform == "docker"
    assert settings.environment == "dev"
    assert (settings.prometheus_port, settings.alertmanager_port, settings.grafana_port) == (9090, 9093, 3001)
    assert settings.backend_job_name == "scheduler-backend"
    assert settings.backend_metrics_path == "/metrics"
    assert settings.celery_queues == s.SCHEDULER_QUEUES
    assert settings.celery_runtime_buckets[-1] == 600
    assert not (settings.receivers.pagerduty or settings.receivers.slack or settings.receivers.email)


def test_every_image_is_pinned_to_a_version():
    settings = parse("dev", {})
    for image in (settings.prometheus_image, settings.alertmanager_image, settings.grafana_image,
                  settings.celery_exporter_image):
        tag = image.rsplit(":", 1)[1]
        assert tag[0].isdigit() or tag.startswith("v"), image


def test_every_setting_says_when_to_change_it():
    for setting in SETTINGS:
        assert len(setting.doc) > 20, setting.key


def test_pulumi_yaml_declares_exactly_the_settings_with_their_types():
    project = yaml.safe_load((s.PROJECT_DIR / "Pulumi.yaml").read_text())
    declared = project["config"]
    # Regenerate with `python -m components.settings` after changing SETTINGS.
    assert declared == s.config_schema()
    assert not any("default" in entry for entry in declared.values()), "defaults live in settings.py only"
    assert project["backend"]["url"].startswith("file://./")
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


def test_stack_files_parse():
    dev, _ = s.from_stack_file("dev")
    assert dev.platform == "docker"
    prod, prod_secrets = s.from_stack_file("prod")
    assert prod.platform == "kubernetes"
    assert prod.receivers.pagerduty and prod.receivers.slack and prod.receivers.email
    # Rendering shows placeholders, never values.
    assert prod_secrets.pagerduty_routing_key == "<secret pagerdutyRoutingKey>"


# Each case: raw config, the key the error must name, and a word of what is allowed.
BAD_INPUT = [
    ({"platform": "swarm"}, "platform", "docker, kubernetes"),
    ({"scrapeInterval": "15 seconds"}, "scrapeInterval", "Prometheus duration"),
    ({"scrapeInterval": "0s"}, "scrapeInterval", "greater than zero"),
    ({"evaluationInterval": "1x"}, "evaluationInterval", "Prometheus duration"),
    ({"retentionTime": "-5d"}, "retentionTime", "Prometheus duration"),
    ({"retentionSize": "-10GB"}, "retentionSize", "positive size"),
    ({"retentionSize": "10 gigs"}, "retentionSize", "unit"),
    ({"prometheusPort": "70000"}, "prometheusPort", "1 to 65535"),
    ({"grafanaPort": "0"}, "grafanaPort", "1 to 65535"),
    ({"alertmanagerPort": "http"}, "alertmanagerPort", "1 to 65535"),
    ({"grafanaPort": "9090"}, "grafanaPort", "not already used"),
    ({"prometheusImage": "prom/prometheus:latest"}, "prometheusImage", "pinned"),
    ({"grafanaImage": "grafana/grafana"}, "grafanaImage", "pinned"),
    ({"backendTarget": "backend"}, "backendTarget", "host:port"),
    ({"backendTarget": "backend:99999"}, "backendTarget", "1 to 65535"),
    ({"backendMetricsPath": "metrics"}, "backendMetricsPath", "starting with /"),
    ({"grafanaUrl": "grafana.local"}, "grafanaUrl", "http://"),
    ({"runbookBaseUrl": "ftp://docs"}, "runbookBaseUrl", "https://"),
    ({"celeryQueues": "[]"}, "celeryQueues", "at least one"),
    ({"celeryWorkerTimeout": "5"}, "celeryWorkerTimeout", "10 to 3600"),
    ({"celeryRuntimeBuckets": "0.1,1,10,60"}, "celeryRuntimeBuckets", "600"),
    ({"celeryRuntimeBuckets": "1,0.5,10,60,600"}, "celeryRuntimeBuckets", "increasing"),
    ({"celeryRuntimeBuckets": "1,5,30,120,600"}, "celeryRuntimeBuckets", "10"),
    ({"celeryWorkerTimeout": "600", "celeryPurgeOfflineWorkerMetrics": "300"},
     "celeryPurgeOfflineWorkerMetrics", "more seconds than"),
    ({"pagerdutyEnabled": "maybe"}, "pagerdutyEnabled", "true or false"),
    ({"pagerdutyEnabled": "true"}, "pagerdutyRoutingKey", "pulumi config set --secret"),
    ({"slackEnabled": "true"}, "slackWebhookUrl", "pulumi config set --secret"),
    ({"emailEnabled": "true"}, "emailTo", "required because emailEnabled"),
    ({"emailEnabled": "true", "emailTo": '["not-an-address"]', "emailFrom": "a@b.example",
      "smtpSmarthost": "smtp.example:587"}, "emailTo", "e-mail addresses"),
    ({"slackChannel": "alerts"}, "slackChannel", "starting with #"),
    ({"namespace": "Monitoring_NS"}, "namespace", "DNS label"),
    ({"prometheusReplicas": "9"}, "prometheusReplicas", "1 to 5"),
    ({"prometheusStorageSize": "10GB"}, "prometheusStorageSize", "Gi"),
    ({"platform": "kubernetes", "grafanaUrl": "https://grafana.example", "retentionSize": "20GB",
      "prometheusStorageSize": "10Gi"}, "retentionSize", "90% of prometheusStorageSize"),
    ({"platform": "kubernetes"}, "grafanaUrl", "the URL at which Grafana is reached"),
    ({"retentonTime": "15d"}, "retentonTime", "not a setting"),
    ({"pagerdutyRoutingKey": "abc"}, "pagerdutyRoutingKey", "must be set as a secret"),
]


@pytest.mark.parametrize("raw,key,allowed", BAD_INPUT, ids=[f"{c[1]}-{i}" for i, c in enumerate(BAD_INPUT)])
def test_bad_input_is_refused_with_the_key_and_what_is_allowed(raw, key, allowed):
    with pytest.raises(SettingsError) as caught:
        parse("dev", raw)
    message = str(caught.value)
    assert f"scheduler-monitoring:{key}" in message
    assert allowed in message
    assert "Pulumi.dev.yaml" in message


def test_all_errors_are_reported_at_once():
    with pytest.raises(SettingsError) as caught:
        parse("dev", {"platform": "swarm", "prometheusPort": "0", "scrapeInterval": "soon"})
    message = str(caught.value)
    for key in ("platform", "prometheusPort", "scrapeInterval"):
        assert f"scheduler-monitoring:{key}" in message


def test_error_names_the_line_in_the_stack_file(tmp_path, monkeypatch):
    (tmp_path / "Pulumi.qa.yaml").write_text(
        "config:\n  scheduler-monitoring:platform: docker\n  scheduler-monitoring:retentionSize: lots\n")
    monkeypatch.setattr(s, "PROJECT_DIR", tmp_path)
    with pytest.raises(SettingsError) as caught:
        s.from_stack_file("qa")
    assert "Pulumi.qa.yaml:3: scheduler-monitoring:retentionSize" in str(caught.value)


def test_secret_values_never_appear_in_errors():
    with pytest.raises(SettingsError) as caught:
        parse("dev", {"pagerdutyRoutingKey": "R0UTING-KEY-VALUE"})
    assert "R0UTING-KEY-VALUE" not in str(caught.value)


def test_receivers_on_with_their_secrets_are_accepted():
    settings = parse("prod", {
        "pagerdutyEnabled": "true", "slackEnabled": "true", "emailEnabled": "true",
        "emailTo": '["oncall@hospital.example"]', "emailFrom": "am@hospital.example",
        "smtpSmarthost": "smtp.hospital.example:587", "smtpUsername": "am",
    }, ALL_SECRETS)
    assert settings.receivers.pagerduty and settings.receivers.slack and settings.receivers.email
    assert settings.receivers.email_to == ("oncall@hospital.example",)


def test_missing_stack_file_is_a_clear_error():
    with pytest.raises(SettingsError, match="Pulumi.staging.yaml: no such stack file"):
        s.from_stack_file("staging")


def test_readme_lists_every_setting_with_its_default():
    # Regenerate with `python -m components.settings` after changing SETTINGS.
    assert s.settings_table() in (s.PROJECT_DIR / "README.md").read_text()
