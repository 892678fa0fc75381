"""The whole program for the dev stack under Pulumi mocks: wiring, volumes, ports, secrets."""
from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest
import yaml

from components import constants as c
from components.renderers.dashboards import SLO_DASHBOARDS_DIR, all_dashboard_files, dashboard_files
from components.renderers.rules import rule_files
from tests.support.pulumi_mocks import run_program, strings_outside_secrets
from tests.support.stack_config import TEST_SECRETS as SECRETS

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
DASHBOARD = "grafana:oss/dashboard:Dashboard"
FOLDER = "grafana:oss/folder:Folder"
DATASOURCE = "grafana:oss/dataSource:DataSource"

RECEIVERS_ON = {
    "platform": "docker", "pagerdutyEnabled": "true", "slackEnabled": "true", "emailEnabled": "true",
    "emailTo": '["oncall@hospital.example"]', "emailFrom": "am@hospital.example",
    "smtpSmarthost": "smtp.hospital.example:587", "smtpUsername": "am@hospital.example",
}


@pytest.fixture(scope="module")
def dev():
    return run_program("dev", {"platform": "docker"})


@pytest.fixture(scope="module")
def dev_with_secrets():
    return run_program("dev", {**RECEIVERS_ON, **SECRETS}, secret_keys=tuple(SECRETS))


def containers(run) -> dict:
    return {d.name: d for d in run.of_type(CONTAINER)}


def test_one_container_per_service(dev):
    assert set(containers(dev)) == {c.PROMETHEUS, c.ALERTMANAGER, c.GRAFANA, c.CELERY_EXPORTER}


def test_every_resource_sits_under_a_component(dev):
    for declared in dev.declared:
        if declared.type in ("pulumi:pulumi:Stack", "docker:index/network:Network"):
            continue
        assert declared.parent, f"{declared.type} {declared.name} has no parent"
        assert "::pulumi:pulumi:Stack::" not in declared.parent or declared.type.startswith("scheduler-monitoring"), \
            f"{declared.type} {declared.name} is not inside a component"


def test_datasource_url_reaches_the_prometheus_service(dev):
    (datasource,) = dev.of_type(DATASOURCE)
    url = urlparse(datasource.inputs["url"])
    prometheus = containers(dev)[c.PROMETHEUS]
    aliases = prometheus.inputs["networksAdvanced"][0]["aliases"]
    assert url.hostname in aliases, f"datasource host {url.hostname} is not an alias of Prometheus ({aliases})"
    assert url.port == c.PROMETHEUS_PORT
    assert datasource.inputs["uid"] == c.DATASOURCE_UID and datasource.inputs["type"] == "prometheus"
    networks = {n["name"] for d in containers(dev).values() for n in d.inputs["networksAdvanced"]}
    assert len(networks) == 1, "Grafana and Prometheus must share one network"


def test_every_dashboard_file_is_deployed_in_its_folder(dev):
    folders = {folder.inputs["title"]: folder for folder in dev.of_type(FOLDER)}
    assert set(folders) == {c.FOLDER_TITLE, c.SLO_FOLDER_TITLE}
    top, slos = folders[c.FOLDER_TITLE], folders[c.SLO_FOLDER_TITLE]
    assert "parentFolderUid" not in top.inputs
    assert slos.inputs["parentFolderUid"] == top.inputs["uid"], "the SLOs folder is nested in the main one"
    dashboards = dev.of_type(DASHBOARD)
    expected = {c.FOLDER_UID: dashboard_files(), c.SLO_FOLDER_UID: dashboard_files(SLO_DASHBOARDS_DIR)}
    # The main folder keeps exactly its three dashboards; the SLO dashboard sits below it.
    assert len(expected[c.FOLDER_UID]) == 3 and len(expected[c.SLO_FOLDER_UID]) >= 1
    assert len(dashboards) == sum(len(files) for files in expected.values())
    for folder_uid, files in expected.items():
        deployed = {json.loads(d.inputs["configJson"])["uid"] for d in dashboards if d.inputs["folder"] == folder_uid}
        assert deployed == {json.loads(f.read_text())["uid"] for f in files}, folder_uid
    for dashboard in dashboards:
        assert dashboard.inputs["overwrite"] is True
        assert dashboard.hide_diffs == ["configJson"], "the change report, not a JSON wall, shows dashboard diffs"
        model = json.loads(dashboard.inputs["configJson"])
        assert "id" not in model and "version" not in model, "volatile fields make every preview noisy"
        assert dashboard.inputs["configJson"] == json.dumps(model, sort_keys=True, indent=2,
                                                            ensure_ascii=False) + "\n"


