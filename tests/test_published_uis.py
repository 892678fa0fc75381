"""Prometheus and Alertmanager published behind the same sign-in as Grafana (prometheusIngress, alertmanagerIngress)."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from components import constants as c
from components.platform import kubernetes as kp
from components.render import render_stack
from components.renderers.auth_proxy import published_services
from components.settings import PROJECT, SETTINGS_BY_KEY, parse
from tests.support import pulumi_mocks
from tests.support.kubernetes_objects import (
    DEPLOYMENT,
    INGRESS,
    SECRET,
    Endpoint,
    NetworkModel,
    autonaming,
    kubernetes_objects,
    manifest,
    schema_errors,
)
from tests.support.stack_config import TEST_SECRETS, stack_config

SSO = {
    "oidcEnabled": "true", "oidcIssuerUrl": "https://sso.hospital.example/realms/staff",
    "oidcAuthUrl": "https://sso.hospital.example/realms/staff/protocol/openid-connect/auth",
    "oidcTokenUrl": "https://sso.hospital.example/realms/staff/protocol/openid-connect/token",
    "oidcUserinfoUrl": "https://sso.hospital.example/realms/staff/protocol/openid-connect/userinfo",
    "oidcClientId": "scheduler-monitoring", "oidcAdminGroups": '["sre-leads"]', "oidcEditorGroups": '["sre"]',
    "oidcViewerGroups": '["oncall-clinical"]',
    "prometheusIngress": "true", "prometheusUrl": "https://prometheus.scheduler.hospital.example",
    "alertmanagerIngress": "true", "alertmanagerUrl": "https://alertmanager.scheduler.hospital.example",
}
CLIENT_SECRET = "OIDC-CLIENT-SECRET-5e1d"


@pytest.fixture(scope="module")
def published():
    config, secret_keys = stack_config("prod")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pulumi_mocks.CapturingMocks, "new_resource", autonaming(pulumi_mocks.CapturingMocks.new_resource))
        return pulumi_mocks.run_program("prod", {**config, **SSO, "oidcClientSecret": CLIENT_SECRET},
                                        (*secret_keys, "oidcClientSecret"))


def _settings(**overrides):
    config, _ = stack_config("prod", with_secrets=False)
    secrets = dict.fromkeys((*TEST_SECRETS, "oidcClientSecret"))
    return parse("prod", {**config, **SSO, **overrides}, secrets)


def pod(name: str) -> Endpoint:
    return Endpoint(namespace="monitoring", labels={kp.NAME_LABEL: name, kp.PART_OF_LABEL: PROJECT})


CONTROLLER = Endpoint(namespace="ingress-nginx", labels={"app": "controller"})


def test_each_published_ui_has_its_ingress_leading_to_its_sign_in_proxy(published):
    ingresses = {m["spec"]["rules"][0]["host"]: m for m in map(manifest, published.of_type(INGRESS))}
    assert set(ingresses) == {"grafana.scheduler.hospital.example", "prometheus.scheduler.hospital.example",
                              "alertmanager.scheduler.hospital.example"}
    for host, proxy in (("prometheus", c.PROMETHEUS_AUTH), ("alertmanager", c.ALERTMANAGER_AUTH)):
        backend = ingresses[f"{host}.scheduler.hospital.example"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]
        assert backend["service"] == {"name": f"{proxy}-lb", "port": {"number": c.AUTH_PROXY_PORT}}
    deployments = {d.name: manifest(d) for d in published.of_type(DEPLOYMENT)}
    assert deployments[c.PROMETHEUS_AUTH]["spec"]["replicas"] == 2


@pytest.mark.parametrize("source, target, port, allowed", [
    (CONTROLLER, pod(c.PROMETHEUS_AUTH), c.AUTH_PROXY_PORT, True),
    (CONTROLLER, pod(c.ALERTMANAGER_AUTH), c.AUTH_PROXY_PORT, True),
    (pod(c.PROMETHEUS_AUTH), pod(c.PROMETHEUS), c.PROMETHEUS_PORT, True),
    (pod(c.ALERTMANAGER_AUTH), pod(c.ALERTMANAGER), c.ALERTMANAGER_PORT, True),
    (pod(c.PROMETHEUS_AUTH), Endpoint(ip="198.51.100.20"), 443, True),          # the provider
    # Only through the sign-in: never straight to the servers, nor across.
    (CONTROLLER, pod(c.PROMETHEUS), c.PROMETHEUS_PORT, False),
    (CONTROLLER, pod(c.ALERTMANAGER), c.ALERTMANAGER_PORT, False),
    (pod(c.PROMETHEUS_AUTH), pod(c.ALERTMANAGER), c.ALERTMANAGER_PORT, False),
    (pod(c.ALERTMANAGER_AUTH), pod(c.PROMETHEUS), c.PROMETHEUS_PORT, False),
    (pod(c.GRAFANA), pod(c.PROMETHEUS_AUTH), c.AUTH_PROXY_PORT, False),
])
def test_people_reach_prometheus_and_alertmanager_only_through_the_sign_in(published, source, target, port, allowed):
    assert NetworkModel(published.declared, {}).allows(source, target, port) is allowed


def test_every_object_passes_the_strict_schema_and_the_client_secret_stays_secret(published):
    assert schema_errors(published.declared, "1.32.0") == []
    stored = "".join(repr(d.inputs) for d in published.of_type(SECRET))
    assert CLIENT_SECRET in stored
    for declared in kubernetes_objects(published.declared):
        if declared.type != SECRET:
            assert CLIENT_SECRET not in repr(declared.inputs), f"{declared.type} {declared.name}"
    assert all(TEST_SECRETS[key] not in json.dumps(render_stack(_settings()).files) for key in TEST_SECRETS)


def test_alertmanager_lets_in_only_those_who_may_silence_and_prometheus_every_dashboard_reader():
    by_service = {p.service: p.groups for p in published_services(_settings())}
    assert by_service == {c.PROMETHEUS: ("sre-leads", "sre", "oncall-clinical"),
                          c.ALERTMANAGER: ("sre-leads", "sre")}
    commands = render_stack(_settings()).commands
    prometheus = commands[c.PROMETHEUS_AUTH].args
    assert "--upstream=http://prometheus-lb.monitoring.svc:9090" in prometheus
    assert "--redirect-url=https://prometheus.scheduler.hospital.example/oauth2/callback" in prometheus
    assert [a for a in commands[c.ALERTMANAGER_AUTH].args if a.startswith("--allowed-group=")] == \
        ["--allowed-group=sre-leads", "--allowed-group=sre"]


def _oauth2_proxy_flags(version: str) -> set[str]:
    """The flags oauth2-proxy defines at `version`, read from its Go module's source."""
    result = subprocess.run(["go", "mod", "download", "-json", f"github.com/oauth2-proxy/oauth2-proxy/v7@{version}"],
                            capture_output=True, text=True, timeout=300, cwd="/tmp")
    assert result.returncode == 0, result.stderr
    source = Path(json.loads(result.stdout)["Dir"]) / "pkg" / "apis" / "options"
    return {m.group(1) for path in source.glob("*.go")
            for m in re.finditer(r'flagSet\.\w+\("([a-z0-9-]+)"', path.read_text())}


def test_the_proxy_runs_only_flags_its_release_defines():
    version = SETTINGS_BY_KEY["authProxyImage"].default.rsplit(":", 1)[1]
    known = _oauth2_proxy_flags(version)
    assert "client-secret-file" in known and len(known) > 50, "the flag definitions were read"
    for args in (render_stack(_settings()).commands[name].args for name in (c.PROMETHEUS_AUTH, c.ALERTMANAGER_AUTH)):
        unknown = {a.split("=", 1)[0].lstrip("-") for a in args} - known
        assert not unknown, f"oauth2-proxy {version} has no flag {sorted(unknown)}"


def test_without_the_settings_nothing_is_published():
    settings = _settings(prometheusIngress="false", alertmanagerIngress="false")
    assert published_services(settings) == []
    assert not {c.PROMETHEUS_AUTH, c.ALERTMANAGER_AUTH} & set(render_stack(settings).commands)
