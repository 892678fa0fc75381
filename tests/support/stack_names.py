"""The names a person types to reach a committed stack, read from what its program declares.

A runbook's commands must name the cluster context, namespaces, workloads,
Services, pods, claims, containers, volumes, addresses and files that
`pulumi up` would create, so they are collected from a mocked run of the
program, never restated by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import yaml

from components import constants as c
from components.platform.kubernetes import DATA_VOLUME, FILE_ANNOTATION, NAME_LABEL
from tests.support.kubernetes_objects import DEPLOYMENT, NETWORK_POLICY, SERVICE, STATEFULSET
from tests.support.pulumi_mocks import ProgramRun, run_program
from tests.support.stack_config import stack_config

KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
PROMETHEUS_CONFIG = f"{c.PROMETHEUS_CONFIG_DIR}/prometheus.yml"
CLUSTER_DOMAIN = ".cluster.local"


@dataclass(frozen=True)
class Mounts:
    """What a workload's container sees: files mounted one by one, and its data directory."""
    files: frozenset[str]
    data: str | None


@dataclass(frozen=True)
class ClusterNames:
    """One Kubernetes stack: where it runs and what it declares there."""
    context: str
    namespace: str
    workloads: frozenset[tuple[str, str]]    # ("statefulset", "prometheus"), ("deployment", "celery-exporter")
    services: frozenset[str]
    network_policies: frozenset[str]
    pods: frozenset[str]                     # StatefulSet pods, named by ordinal
    claims: frozenset[str]                   # their data claims
    storage_classes: frozenset[str]          # the classes those claims name (none: the cluster's default)
    app_labels: frozenset[str]               # values of app.kubernetes.io/name on the pods
    mounts: Mapping[str, Mounts]             # by workload name
    hosts: frozenset[str]                    # DNS names of Services and pods, the backend's, without the cluster domain
    # The scheduler backend Prometheus scrapes (its Service and namespace), from the deployed prometheus.yml.
    application_namespace: str
    application_service: str


@dataclass(frozen=True)
class DockerNames:
    """One Docker stack: its containers, their data volumes, files and network names."""
    containers: frozenset[str]
    volumes: frozenset[str]
    mounts: Mapping[str, Mounts]             # by container name
    hosts: frozenset[str]                    # the containers' aliases on the stack's network, the backend's host


def _run(stack: str) -> ProgramRun:
    config, secret_keys = stack_config(stack)
    return run_program(stack, config, secret_keys)


def _backend_host(prometheus_yml: str) -> str:
    for job in yaml.safe_load(prometheus_yml)["scrape_configs"]:
        if job["job_name"] == c.JOB_BACKEND:
            (target,) = job["static_configs"][0]["targets"]
            return target.rsplit(":", 1)[0]
    raise AssertionError(f"prometheus.yml has no scrape job {c.JOB_BACKEND}")


def cluster_names(stack: str) -> ClusterNames:
    run = _run(stack)
    contexts = {d.inputs.get("context") for d in run.of_type(KUBERNETES_PROVIDER)}
    assert len(contexts) == 1 and None not in contexts, f"stack {stack} deploys through contexts {contexts}"
    workloads, pods, claims, classes, namespaces, labels = set(), set(), set(), set(), set(), set()
    mounts: dict[str, Mounts] = {}
    for declared in run.of_type(STATEFULSET) + run.of_type(DEPLOYMENT):
        metadata, spec = declared.inputs["metadata"], declared.inputs["spec"]
        kind = "statefulset" if declared.type == STATEFULSET else "deployment"
        workloads.add((kind, metadata["name"]))
        namespaces.add(metadata["namespace"])
        labels.add(spec["template"]["metadata"]["labels"][NAME_LABEL])
        (container,) = spec["template"]["spec"]["containers"]
        paths = {mount["name"]: mount["mountPath"] for mount in container.get("volumeMounts", [])}
        mounts[metadata["name"]] = Mounts(
            files=frozenset(m["mountPath"] for m in container.get("volumeMounts", []) if m.get("subPath")),
            data=paths.get(DATA_VOLUME))
        if kind == "statefulset":
            for ordinal in range(int(spec["replicas"])):
                pods.add(f"{metadata['name']}-{ordinal}")
                for template in spec.get("volumeClaimTemplates", []):
                    claims.add(f"{template['metadata']['name']}-{metadata['name']}-{ordinal}")
                    if template["spec"].get("storageClassName"):
                        classes.add(template["spec"]["storageClassName"])
    services = {d.inputs["metadata"]["name"] for d in run.of_type(SERVICE)}
    policies = {d.inputs["metadata"]["name"] for d in run.of_type(NETWORK_POLICY)}
    namespaces |= {d.inputs["metadata"]["namespace"] for d in run.of_type(SERVICE)}
    assert len(namespaces) == 1, f"stack {stack} spreads over namespaces {namespaces}"
    namespace = namespaces.pop()
    assert any(claim.startswith(DATA_VOLUME) for claim in claims), "the StatefulSets keep their data on claims"
    (prometheus_yml,) = [next(iter(d.inputs["data"].values())) for d in run.of_type(CONFIGMAP)
                         if (d.inputs["metadata"].get("annotations") or {}).get(FILE_ANNOTATION) == PROMETHEUS_CONFIG]
    backend = _backend_host(prometheus_yml).removesuffix(CLUSTER_DOMAIN)
    # <service>.<namespace>.svc
    parts = backend.split(".")
    assert len(parts) == 3 and parts[2] == "svc", f"the backend {backend} is not a cluster Service"
    # A StatefulSet's pods answer as <pod>.<its headless Service, named like it>.<namespace>.svc.
    hosts = {f"{service}.{namespace}.svc" for service in services}
    hosts |= {f"{pod}.{pod.rsplit('-', 1)[0]}.{namespace}.svc" for pod in pods}
    return ClusterNames(context=contexts.pop(), namespace=namespace,
                        workloads=frozenset(workloads), services=frozenset(services),
                        network_policies=frozenset(policies), pods=frozenset(pods),
                        claims=frozenset(claims), storage_classes=frozenset(classes), app_labels=frozenset(labels),
                        mounts=mounts, hosts=frozenset(hosts | {backend}),
                        application_namespace=parts[1], application_service=parts[0])


def docker_names(stack: str) -> DockerNames:
    run = _run(stack)
    containers = run.of_type(CONTAINER)
    assert containers, f"stack {stack} declares no Docker container"
    mounts, hosts, backend = {}, set(), None
    for declared in containers:
        uploads = {upload["file"]: upload.get("content") for upload in declared.inputs.get("uploads", [])}
        (data,) = [v["containerPath"] for v in declared.inputs.get("volumes", [])] or [None]
        mounts[declared.inputs["name"]] = Mounts(files=frozenset(uploads), data=data)
        hosts |= {alias for network in declared.inputs["networksAdvanced"] for alias in network["aliases"]}
        if PROMETHEUS_CONFIG in uploads:
            backend = _backend_host(uploads[PROMETHEUS_CONFIG])
    assert backend, f"no container of stack {stack} carries {PROMETHEUS_CONFIG}"
    return DockerNames(containers=frozenset(mounts),
                       volumes=frozenset(d.inputs["name"] for d in run.of_type(VOLUME)),
                       mounts=mounts, hosts=frozenset(hosts | {backend}))