def test_grafana_content_waits_for_a_healthy_grafana(dev):
    grafana = containers(dev)[c.GRAFANA]
    assert grafana.inputs["wait"] is True and grafana.inputs["healthcheck"]["tests"], "Grafana must report health"
    (provider,) = [d for d in dev.declared if d.type == "pulumi:providers:grafana"]
    assert grafana.urn in provider.dependencies, "the Grafana provider must wait for the Grafana container"
    for content in dev.of_type(DASHBOARD) + dev.of_type(FOLDER) + dev.of_type(DATASOURCE):
        assert content.provider.startswith(provider.urn), f"{content.name} does not use the Grafana provider"


def test_every_rule_file_is_deployed_as_rendered(dev):
    uploads = {u["file"]: u["content"] for u in containers(dev)[c.PROMETHEUS].inputs["uploads"]}
    files = rule_files()
    assert files, "rules/ holds no rule file"
    for path in files:
        target = f"{c.PROMETHEUS_RULES_DIR}/{path.name}"
        assert target in uploads, f"{path.name} is not deployed"
        assert "${RUNBOOK_BASE_URL}" not in uploads[target] and "${GRAFANA_URL}" not in uploads[target]
    config = yaml.safe_load(uploads[f"{c.PROMETHEUS_CONFIG_DIR}/prometheus.yml"])
    assert config["rule_files"] == [f"{c.PROMETHEUS_RULES_DIR}/*.yml"]


def test_data_volumes_are_kept_and_mounted(dev):
    volumes = {d.name: d for d in dev.of_type(VOLUME)}
    assert set(volumes) == {f"{c.PROMETHEUS}-data", f"{c.ALERTMANAGER}-data", f"{c.GRAFANA}-data"}
    for volume in volumes.values():
        assert volume.retain_on_delete, f"{volume.name} would be deleted by pulumi destroy"
    for service, path in ((c.PROMETHEUS, c.PROMETHEUS_DATA_DIR), (c.ALERTMANAGER, c.ALERTMANAGER_DATA_DIR),
                          (c.GRAFANA, c.GRAFANA_DATA_DIR)):
        mounts = containers(dev)[service].inputs["volumes"]
        assert [m["containerPath"] for m in mounts] == [path]
        assert mounts[0]["volumeName"] == volumes[f"{service}-data"].inputs["name"]


def test_destroying_data_is_opt_in():
    run = run_program("dev", {"platform": "docker", "keepDataOnDestroy": "false"})
    assert not any(v.retain_on_delete for v in run.of_type(VOLUME))


def test_ports_are_bound_to_loopback_only(dev):
    published = {}
    for name, container in containers(dev).items():
        for port in container.inputs.get("ports", []):
            assert port["ip"] == "127.0.0.1", f"{name} publishes {port} beyond loopback"
            published[name] = int(port["external"])
    assert published == {c.PROMETHEUS: 9090, c.ALERTMANAGER: 9093, c.GRAFANA: 3001}


def test_containers_are_pinned_healthy_restartable_and_replaced_cleanly(dev):
    images = {d.inputs["name"] for d in dev.of_type("docker:index/remoteImage:RemoteImage")}
    assert all(":" in image and not image.endswith(":latest") for image in images)
    for name, container in containers(dev).items():
        assert container.inputs["restart"] == "unless-stopped", name
        assert container.inputs["healthcheck"]["tests"][0] == "CMD", name
        assert container.delete_before_replace, f"{name} has a fixed name: it must be deleted before replacement"
        assert container.inputs["user"] != "0", f"{name} runs as root"


