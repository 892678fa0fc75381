"""Settings: defaults, and bad input stopped before any resource, naming the key."""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from components import settings as s
from components.settings import SETTINGS, SettingsError, parse

ALL_SECRETS = dict.fromkeys(x.key for x in SETTINGS if x.secret)
DOCKER = {"platform": "docker"}


def test_defaults_are_valid_and_typed():
    settings = parse("dev", DOCKER)
    assert settings.platform == "docker"
    assert settings.environment == "dev"
    assert (settings.prometheus_port, settings.alertmanager_port, settings.grafana_port) == (9090, 9093, 3001)
    assert settings.backend_metrics_path == "/metrics"
    assert settings.celery_queues == s.SCHEDULER_QUEUES
    assert settings.celery_runtime_buckets[-1] == 600
    assert not (settings.receivers.pagerduty or settings.receivers.slack or settings.receivers.email)


def test_every_image_is_pinned_to_a_version():
    settings = parse("dev", DOCKER)
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


# Bad input of every kind (stack files, settings, secrets, rules, dashboards) is
# tabulated in tests/test_bad_input.py.


def test_receivers_on_with_their_secrets_are_accepted():
    settings = parse("prod", {
        "platform": "kubernetes", "kubeContext": "scheduler-test", "grafanaUrl": "https://grafana.hospital.example",
        "backendTarget": "scheduler-backend.scheduler.svc:8000",
        "pagerdutyEnabled": "true", "slackEnabled": "true", "emailEnabled": "true",
        "emailTo": '["oncall@hospital.example"]', "emailFrom": "am@hospital.example",
        "smtpSmarthost": "smtp.hospital.example:587", "smtpUsername": "am",
    }, ALL_SECRETS)
    assert settings.receivers.pagerduty and settings.receivers.slack and settings.receivers.email
    assert settings.receivers.email_to == ("oncall@hospital.example",)


def test_settings_and_secrets_have_one_field_per_setting():
    fields = {f.name for f in dataclasses.fields(s.Settings)}
    assert fields == {"stack", "secrets_set"} | {x.field for x in SETTINGS if not x.secret}
    assert {f.name for f in dataclasses.fields(s.Secrets)} == {x.field for x in SETTINGS if x.secret}


def test_every_setting_is_validated_by_its_parser_and_its_default_passes():
    for setting in SETTINGS:
        if setting.default is not None:
            setting.parse(setting.default)


def test_a_kubernetes_stack_requires_a_heartbeat_unless_it_says_none():
    base = {"platform": "kubernetes", "kubeContext": "scheduler-test", "grafanaUrl": "https://grafana.hospital.example",
            "backendTarget": "scheduler-backend.scheduler.svc:8000"}
    with pytest.raises(SettingsError, match="watchdogWebhookUrl is required because the Watchdog"):
        parse("prod", base, {"celeryBrokerUrl": None})
    settings = parse("prod", {**base, "watchdogHeartbeat": "none"}, {"celeryBrokerUrl": None})
    assert not settings.receivers.watchdog
    settings = parse("prod", base, {"celeryBrokerUrl": None, "watchdogWebhookUrl": None})
    assert settings.receivers.watchdog


def test_the_committed_prod_stack_asks_for_the_heartbeat_and_renders_its_receiver():
    prod, secrets = s.from_stack_file("prod")
    assert "watchdogHeartbeat" not in s.read_stack_file("prod").values, "prod must not opt out"
    assert prod.receivers.watchdog and secrets.watchdog_webhook_url == "<secret watchdogWebhookUrl>"
    assert "watchdogWebhookUrl" in (s.PROJECT_DIR / "Pulumi.prod.yaml").read_text()


def test_missing_stack_file_is_a_clear_error():
    with pytest.raises(SettingsError, match="Pulumi.staging.yaml: no such stack file"):
        s.from_stack_file("staging")


def test_readme_lists_every_setting_with_its_default():
    # Regenerate with `python -m components.settings` after changing SETTINGS.
    assert s.settings_table() in (s.PROJECT_DIR / "README.md").read_text()
