"""A stack's config as `pulumi up` would pass it, with distinctive test secrets."""
from __future__ import annotations

from typing import Any

import yaml

from components.settings import PROJECT, SETTINGS_BY_KEY, stack_file

# Distinctive values: any of them outside a secret envelope is a leak.
TEST_SECRETS = {
    "celeryBrokerUrl": "redis://:BROKER-PASSWORD-7f3a@redis.scheduler.svc:6379/0",
    "grafanaAdminPassword": "GRAFANA-ADMIN-PASSWORD-91c2",
    "grafanaSecretKey": "GRAFANA-SECRET-KEY-55d0",
    "slackWebhookUrl": "https://hooks.slack.com/services/SLACK-HOOK-SECRET-0b1e",
    "pagerdutyRoutingKey": "PAGERDUTY-ROUTING-KEY-3e8f",
    "pagerdutyClinicalRoutingKey": "PAGERDUTY-CLINICAL-KEY-90b4",
    "smtpPassword": "SMTP-PASSWORD-a4c6",
    "watchdogWebhookUrl": "https://heartbeat.example/WATCHDOG-TOKEN-77aa",
}


def stack_config(stack: str, with_secrets: bool = True) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(config without the project prefix, secret keys) for Pulumi.<stack>.yaml plus test secrets."""
    document = yaml.safe_load(stack_file(stack).read_text()) or {}
    config: dict[str, Any] = {}
    for full_key, value in (document.get("config") or {}).items():
        namespace, _, key = str(full_key).partition(":")
        if namespace == PROJECT and not (isinstance(value, dict) and "secure" in value):
            config[key] = str(value).lower() if isinstance(value, bool) else value
    secrets = dict(TEST_SECRETS) if with_secrets else {}
    for key in secrets:
        assert SETTINGS_BY_KEY[key].secret, key
    config.update(secrets)
    return config, tuple(secrets)
