"""The Kubernetes platform on its own: hand-built workloads placed under Pulumi mocks.

The whole prod program is checked in test_kubernetes_prod.py; here each
behaviour of `KubernetesPlatform` and the topology is pinned with workloads
shaped like the stack's (an HA Prometheus, a 3-peer Alertmanager, Grafana with
secret env, a stateless exporter).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable

import pulumi
import pytest

from components import constants as c
from components.platform import kubernetes as kp
from components.platform.base import File, HttpCheck, Outside, Resources, Workload
from components.platform.topology import POD_NAME_ENV, kubernetes_topology, topology
from components.settings import PROJECT, parse
from tests.support.kubernetes_objects import (
    CONFIGMAP,
    CONTROLLERS,
    DEPLOYMENT,
    NAMESPACE,
    NETWORK_POLICY,
    PDB,
    SECRET,
    SERVICE,
    SERVICE_ACCOUNT,
    STATEFULSET,
    AutonamingMocks,
    Endpoint,
    NetworkModel,
    OptionsRecordingMonitor,
    manifest,
    pod_spec,
    restricted_violations,
    schema_errors,
)
from tests.support.pulumi_mocks import is_secret_envelope, strings_outside_secrets

ADMIN_PASSWORD = "K8S-TEST-ADMIN-PASSWORD-2d9e"
BROKER_URL = "redis://:K8S-TEST-BROKER-PASSWORD-61fb@redis.scheduler.svc:6379/0"
SLACK_URL = "https://hooks.slack.com/services/K8S-TEST-SLACK-c0de"
SECRET_VALUES = (ADMIN_PASSWORD, BROKER_URL, SLACK_URL)

RAW = {
    "platform": "kubernetes", "kubeContext": "scheduler-test",
    "grafanaUrl": "https://grafana.hospital.example",
    "backendTarget": "scheduler-backend.scheduler.svc:8000",
    "remoteWriteUrl": "https://mimir.hospital.example/api/v1/push",
    "slackEnabled": "true",
    "emailEnabled": "true",
    "emailTo": "oncall@hospital.example",
    "emailFrom": "am@hospital.example",
    "smtpSmarthost": "smtp.hospital.example:587",
    "storageClassName": "fast-ssd",
}
SECRETS_SET = dict.fromkeys(("slackWebhookUrl", "celeryBrokerUrl", "watchdogWebhookUrl"))


def prod_settings(**overrides):
    return parse("prod", {**RAW, **overrides}, SECRETS_SET)


@dataclass
class PlatformRun:
    declared: list
    options: dict
    placed: list
    urls: dict          # workload name -> (internal_url, external_url), resolved

    def of_type(self, type_token: str) -> list:
        return [d for d in self.declared if d.type == type_token]

    def one(self, type_token: str, name: str):
        matches = [d for d in self.of_type(type_token) if d.name == name]
        assert len(matches) == 1, f"expected one {type_token} {name!r}, found {len(matches)}"
        return matches[0]

    def options_of(self, declared) -> dict:
        return self.options[declared.urn]


def run_platform(settings, build: Callable) -> PlatformRun:
    """Create a KubernetesPlatform and let `build(platform, parent)` place workloads."""
    mocks = AutonamingMocks()
    mocks.options = {}
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=settings.stack, preview=False,
                             monitor=OptionsRecordingMonitor(mocks))
    placed: list = []
    urls: dict = {}

    def program():
        platform = kp.KubernetesPlatform(settings, "scheduler-monitoring", None)
        parent = pulumi.ComponentResource("test:index:Component", "component")
        placed.extend(build(platform, parent))
        # pulumi.runtime.test awaits the returned Output, so the URLs are
        # resolved (and every registration done) when it returns.
        return pulumi.Output.all(*[pulumi.Output.all(p.internal_url, p.external_url) for p in placed]).apply(
            lambda pairs: urls.update({p.name: tuple(pair) for p, pair in zip(placed, pairs)}))

    pulumi.runtime.test(program)()
    return PlatformRun(mocks.declared, mocks.options, placed, urls)


def prometheus_like(settings, platform, parent) -> Workload:
    rules = tuple(platform.publish(f"rules-{group}", File(f"{c.PROMETHEUS_RULES_DIR}/{group}.yml",
                                                          f"groups: [{{name: {group}, rules: []}}]\n"), parent)
                  for group in ("scheduler_tasks", "scheduler_security"))
    return Workload(
        name=c.PROMETHEUS, image="prom/prometheus:v3.14.0",
        args=(f"--config.file={c.PROMETHEUS_CONFIG_DIR}/prometheus.yml",),
        port=c.PROMETHEUS_PORT,
        config_files=(File(f"{c.PROMETHEUS_CONFIG_DIR}/prometheus.yml", "global: {}\n"), *rules),
        data_path=c.PROMETHEUS_DATA_DIR, data_size="20Gi",
        liveness=HttpCheck("/-/healthy"), readiness=HttpCheck("/-/ready"),
        startup_budget_seconds=900, replicas=settings.prometheus_replicas,
        resources=Resources("250m", "1Gi", "2", "4Gi"),
        addresses=kubernetes_topology(settings).prometheus,
        admits=(c.GRAFANA, c.PROMETHEUS),
        reaches=((c.PROMETHEUS, c.PROMETHEUS_PORT), (c.ALERTMANAGER, c.ALERTMANAGER_PORT),
                 (c.GRAFANA, c.GRAFANA_PORT), (c.CELERY_EXPORTER, c.CELERY_EXPORTER_PORT)),
        reaches_outside=(Outside.host_port(settings.backend_target), Outside.url(settings.remote_write_url)),
    )


def alertmanager_like(settings) -> Workload:
    topology = kubernetes_topology(settings)
    return Workload(
        name=c.ALERTMANAGER, image="prom/alertmanager:v0.35.0",
        args=(f"--config.file={c.ALERTMANAGER_CONFIG_DIR}/alertmanager.yml",
              f"--cluster.listen-address=0.0.0.0:{c.ALERTMANAGER_CLUSTER_PORT}",
              *(f"--cluster.peer={peer}" for peer in topology.alertmanager_peers)),
        port=c.ALERTMANAGER_PORT,
        config_files=(File(f"{c.ALERTMANAGER_CONFIG_DIR}/alertmanager.yml", "route: {}\n"),
                      File(f"{c.ALERTMANAGER_TEMPLATES_DIR}/scheduler.tmpl", "{{ define \"x\" }}{{ end }}")),
        secret_files=(File(f"{c.ALERTMANAGER_SECRETS_DIR}/{c.SLACK_WEBHOOK_URL_FILE}",
                           pulumi.Output.secret(SLACK_URL)),),
        data_path=c.ALERTMANAGER_DATA_DIR,
        liveness=HttpCheck("/-/healthy"), readiness=HttpCheck("/-/ready"),
        startup_budget_seconds=120, replicas=settings.alertmanager_replicas,
        cluster_port=c.ALERTMANAGER_CLUSTER_PORT, cluster_peers=topology.alertmanager_peers,
        addresses=topology.alertmanager, admits=(c.PROMETHEUS,),
        reaches_outside=(Outside(443), Outside.host_port(settings.smtp_smarthost)),
    )


def grafana_like() -> Workload:
    return Workload(
        name=c.GRAFANA, image="grafana/grafana:12.2.1", args=(), port=c.GRAFANA_PORT,
        env={"GF_LOG_MODE": "console"},
        secret_env={"GF_SECURITY_ADMIN_PASSWORD": pulumi.Output.secret(ADMIN_PASSWORD)},
        data_path=c.GRAFANA_DATA_DIR, data_size="2Gi",
        liveness=HttpCheck("/api/health"), readiness=HttpCheck("/api/health"),
        startup_budget_seconds=300, run_as_user=472,
        admits=(c.PROMETHEUS,), reaches=((c.PROMETHEUS, c.PROMETHEUS_PORT),),
        published_url="https://grafana.hospital.example",
    )


def exporter_like() -> Workload:
    return Workload(
        name=c.CELERY_EXPORTER, image="danihodovic/celery-exporter:0.11.2", args=("--port=9808",),
        port=c.CELERY_EXPORTER_PORT,
        # A plain string on purpose: the platform must make it secret itself.
        secret_env={"CE_BROKER_URL": BROKER_URL},
        liveness=HttpCheck("/health"), readiness=HttpCheck("/health"),
        admits=(c.PROMETHEUS,), reaches_outside=(Outside(6379),),
    )


def whole_stack(settings):
    def build(platform, parent):
        return [platform.place(prometheus_like(settings, platform, parent), parent),
                platform.place(alertmanager_like(settings), parent),
                platform.place(grafana_like(), parent),
                platform.place(exporter_like(), parent)]
    return build


@pytest.fixture(scope="module")
def settings():
    return prod_settings()


@pytest.fixture(scope="module")
def run(settings):
    return run_platform(settings, whole_stack(settings))


# --------------------------------------------------------------------------
# Topology.
# --------------------------------------------------------------------------
def test_topology_addresses_every_replica_through_the_headless_service(settings):
    topology = kubernetes_topology(settings)
    assert topology.prometheus == ("prometheus-0.prometheus.monitoring.svc:9090",
                                   "prometheus-1.prometheus.monitoring.svc:9090")
    assert topology.alertmanager == tuple(f"alertmanager-{i}.alertmanager.monitoring.svc:9093" for i in range(3))
    assert topology.alertmanager_peers == tuple(f"alertmanager-{i}.alertmanager.monitoring.svc:9094"
                                                for i in range(3))
    assert topology.grafana == ("grafana.monitoring.svc:3000",)
    assert topology.celery_exporter == ("celery-exporter.monitoring.svc:9808",)
    assert topology.prometheus_url == "http://prometheus-lb.monitoring.svc:9090"
    assert topology.replica_label == "${POD_NAME}"


def test_topology_follows_namespace_and_replica_settings():
    topology = kubernetes_topology(prod_settings(namespace="obs", alertmanagerReplicas="1",
                                                    prometheusReplicas="3"))
    assert topology.alertmanager == ("alertmanager-0.alertmanager.obs.svc:9093",)
    assert topology.alertmanager_peers == (), "a lone Alertmanager has no one to gossip with"
    assert len(topology.prometheus) == 3 and all(".prometheus.obs.svc:" in a for a in topology.prometheus)


def test_topology_is_what_the_dispatcher_returns_on_kubernetes(settings):
    assert topology(settings) == kubernetes_topology(settings)


# --------------------------------------------------------------------------
# Controllers, services, claims.
# --------------------------------------------------------------------------
def test_stateful_workloads_are_statefulsets_and_the_exporter_a_deployment(run):
    kinds = {d.name: d.type for d in run.declared if d.type in CONTROLLERS}
    assert kinds == {c.PROMETHEUS: STATEFULSET, c.ALERTMANAGER: STATEFULSET, c.GRAFANA: STATEFULSET,
                     c.CELERY_EXPORTER: DEPLOYMENT}
    replicas = {d.name: manifest(d)["spec"]["replicas"] for d in run.declared if d.type in CONTROLLERS}
    assert replicas == {c.PROMETHEUS: 2, c.ALERTMANAGER: 3, c.GRAFANA: 1, c.CELERY_EXPORTER: 1}


def test_each_statefulset_is_governed_by_a_headless_service_publishing_starting_pods(run):
    services = {d.name: manifest(d) for d in run.of_type(SERVICE)}
    for statefulset in run.of_type(STATEFULSET):
        body = manifest(statefulset)
        governing = services[body["spec"]["serviceName"]]
        assert governing["spec"]["clusterIP"] == "None", statefulset.name
        assert governing["spec"]["publishNotReadyAddresses"] is True, statefulset.name
        assert governing["spec"]["selector"] == body["spec"]["selector"]["matchLabels"], statefulset.name
        balanced = services[f"{statefulset.name}-lb"]
        assert balanced["spec"]["type"] == "ClusterIP"
        assert balanced["spec"]["selector"] == body["spec"]["selector"]["matchLabels"]


def test_alertmanager_service_carries_gossip_on_tcp_and_udp(run):
    ports = {(p["port"], p["protocol"]) for p in manifest(run.one(SERVICE, c.ALERTMANAGER))["spec"]["ports"]}
    assert {(9093, "TCP"), (9094, "TCP"), (9094, "UDP")} <= ports


def test_claims_use_the_size_and_storage_class_and_are_retained(run):
    statefulset = manifest(run.one(STATEFULSET, c.PROMETHEUS))
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain", "whenScaled": "Retain"}
    (namespace,) = run.of_type(NAMESPACE)
    assert namespace.retain_on_delete, "destroying the namespace would delete the claims in it"


def test_throwaway_stacks_let_claims_go():
    settings = prod_settings(keepDataOnDestroy="false")
    run = run_platform(settings, lambda platform, parent: [platform.place(grafana_like(), parent)])
    statefulset = manifest(run.one(STATEFULSET, c.GRAFANA))
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Delete", "whenScaled": "Delete"}
    (namespace,) = run.of_type(NAMESPACE)
    assert not namespace.retain_on_delete


def test_rollout_waits_longer_than_every_replica_may_take_to_start(run):
    budgets = {c.PROMETHEUS: 900, c.ALERTMANAGER: 120, c.GRAFANA: 300, c.CELERY_EXPORTER: 60}
    for controller in (d for d in run.declared if d.type in CONTROLLERS):
        timeouts = run.options_of(controller)["custom_timeouts"]
        replicas = manifest(controller)["spec"]["replicas"]
        for phase in ("create", "update"):
            assert timeouts[phase].endswith("m"), (controller.name, timeouts)
            assert int(timeouts[phase][:-1]) * 60 > replicas * budgets[controller.name], (controller.name, timeouts)
        startup = pod_spec(manifest(controller))["containers"][0]["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= budgets[controller.name], controller.name


def test_objects_with_fixed_names_are_deleted_before_they_are_replaced(run):
    for declared in run.declared:
        if declared.type in CONTROLLERS + (SERVICE, PDB, NETWORK_POLICY, SERVICE_ACCOUNT):
            assert manifest(declared)["metadata"]["name"] == declared.inputs["metadata"]["name"]
            assert declared.delete_before_replace, f"{declared.type} {declared.name}"


def test_deployment_keeps_the_old_pod_until_the_new_one_is_ready(run):
    strategy = manifest(run.one(DEPLOYMENT, c.CELERY_EXPORTER))["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def test_every_workload_has_a_budget_letting_exactly_one_pod_go(run):
    budgets = {d.name: manifest(d) for d in run.of_type(PDB)}
    for controller in (d for d in run.declared if d.type in CONTROLLERS):
        spec = budgets[controller.name]["spec"]
        assert spec["maxUnavailable"] == 1 and "minAvailable" not in spec, controller.name
        assert spec["selector"] == manifest(controller)["spec"]["selector"], controller.name


def test_internal_and_external_urls_and_readiness(run):
    assert run.urls == {
        c.PROMETHEUS: ("http://prometheus-lb.monitoring.svc:9090",) * 2,
        c.ALERTMANAGER: ("http://alertmanager-lb.monitoring.svc:9093",) * 2,
        c.GRAFANA: ("http://grafana-lb.monitoring.svc:3000", "https://grafana.hospital.example"),
        c.CELERY_EXPORTER: ("http://celery-exporter-lb.monitoring.svc:9808",) * 2,
    }
    for placed in run.placed:
        assert [type(r).__name__ for r in placed.ready] in (["StatefulSet"], ["Deployment"]), placed.name


# --------------------------------------------------------------------------
# Files and secrets.
# --------------------------------------------------------------------------
def test_every_config_file_is_its_own_immutable_replaced_configmap_mounted_at_its_path(run):
    config_maps = {manifest(d)["metadata"]["name"]: d for d in run.of_type(CONFIGMAP)}
    spec = pod_spec(manifest(run.one(STATEFULSET, c.PROMETHEUS)))
    (files,) = [v for v in spec["volumes"] if v["name"] == kp.FILES_VOLUME]
    projected = [s["configMap"] for s in files["projected"]["sources"] if "configMap" in s]
    mounted = {}
    for source in projected:
        declared = config_maps[source["name"]]
        (item,) = source["items"]
        assert set(declared.inputs["data"]) == {item["key"]}
        assert declared.inputs["immutable"] is True
        assert "data" in run.options_of(declared)["replace_on_changes"], declared.name
        mounted["/" + item["path"]] = declared.name
    assert mounted == {
        "/etc/prometheus/prometheus.yml": "prometheus-etc-prometheus-prometheus-yml",
        "/etc/prometheus/rules/scheduler_tasks.yml": "rules-scheduler_tasks",
        "/etc/prometheus/rules/scheduler_security.yml": "rules-scheduler_security",
    }
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    for path in mounted:
        assert mounts[path]["subPath"] == path.lstrip("/") and mounts[path]["readOnly"] is True


def test_published_rule_groups_are_children_of_the_publisher(run):
    component_urn = next(d.urn for d in run.declared if d.type == "test:index:Component")
    for name in ("rules-scheduler_tasks", "rules-scheduler_security"):
        assert run.one(CONFIGMAP, name).parent == component_urn


def test_secret_env_and_files_come_from_a_secret_whose_values_stay_secret(run):
    secrets = {manifest(d)["metadata"]["name"]: d for d in run.of_type(SECRET)}
    grafana = pod_spec(manifest(run.one(STATEFULSET, c.GRAFANA)))["containers"][0]
    (admin,) = [e for e in grafana["env"] if e["name"] == "GF_SECURITY_ADMIN_PASSWORD"]
    reference = admin["valueFrom"]["secretKeyRef"]
    secret = secrets[reference["name"]]
    assert is_secret_envelope(secret.raw_inputs["stringData"]), "stringData must reach state encrypted"
    assert secret.inputs["stringData"][reference["key"]] == ADMIN_PASSWORD
    assert run.options_of(secret)["replace_on_changes"] == ["stringData", "data"]

    exporter = pod_spec(manifest(run.one(DEPLOYMENT, c.CELERY_EXPORTER)))["containers"][0]
    (broker,) = [e for e in exporter["env"] if e["name"] == "CE_BROKER_URL"]
    exporter_secret = secrets[broker["valueFrom"]["secretKeyRef"]["name"]]
    assert is_secret_envelope(exporter_secret.raw_inputs["stringData"]), "a plain value must be made secret"

    alertmanager = pod_spec(manifest(run.one(STATEFULSET, c.ALERTMANAGER)))
    (files,) = [v for v in alertmanager["volumes"] if v["name"] == kp.FILES_VOLUME]
    (slack,) = [s["secret"] for s in files["projected"]["sources"] if "secret" in s]
    assert slack["items"] == [{"key": "etc_alertmanager_secrets_slack_webhook_url",
                               "path": "etc/alertmanager/secrets/slack_webhook_url"}]
    assert secrets[slack["name"]].inputs["stringData"][slack["items"][0]["key"]] == SLACK_URL
    assert files["projected"]["defaultMode"] == 0o440


def test_no_secret_value_outside_a_secret(run):
    for declared in run.declared:
        for text in strings_outside_secrets(declared.raw_inputs):
            for value in SECRET_VALUES:
                assert value not in text, f"{declared.type} {declared.name} holds a secret in clear"


# --------------------------------------------------------------------------
# Pods.
# --------------------------------------------------------------------------
def test_pods_meet_the_restricted_pod_security_standard(run):
    checked = 0
    for controller in (d for d in run.declared if d.type in CONTROLLERS):
        assert restricted_violations(controller.name, pod_spec(manifest(controller))) == []
        checked += 1
    assert checked == 4
    (namespace,) = run.of_type(NAMESPACE)
    assert manifest(namespace)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_only_the_data_volume_and_tmp_are_writable(run):
    for controller in (d for d in run.declared if d.type in CONTROLLERS):
        spec = pod_spec(manifest(controller))
        writable = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"] if not m.get("readOnly")}
        expected = {"/tmp"} | ({manifest(controller)["spec"]["template"]["spec"]["containers"][0]
                               ["volumeMounts"][-1]["mountPath"]} if controller.type == STATEFULSET else set())
        assert writable == expected, controller.name


def test_workloads_run_as_their_user_without_an_api_token(run):
    users = {c.PROMETHEUS: 65534, c.ALERTMANAGER: 65534, c.GRAFANA: 472, c.CELERY_EXPORTER: 65534}
    for controller in (d for d in run.declared if d.type in CONTROLLERS):
        spec = pod_spec(manifest(controller))
        assert spec["securityContext"]["runAsUser"] == users[controller.name]
        assert spec["securityContext"]["fsGroup"] == users[controller.name]
        assert spec["automountServiceAccountToken"] is False
        account = manifest(run.one(SERVICE_ACCOUNT, controller.name))
        assert account["automountServiceAccountToken"] is False
        assert spec["serviceAccountName"] == account["metadata"]["name"]


def test_probes_resources_and_pod_name_for_the_replica_label(run):
    container = pod_spec(manifest(run.one(STATEFULSET, c.PROMETHEUS)))["containers"][0]
    assert container["startupProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http"}
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "1Gi"},
                                      "limits": {"cpu": "2", "memory": "4Gi"}}
    (pod_name,) = [e for e in container["env"] if e["name"] == POD_NAME_ENV]
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_alertmanager_advertises_its_pod_ip_and_keeps_the_components_peers(run, settings):
    args = pod_spec(manifest(run.one(STATEFULSET, c.ALERTMANAGER)))["containers"][0]["args"]
    peers = [a.split("=", 1)[1] for a in args if a.startswith("--cluster.peer=")]
    assert tuple(peers) == kubernetes_topology(settings).alertmanager_peers
    assert "--cluster.advertise-address=[$(POD_IP)]:9094" in args
    assert args.count("--cluster.listen-address=0.0.0.0:9094") == 1


def test_peers_that_are_not_the_pods_are_refused(settings):
    wrong = dataclasses.replace(alertmanager_like(settings), cluster_peers=("alertmanager:9094",))
    with pytest.raises(ValueError, match="cluster peers"):
        run_platform(settings, lambda platform, parent: [platform.place(wrong, parent)])


def test_replica_counts_other_than_the_topologys_are_refused(settings):
    wrong = dataclasses.replace(alertmanager_like(settings), replicas=2)
    with pytest.raises(ValueError, match="the configs address it as"):
        run_platform(settings, lambda platform, parent: [platform.place(wrong, parent)])


@pytest.mark.parametrize("change, problem", [
    (dict(reaches=((c.PROMETHEUS, 9091),)), "grafana reaches prometheus on [9091], which serves on 9090"),
    (dict(reaches=()), "grafana does not reach prometheus, which admits it"),
    (dict(admits=()), "prometheus reaches grafana, which does not admit it"),
])
def test_flows_whose_two_halves_disagree_are_refused(settings, change, problem):
    def build(platform, parent):
        return [platform.place(prometheus_like(settings, platform, parent), parent),
                platform.place(dataclasses.replace(grafana_like(), **change), parent)]
    with pytest.raises(ValueError, match=re.escape(problem)):
        run_platform(settings, build)


def test_the_platforms_know_no_service_by_name():
    from components.settings import PROJECT_DIR
    for module in ("kubernetes.py", "docker.py", "base.py"):
        source = (PROJECT_DIR / "components/platform" / module).read_text()
        assert "components import constants" not in source, module
        for service in (c.PROMETHEUS, c.ALERTMANAGER, c.GRAFANA, c.CELERY_EXPORTER):
            assert f'"{service}"' not in source, f"{module} names {service}"


# --------------------------------------------------------------------------
# Network.
# --------------------------------------------------------------------------
def pod(name: str, namespace: str = "monitoring") -> Endpoint:
    return Endpoint(namespace=namespace, labels={kp.NAME_LABEL: name, kp.PART_OF_LABEL: PROJECT})


def test_default_deny_and_dns_for_every_pod(run):
    policies = {d.name: manifest(d) for d in run.of_type(NETWORK_POLICY)}
    deny = policies["scheduler-monitoring-default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    network = NetworkModel(run.declared, {})
    dns = Endpoint(namespace="kube-system", labels={"k8s-app": "kube-dns"})
    for name in (c.PROMETHEUS, c.ALERTMANAGER, c.GRAFANA, c.CELERY_EXPORTER):
        assert network.allows(pod(name), dns, 53, "UDP") and network.allows(pod(name), dns, 53, "TCP"), name
        assert not network.allows(pod(name), Endpoint(namespace="kube-system", labels={"app": "other"}), 53, "UDP")


def test_remote_write_and_backend_egress(run):
    network = NetworkModel(run.declared, {})
    backend = Endpoint(namespace="scheduler", labels={"app": "backend"})
    assert network.allows(pod(c.PROMETHEUS), backend, 8000)
    assert not network.allows(pod(c.PROMETHEUS), Endpoint(namespace="other", labels={}), 8000)
    assert network.allows(pod(c.PROMETHEUS), Endpoint(ip="198.51.100.7"), 443), "remote write"
    assert not network.allows(pod(c.GRAFANA), Endpoint(ip="198.51.100.7"), 443)


def test_every_manifest_passes_the_strict_schema(run):
    assert schema_errors(run.declared, "1.32.0") == []


# --------------------------------------------------------------------------
# Pure helpers.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("host, expected", [
    ("scheduler-backend.scheduler.svc", kp.Destination(8000, namespace="scheduler")),
    ("scheduler-backend.scheduler.svc.cluster.local", kp.Destination(8000, namespace="scheduler")),
    ("10.1.2.3", kp.Destination(8000, cidr="10.1.2.3/32")),
    ("backend.hospital.example", kp.Destination(8000)),
    (None, kp.Destination(8000)),
])
def test_destinations_narrow_as_far_as_a_policy_can(host, expected):
    assert kp.destination(Outside(8000, host)) == expected


def test_url_destinations_default_their_port():
    assert kp.destination(Outside.url("https://mimir.example/api/v1/push")) == kp.Destination(443)
    assert kp.destination(Outside.url("http://thanos.obs.svc:19291/api/v1/receive")) == \
        kp.Destination(19291, namespace="obs")


def test_secret_file_keys_are_valid_secret_keys():
    assert kp.secret_file_key("/etc/grafana/secrets/admin_password") == "etc_grafana_secrets_admin_password"