def test_exporter_gets_the_broker_only_as_secret_env(dev_with_secrets):
    exporter = containers(dev_with_secrets)[c.CELERY_EXPORTER]
    command = " ".join(exporter.inputs["command"])
    assert "redis://" not in command and "--broker-url" not in command
    assert f"CE_BROKER_URL={SECRETS['celeryBrokerUrl']}" in exporter.inputs["envs"]
    assert "--queues=default,resilience,notifications,metrics,exports,security,maintenance" in command


def test_no_secret_value_appears_outside_a_secret(dev_with_secrets):
    for declared in dev_with_secrets.declared:
        for text in strings_outside_secrets(declared.raw_inputs):
            for key, value in SECRETS.items():
                assert value not in text, f"{key} leaks in clear into {declared.type} {declared.name}"
    for name, exported in dev_with_secrets.exports.items():
        if not exported.secret:
            for key, value in SECRETS.items():
                assert value not in json.dumps(exported.value), f"{key} leaks into export {name}"


def test_the_lone_alertmanager_keeps_silences_and_gossips_with_nobody(dev):
    command = containers(dev)[c.ALERTMANAGER].inputs["command"]
    assert "--data.retention=168h" in command
    assert "--cluster.listen-address=" in command
    assert not any(arg.startswith("--cluster.peer") for arg in command)


def test_receiver_secrets_reach_alertmanager_as_files(dev_with_secrets):
    alertmanager = containers(dev_with_secrets)[c.ALERTMANAGER]
    uploads = {u["file"]: u for u in alertmanager.inputs["uploads"]}
    for file_name, key in ((c.PAGERDUTY_ROUTING_KEY_FILE, "pagerdutyRoutingKey"),
                           (c.PAGERDUTY_CLINICAL_ROUTING_KEY_FILE, "pagerdutyClinicalRoutingKey"),
                           (c.SLACK_WEBHOOK_URL_FILE, "slackWebhookUrl"), (c.SMTP_PASSWORD_FILE, "smtpPassword")):
        upload = uploads[f"{c.ALERTMANAGER_SECRETS_DIR}/{file_name}"]
        assert upload["content"] == SECRETS[key]
        assert upload["permissions"] == "0400"
    config = uploads[f"{c.ALERTMANAGER_CONFIG_DIR}/alertmanager.yml"]["content"]
    for value in SECRETS.values():
        assert value not in config


def test_grafana_admin_password_is_generated_and_exported_as_secret(dev):
    exported = dev.exports["grafanaAdminPassword"]
    assert exported.secret and exported.value
    assert any(d.type == "random:index/randomPassword:RandomPassword" for d in dev.declared)


def test_given_grafana_password_is_used_instead_of_a_generated_one(dev_with_secrets):
    assert not any(d.type == "random:index/randomPassword:RandomPassword" for d in dev_with_secrets.declared)
    assert dev_with_secrets.exports["grafanaAdminPassword"].value == SECRETS["grafanaAdminPassword"]


def test_stack_exports_the_three_uis_and_each_dashboard(dev):
    assert dev.exports["prometheusUrl"].value == "http://127.0.0.1:9090"
    assert dev.exports["alertmanagerUrl"].value == "http://127.0.0.1:9093"
    assert dev.exports["grafanaUrl"].value == "http://localhost:3001"
    assert set(dev.exports["dashboardUrls"].value) == {f.stem.replace("_", "-") for f in all_dashboard_files()}


def test_bad_settings_stop_the_program_before_any_resource():
    with pytest.raises(Exception) as caught:
        run_program("dev", {"platform": "docker", "retentionSize": "-1GB"})
    assert "scheduler-monitoring:retentionSize" in str(caught.value)
