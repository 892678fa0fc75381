"""The whole program for the prod stack (Pulumi.prod.yaml) under mocks, on Kubernetes.

Every Kubernetes object the program declares is rebuilt as a manifest and
validated against the API's OpenAPI schema in strict mode, then checked for
what production relies on: restricted pods, HA replica counts, the gossip
peers, every Alertmanager as an alerting target, disruption budgets, the
network flows (and nothing more), retained claims, and secrets kept secret.
The rendered prometheus.yml and alertmanager.yml, taken from their ConfigMaps,
go through promtool and amtool.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from components import constants as c
from components.platform import kubernetes as kp
from components.platform.topology import POD_NAME_ENV
from components.settings import PROJECT
from tests.support import pulumi_mocks
from tests.support import rules as r
from tests.support.kubernetes_objects import (
    CONFIGMAP,
    CONTROLLERS,
    INGRESS,
    NAMESPACE,
    NETWORK_POLICY,
    PDB,
    SECRET,
    STATEFULSET,
    Endpoint,
    NetworkModel,
    autonaming,
    kubernetes_objects,
    manifest,
    pod_spec,
    restricted_violations,
    schema_errors,
)
from tests.support.pulumi_mocks import strings_outside_secrets
from tests.support.stack_config import TEST_SECRETS, stack_config

NAMESPACE_NAME = "monitoring"


@pytest.fixture(scope="module")
def prod():
    config, secret_keys = stack_config("prod")
    assert config["platform"] == "kubernetes", "Pulumi.prod.yaml must select the kubernetes platform"
    with pytest.MonkeyPatch.context() as patch:
        # The provider names objects without metadata.name; the mocks should too,
        # so the pods' references to ConfigMaps and Secrets can be followed.
        patch.setattr(pulumi_mocks.CapturingMocks, "new_resource",
                      autonaming(pulumi_mocks.CapturingMocks.new_resource))
        return pulumi_mocks.run_program("prod", config, secret_keys)


def objects(run, type_token: str) -> dict:
    return {d.name: manifest(d) for d in run.of_type(type_token)}


def config_file(run, path: str) -> str:
    """The content of the ConfigMap that carries `path`."""
    for body in objects(run, CONFIGMAP).values():
        if body["metadata"].get("annotations", {}).get(kp.FILE_ANNOTATION) == path:
            (content,) = body["data"].values()
            return content
    raise AssertionError(f"no ConfigMap carries {path}")


def pod(name: str, namespace: str = NAMESPACE_NAME) -> Endpoint:
    return Endpoint(namespace=namespace, labels={kp.NAME_LABEL: name, kp.PART_OF_LABEL: PROJECT})


# --------------------------------------------------------------------------
# Schema.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1.32.0", "1.37.0"])
def test_every_kubernetes_object_passes_the_strict_schema(prod, version):
    declared = kubernetes_objects(prod.declared)
    assert len(declared) > 30, "the prod stack declares its Kubernetes objects"
    assert schema_errors(declared, version) == []


def test_every_reference_to_a_configmap_or_secret_resolves(prod):
    names = {CONFIGMAP: {b["metadata"]["name"] for b in objects(prod, CONFIGMAP).values()},
             SECRET: {b["metadata"]["name"] for b in objects(prod, SECRET).values()}}
    for controller in (d for d in prod.declared if d.type in CONTROLLERS):
        spec = pod_spec(manifest(controller))
        for volume in spec["volumes"]:
            for source in volume.get("projected", {}).get("sources", []):
                kind, target = (CONFIGMAP, source["configMap"]) if "configMap" in source else (SECRET, source["secret"])
                assert target["name"] in names[kind], f"{controller.name}: {kind} {target['name']} missing"
        for env in spec["containers"][0].get("env", []):
            reference = env.get("valueFrom", {}).get("secretKeyRef")
            if reference:
                assert reference["name"] in names[SECRET], f"{controller.name}: env {env['name']}"


# --------------------------------------------------------------------------
# Pods and HA.
# --------------------------------------------------------------------------
def test_every_pod_meets_the_restricted_profile_the_namespace_enforces(prod):
    controllers = [d for d in prod.declared if d.type in CONTROLLERS]
    assert {d.name for d in controllers} == {c.PROMETHEUS, c.ALERTMANAGER, c.GRAFANA, c.CELERY_EXPORTER}
    for controller in controllers:
        assert restricted_violations(controller.name, pod_spec(manifest(controller))) == []
    (namespace,) = objects(prod, NAMESPACE).values()
    assert namespace["metadata"]["name"] == NAMESPACE_NAME
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_ha_replica_counts(prod):
    replicas = {d.name: manifest(d)["spec"]["replicas"] for d in prod.declared if d.type in CONTROLLERS}
    assert replicas == {c.PROMETHEUS: 2, c.ALERTMANAGER: 3, c.GRAFANA: 1, c.CELERY_EXPORTER: 1}


def test_alertmanagers_gossip_with_every_peer(prod):
    args = pod_spec(objects(prod, STATEFULSET)[c.ALERTMANAGER])["containers"][0]["args"]
    peers = sorted(a.split("=", 1)[1] for a in args if a.startswith("--cluster.peer="))
    assert peers == [f"alertmanager-{i}.alertmanager.{NAMESPACE_NAME}.svc:9094" for i in range(3)]
    assert "--cluster.listen-address=0.0.0.0:9094" in args
    assert f"--cluster.advertise-address=[$({kp.POD_IP_ENV})]:9094" in args


def test_alertmanagers_run_the_rendered_flags(prod):
    args = pod_spec(objects(prod, STATEFULSET)[c.ALERTMANAGER])["containers"][0]["args"]
    assert "--data.retention=168h" in args
    assert "--cluster.peer-timeout=17s" in args


def test_prometheus_alerts_every_alertmanager_directly_and_labels_its_replica(prod):
    config = yaml.safe_load(config_file(prod, f"{c.PROMETHEUS_CONFIG_DIR}/prometheus.yml"))
    targets = [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]]
    assert sorted(targets) == [f"alertmanager-{i}.alertmanager.{NAMESPACE_NAME}.svc:9093" for i in range(3)]
    assert config["global"]["external_labels"] == {"env": "prod", "replica": "${POD_NAME}"}
    assert any(rule.get("action") == "labeldrop" and rule.get("regex") == "replica"
               for rule in config["alerting"]["alert_relabel_configs"]), "replica must not split alerts"
    container = pod_spec(objects(prod, STATEFULSET)[c.PROMETHEUS])["containers"][0]
    (pod_name,) = [e for e in container["env"] if e["name"] == POD_NAME_ENV]
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # Both replicas run the same config, so both scrape every target.
    prometheus_targets = next(sc["targets"] for job in config["scrape_configs"] if job["job_name"] == c.JOB_PROMETHEUS
                              for sc in job["static_configs"])
    assert sorted(prometheus_targets) == [f"prometheus-{i}.prometheus.{NAMESPACE_NAME}.svc:9090" for i in range(2)]


def test_prometheus_memory_is_sized_from_the_benchmark_at_100x(prod):
    # python -m benchmark at 100x today's cardinality: 1,705 MiB resident, 2,784 MiB at the peak.
    container = pod_spec(objects(prod, STATEFULSET)[c.PROMETHEUS])["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "2304Mi"},
                                      "limits": {"cpu": "2", "memory": "4608Mi"}}


def test_each_rule_group_is_its_own_configmap_mounted_in_prometheus(prod):
    rule_maps = {b["metadata"]["annotations"][kp.FILE_ANNOTATION]: b for b in objects(prod, CONFIGMAP).values()
                 if b["metadata"]["annotations"][kp.FILE_ANNOTATION].startswith(c.PROMETHEUS_RULES_DIR + "/")}
    groups = {Path(p).stem for p in rule_maps}
    assert {"scheduler_resilience", "scheduler_compliance", "scheduler_tasks", "scheduler_performance",
            "scheduler_security", "scheduler_monitoring"} <= groups
    mounts = {m["mountPath"] for m in pod_spec(objects(prod, STATEFULSET)[c.PROMETHEUS])["containers"][0]["volumeMounts"]}
    assert set(rule_maps) <= mounts


def test_disruption_budgets_let_one_replica_go(prod):
    budgets = objects(prod, PDB)
    for controller in (d for d in prod.declared if d.type in CONTROLLERS):
        budget = budgets[controller.name]["spec"]
        assert budget["maxUnavailable"] == 1, controller.name
        assert budget["selector"] == manifest(controller)["spec"]["selector"], controller.name


def test_claims_are_retained_when_the_stack_goes(prod):
    statefulsets = objects(prod, STATEFULSET)
    assert set(statefulsets) == {c.PROMETHEUS, c.ALERTMANAGER, c.GRAFANA}
    for name, body in statefulsets.items():
        assert body["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                                         "whenScaled": "Retain"}, name
        (claim,) = body["spec"]["volumeClaimTemplates"]
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"], name
    (namespace,) = prod.of_type(NAMESPACE)
    assert namespace.retain_on_delete, "deleting the namespace would delete the claims"


def test_grafana_is_reached_at_its_url_through_the_ingress(prod):
    (ingress,) = objects(prod, INGRESS).values()
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "grafana.scheduler.hospital.example"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "grafana-lb", "port": {"number": c.GRAFANA_PORT}}


# --------------------------------------------------------------------------
# Network.
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def network(prod):
    return NetworkModel(prod.declared, {})


def test_default_deny_covers_the_namespace(prod):
    deny = objects(prod, NETWORK_POLICY)["scheduler-monitoring-default-deny"]
    assert deny["metadata"]["namespace"] == NAMESPACE_NAME
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("source, target, port, protocol", [
    (pod(c.GRAFANA), pod(c.PROMETHEUS), 9090, "TCP"),
    (pod(c.PROMETHEUS), pod(c.PROMETHEUS), 9090, "TCP"),
    (pod(c.PROMETHEUS), pod(c.ALERTMANAGER), 9093, "TCP"),
    (pod(c.PROMETHEUS), pod(c.GRAFANA), 3000, "TCP"),
    (pod(c.PROMETHEUS), pod(c.CELERY_EXPORTER), 9808, "TCP"),
    (pod(c.ALERTMANAGER), pod(c.ALERTMANAGER), 9094, "TCP"),
    (pod(c.ALERTMANAGER), pod(c.ALERTMANAGER), 9094, "UDP"),
    (pod(c.PROMETHEUS), Endpoint(namespace="scheduler", labels={"app": "scheduler-backend"}), 8000, "TCP"),
    (pod(c.CELERY_EXPORTER), Endpoint(ip="10.20.30.40"), 6379, "TCP"),
    (pod(c.ALERTMANAGER), Endpoint(ip="203.0.113.5"), 443, "TCP"),
    (pod(c.ALERTMANAGER), Endpoint(ip="203.0.113.25"), 587, "TCP"),
    (Endpoint(namespace="ingress-nginx", labels={"app": "controller"}), pod(c.GRAFANA), 3000, "TCP"),
] + [(pod(name), Endpoint(namespace="kube-system", labels={"k8s-app": "kube-dns"}), 53, protocol)
     for name in (c.PROMETHEUS, c.ALERTMANAGER, c.GRAFANA, c.CELERY_EXPORTER) for protocol in ("UDP", "TCP")])
def test_required_flow_is_allowed(network, source, target, port, protocol):
    assert network.allows(source, target, port, protocol)


@pytest.mark.parametrize("source, target, port", [
    (pod(c.GRAFANA), pod(c.ALERTMANAGER), 9093),
    (pod(c.CELERY_EXPORTER), pod(c.PROMETHEUS), 9090),
    (pod(c.ALERTMANAGER), pod(c.PROMETHEUS), 9090),
    (pod(c.GRAFANA), Endpoint(ip="203.0.113.5"), 443),          # no plugin downloads
    (pod(c.PROMETHEUS), Endpoint(ip="203.0.113.5"), 443),       # no remote write in prod
    (pod(c.CELERY_EXPORTER), Endpoint(ip="203.0.113.5"), 443),
    (pod(c.PROMETHEUS), Endpoint(namespace="other", labels={}), 8000),
    (Endpoint(namespace="ingress-nginx", labels={"app": "controller"}), pod(c.PROMETHEUS), 9090),
    (Endpoint(namespace="scheduler", labels={"app": "scheduler-backend"}), pod(c.GRAFANA), 3000),
    (Endpoint(namespace="scheduler", labels={"app": "scheduler-backend"}), pod(c.ALERTMANAGER), 9093),
    (pod(c.GRAFANA), pod(c.PROMETHEUS), 9093),
])
def test_other_flows_are_denied(network, source, target, port):
    assert not network.allows(source, target, port)


def test_no_rule_is_wide_open(prod):
    unbound_egress = set()
    for name, policy in objects(prod, NETWORK_POLICY).items():
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from") and rule.get("ports"), f"{name}: ingress from anywhere or on any port"
        for rule in policy["spec"].get("egress", []):
            assert rule.get("ports"), f"{name}: egress on any port"
            if not rule.get("to"):
                unbound_egress |= {(name, p["port"]) for p in rule["ports"]}
    # Hosts a policy cannot name (the broker's address is a secret; SaaS
    # receivers have no fixed addresses) are reachable on their port only.
    assert unbound_egress == {(c.CELERY_EXPORTER, 6379), (c.CELERY_EXPORTER, 6380),
                              (c.ALERTMANAGER, 443), (c.ALERTMANAGER, 587)}


# --------------------------------------------------------------------------
# Secrets.
# --------------------------------------------------------------------------
def test_no_secret_value_outside_a_secret(prod):
    values = list(TEST_SECRETS.values())
    for declared in prod.declared:
        for text in strings_outside_secrets(declared.raw_inputs):
            for value in values:
                assert value not in text, f"{declared.type} {declared.name} holds a secret in clear"
    for declared in kubernetes_objects(prod.declared):
        if declared.type == SECRET:
            continue
        # Even wrapped as a secret, a value has no place in a ConfigMap, a pod
        # template or an annotation: only Secrets are access-controlled as such.
        flat = repr(declared.inputs)
        for value in values:
            assert value not in flat, f"{declared.type} {declared.name} carries a secret"


def test_every_secret_reaches_the_cluster_through_a_secret(prod):
    stored = "".join(repr(d.inputs) for d in prod.of_type(SECRET))
    for key in ("celeryBrokerUrl", "grafanaAdminPassword", "grafanaSecretKey", "slackWebhookUrl",
                "pagerdutyRoutingKey", "pagerdutyClinicalRoutingKey", "smtpPassword", "watchdogWebhookUrl"):
        assert TEST_SECRETS[key] in stored, f"{key} does not reach the cluster"


# --------------------------------------------------------------------------
# The deployed configuration, checked by the tools that will run it.
# --------------------------------------------------------------------------
def test_deployed_prometheus_config_and_rules_pass_promtool(prod, tmp_path):
    promtool = r.tool("promtool", "prod")
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    deployed_rules = []
    for body in objects(prod, CONFIGMAP).values():
        path = body["metadata"]["annotations"][kp.FILE_ANNOTATION]
        if path.startswith(c.PROMETHEUS_RULES_DIR + "/"):
            (text,) = body["data"].values()
            (rules_dir / Path(path).name).write_text(text)
            deployed_rules.append(Path(path).name)
    config = config_file(prod, f"{c.PROMETHEUS_CONFIG_DIR}/prometheus.yml")
    assert f"{c.PROMETHEUS_RULES_DIR}/" in config
    (tmp_path / "prometheus.yml").write_text(config.replace(f"{c.PROMETHEUS_RULES_DIR}/", f"{rules_dir}/"))
    result = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # The glob in rule_files found exactly the deployed groups, and each parsed.
    assert f"SUCCESS: {len(deployed_rules)} rule files found" in result.stdout, result.stdout
    for name in deployed_rules:
        assert f"Checking {rules_dir / name}\n  SUCCESS" in result.stdout, name


def test_deployed_alertmanager_config_passes_amtool(prod, tmp_path):
    amtool = r.tool("amtool", "prod")
    deployed = config_file(prod, f"{c.ALERTMANAGER_CONFIG_DIR}/alertmanager.yml")
    assert "url_file:" in deployed
    (tmp_path / "alertmanager.yml").write_text(deployed)
    result = subprocess.run([amtool, "check-config", str(tmp_path / "alertmanager.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------
# Which cluster, and the namespace's lifecycle.
# --------------------------------------------------------------------------
PROVIDER = "pulumi:providers:kubernetes"


def _providers(run) -> dict:
    """Provider reference (urn::id) -> its declaration."""
    return {f"{d.urn}::{d.name}-id": d for d in run.of_type(PROVIDER)}


def test_every_object_goes_to_the_context_the_stack_names_never_the_current_one(prod):
    providers = _providers(prod)
    context = stack_config("prod")[0]["kubeContext"]
    assert context and all(p.inputs.get("context") == context for p in providers.values())
    for declared in kubernetes_objects(prod.declared):
        assert declared.provider in providers, \
            f"{declared.type} {declared.name} uses the default provider (the current kubeconfig context)"
        provider = providers[declared.provider]
        assert provider.inputs.get("upsertExistingObjects") in (None, "false"), \
            f"{declared.type} {declared.name} would take over an existing object (adoptNamespace is off)"


def _prod_with(**overrides):
    config, secret_keys = stack_config("prod")
    return pulumi_mocks.run_program("prod", {**config, **overrides}, secret_keys)


def test_an_existing_namespace_is_adopted_only_when_the_stack_says_so():
    run = _prod_with(adoptNamespace="true")
    providers = _providers(run)
    (namespace,) = run.of_type(NAMESPACE)
    # Provider settings reach the provider as strings.
    assert providers[namespace.provider].inputs.get("upsertExistingObjects") == "true"
    others = [d for d in kubernetes_objects(run.declared) if d.type != NAMESPACE]
    assert others and all(providers[d.provider].inputs.get("upsertExistingObjects") is None for d in others), \
        "only the namespace may be adopted"


@pytest.mark.parametrize("keep", [True, False])
def test_the_namespace_outlives_destroy_exactly_when_the_data_must(keep):
    run = _prod_with(keepDataOnDestroy=str(keep).lower())
    (namespace,) = run.of_type(NAMESPACE)
    assert namespace.retain_on_delete is keep
