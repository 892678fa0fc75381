"""The Kubernetes platform: workloads as StatefulSets/Deployments in one namespace.

Addresses (`components.platform.topology`) and objects (`KubernetesPlatform`)
come from the same naming helpers, so the addresses rendered into
prometheus.yml are exactly the DNS names the cluster gives the pods; a
workload whose declared addresses differ is refused. The platform knows no
service by name: every flow, the Ingress and the peers come from the
workload's own description.

Per workload `place()` creates:
- a ServiceAccount without an API token (nothing here talks to the API server:
  Prometheus scrapes static targets);
- one ConfigMap per config file, and one Secret for all secret files and env;
- a StatefulSet when the workload keeps data (claims per replica, stable pod
  names that peers and Prometheus address directly), else a Deployment;
- a headless Service `<name>` (per-pod DNS, peer discovery) and a ClusterIP
  Service `<name>-lb` (load-balanced, for Grafana's datasource and ingress);
- a PodDisruptionBudget letting one replica go at a time;
- a NetworkPolicy opening only the flows the workload declares (who it admits,
  what it reaches inside and outside the stack, the ingress controller when it
  is published), on top of a namespace-wide default deny.

How configuration changes roll out (and why a bad one never replaces a good one):
ConfigMaps and Secrets are auto-named by Pulumi and replaced, never edited, when
their content changes (`replace_on_changes`, `immutable`). The new object gets a
new name, so the pod template changes and the StatefulSet rolls one pod at a
time; the other replicas keep running with the old, still existing objects.
A new pod with a bad config fails its startup/readiness probes, the rollout
stops there, Pulumi's await on the StatefulSet fails the update, and the old
ConfigMap is therefore never deleted: the healthy replicas keep serving (and
restart with) the good config. A config-reloader sidecar was not chosen: it
applies a bad config to every replica at once, with nothing to stop it, and it
adds a second image to pin and patch. Data survives the rolling restart on the
claims (Prometheus replays its WAL, Alertmanager reloads silences and re-syncs
from its peers). After fixing a bad config, delete the one pod stuck on it:
a StatefulSet does not replace a pod that never became ready by itself.
Grafana (one replica on a ReadWriteOnce claim) cannot keep an old pod while a
new one starts; for it the guard is the validation before deploy.
The provider's enableConfigMapMutable/enableSecretMutable must stay off (the
default) or be overridden by `replace_on_changes`, which is set here.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import math
import posixpath
import re
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import (
    DeploymentSpecArgs,
    DeploymentStrategyArgs,
    RollingUpdateDeploymentArgs,
    StatefulSetPersistentVolumeClaimRetentionPolicyArgs,
    StatefulSetSpecArgs,
    StatefulSetUpdateStrategyArgs,
)
from pulumi_kubernetes.core.v1 import (
    AffinityArgs,
    CapabilitiesArgs,
    ConfigMapProjectionArgs,
    ContainerArgs,
    ContainerPortArgs,
    EmptyDirVolumeSourceArgs,
    EnvVarArgs,
    EnvVarSourceArgs,
    HTTPGetActionArgs,
    KeyToPathArgs,
    ObjectFieldSelectorArgs,
    PersistentVolumeClaimSpecArgs,
    PersistentVolumeClaimTemplateArgs,
    PodAffinityTermArgs,
    PodAntiAffinityArgs,
    PodSecurityContextArgs,
    PodSpecArgs,
    PodTemplateSpecArgs,
    ProbeArgs,
    ProjectedVolumeSourceArgs,
    ResourceRequirementsArgs,
    SeccompProfileArgs,
    SecretKeySelectorArgs,
    SecretProjectionArgs,
    SecurityContextArgs,
    ServicePortArgs,
    ServiceSpecArgs,
    VolumeArgs,
    VolumeMountArgs,
    VolumeProjectionArgs,
    VolumeResourceRequirementsArgs,
    WeightedPodAffinityTermArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs
from pulumi_kubernetes.networking.v1 import (
    HTTPIngressPathArgs,
    HTTPIngressRuleValueArgs,
    IngressBackendArgs,
    IngressRuleArgs,
    IngressServiceBackendArgs,
    IngressSpecArgs,
    IngressTLSArgs,
    NetworkPolicyEgressRuleArgs,
    NetworkPolicyIngressRuleArgs,
    NetworkPolicyPeerArgs,
    NetworkPolicyPortArgs,
    NetworkPolicySpecArgs,
    ServiceBackendPortArgs,
)
from pulumi_kubernetes.policy.v1 import PodDisruptionBudgetSpecArgs

from components.platform.base import File, Outside, Placed, Workload, refuse_misplaced
from components.platform.topology import (
    POD_NAME_ENV,
    balanced_service_name,
    headless_service_name,
    pod_addresses,
    service_address,
)
from components.settings import PROJECT, Settings

# --------------------------------------------------------------------------
# Names and labels of the objects (addresses: components.platform.topology).
# --------------------------------------------------------------------------
NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"   # set by the API server on every namespace
DATA_VOLUME = "data"
FILES_VOLUME = "files"
# Where a ConfigMap's file goes, for whoever reads the cluster rather than the code.
FILE_ANNOTATION = "scheduler-monitoring/path"
POD_IP_ENV = "POD_IP"

# Cluster DNS. Pods resolve names through kube-dns/CoreDNS in kube-system; the
# label is the one both kubeadm and the managed offerings put on those pods.
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}


# --------------------------------------------------------------------------
# Pure helpers (no Pulumi resources), tested on their own.
# --------------------------------------------------------------------------
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """A DNS-label-safe rendering of a file path, for resource names."""
    return _NOT_NAME_CHARS.sub("-", text.lower()).strip("-")


def secret_file_key(path: str) -> str:
    """Secret data key of a file: its path, as the characters keys allow."""
    return re.sub(r"[^-._a-zA-Z0-9]", "_", path.strip("/"))


@dataclass(frozen=True)
class Destination:
    """Where an egress rule may go: a namespace, an address, or anywhere (port-bound)."""
    port: int
    namespace: Optional[str] = None
    cidr: Optional[str] = None
    protocol: str = "TCP"


def destination(outside: Outside) -> Destination:
    """Narrow an egress to the host as far as a NetworkPolicy can.

    A policy cannot name DNS hosts: an in-cluster Service name narrows to its
    namespace, an IP literal to itself, anything else stays open on the port only.
    Note that policies see the pod's port after Service translation.
    """
    if outside.host:
        try:
            address = ipaddress.ip_address(outside.host)
            return Destination(outside.port, cidr=f"{address}/{32 if address.version == 4 else 128}",
                               protocol=outside.protocol)
        except ValueError:
            pass
        parts = outside.host.split(".")
        # <service>.<namespace>.svc, optionally followed by the cluster domain.
        if len(parts) >= 3 and parts[2] == "svc":
            return Destination(outside.port, namespace=parts[1], protocol=outside.protocol)
    return Destination(outside.port, protocol=outside.protocol)


def cluster_ports(workload: Workload) -> list[tuple[str, str]]:
    """(port name, protocol) of the peer-to-peer port: memberlist gossips on TCP and UDP."""
    if not workload.cluster_port:
        return []
    return [("cluster-tcp", "TCP"), ("cluster-udp", "UDP")]


def timeout_minutes(workload: Workload) -> int:
    """Pulumi's wait for a rollout: every replica may use its whole startup
    budget (StatefulSets roll one pod at a time), plus time to pull images and
    attach volumes. Longer than the startup budget, or Pulumi gives up on a pod
    the kubelet would still have let start."""
    seconds = workload.replicas * (workload.startup_budget_seconds + 60) + 300
    return math.ceil(seconds / 60)


PROBE_PERIOD_SECONDS = 5


def startup_failure_threshold(workload: Workload) -> int:
    return max(1, math.ceil(workload.startup_budget_seconds / PROBE_PERIOD_SECONDS))


# --------------------------------------------------------------------------
# The platform.
# --------------------------------------------------------------------------
class KubernetesPlatform:
    """Places workloads into one namespace of the cluster named by the kubeContext setting.

    Every object goes through an explicit provider bound to that kubeconfig
    context, never the default provider: whatever context happens to be
    current on the machine running `pulumi up` cannot receive the deployment.
    """

    def __init__(self, settings: Settings, name: str, opts: Optional[pulumi.ResourceOptions] = None):
        self.settings = settings
        self.name = name
        self.placed: list[Workload] = []
        self.provider = k8s.Provider(f"{name}-cluster", context=settings.kube_context,
                                     opts=pulumi.ResourceOptions.merge(opts, None))
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=self.provider))
        # Creating an object that exists is an error (the provider's default),
        # so a namespace of that name that belongs to someone else is never
        # taken over. adoptNamespace takes over an existing one on purpose: the
        # one an earlier `pulumi destroy` kept with its claims, or one made by
        # the cluster's admins for this stack. Only the namespace is adopted.
        namespace_provider = self.provider
        if settings.adopt_namespace:
            namespace_provider = k8s.Provider(f"{name}-cluster-adopting", context=settings.kube_context,
                                              upsert_existing_objects=True)
        restricted = {f"pod-security.kubernetes.io/{mode}": "restricted"
                      for mode in ("enforce", "audit", "warn")}
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=ObjectMetaArgs(
                name=settings.namespace,
                labels={**restricted, "pod-security.kubernetes.io/enforce-version": "latest",
                        PART_OF_LABEL: PROJECT},
            ),
            # Deleting a namespace deletes every claim in it, whatever the
            # StatefulSets' retention policy says; keeping the data means
            # keeping the namespace (a later `pulumi up` adopts it with
            # adoptNamespace: true).
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                provider=namespace_provider, retain_on_delete=settings.keep_data_on_destroy)),
        )
        self.namespace_name: pulumi.Output[str] = self.namespace.metadata.name
        namespace_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            parent=self.namespace, delete_before_replace=True))
        # Nothing in or out unless a policy below or a workload's policy says so.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=self._metadata("default-deny"),
            spec=NetworkPolicySpecArgs(pod_selector=LabelSelectorArgs(),
                                       policy_types=["Ingress", "Egress"]),
            opts=namespace_opts,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-dns",
            metadata=self._metadata("allow-dns"),
            spec=NetworkPolicySpecArgs(
                pod_selector=LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[NetworkPolicyEgressRuleArgs(
                    to=[NetworkPolicyPeerArgs(
                        namespace_selector=LabelSelectorArgs(match_labels={NAMESPACE_NAME_LABEL: DNS_NAMESPACE}),
                        pod_selector=LabelSelectorArgs(match_labels=DNS_POD_LABELS),
                    )],
                    ports=[NetworkPolicyPortArgs(port=53, protocol="UDP"),
                           NetworkPolicyPortArgs(port=53, protocol="TCP")],
                )],
            ),
            opts=namespace_opts,
        )

    # ---------------------------------------------------------------- helpers
    def _metadata(self, name: Optional[str], labels: Optional[dict] = None,
                  annotations: Optional[dict] = None) -> ObjectMetaArgs:
        """Metadata in the namespace. `name=None` lets Pulumi auto-name the object."""
        return ObjectMetaArgs(name=name, namespace=self.namespace_name,
                              labels={PART_OF_LABEL: PROJECT, **(labels or {})},
                              annotations=annotations)

    @staticmethod
    def _selector(name: str) -> dict[str, str]:
        return {NAME_LABEL: name, PART_OF_LABEL: PROJECT}

    def _check(self, workload: Workload) -> None:
        """Refuse a workload the rendered configs would misaddress, or whose flows disagree with its peers'."""
        ns = self.settings.namespace
        # Each pod by name (StatefulSet), or a single replica by its headless Service.
        answers_at = [pod_addresses(workload.name, ns, workload.replicas, workload.port)] if workload.data_path else []
        if workload.replicas == 1:
            answers_at.append((service_address(headless_service_name(workload.name), ns, workload.port),))
        refuse_misplaced(self.placed, workload, answers_at, "pods")
        if workload.cluster_port:
            if workload.replicas > 1 and workload.data_path is None:
                raise ValueError(f"{workload.name}: a cluster needs stable pod names (set data_path)")
            expected_peers = pod_addresses(workload.name, ns, workload.replicas, workload.cluster_port)
            if workload.cluster_peers != expected_peers:
                raise ValueError(f"{workload.name}: its cluster peers {workload.cluster_peers} are not the "
                                 f"pods' addresses {expected_peers}")

    # ---------------------------------------------------------------- place
    def place(self, workload: Workload, parent: pulumi.Resource) -> Placed:
        self._check(workload)
        name = workload.name
        labels = self._selector(name)
        opts = pulumi.ResourceOptions(parent=parent, provider=self.provider)
        # Fixed names (DNS, peers) mean a replacement must delete first, or the
        # new object would collide with the old one.
        fixed = pulumi.ResourceOptions(parent=parent, provider=self.provider, delete_before_replace=True)

        account = k8s.core.v1.ServiceAccount(
            name, metadata=self._metadata(name, labels),
            automount_service_account_token=False, opts=fixed)

        volumes, mounts, secret_name = self._files(workload, labels, opts)
        volumes.append(VolumeArgs(name="tmp", empty_dir=EmptyDirVolumeSourceArgs(size_limit="256Mi")))
        mounts.append(VolumeMountArgs(name="tmp", mount_path="/tmp"))
        if workload.data_path:
            mounts.append(VolumeMountArgs(name=DATA_VOLUME, mount_path=workload.data_path))

        container = self._container(workload, mounts, secret_name)
        pod = PodTemplateSpecArgs(
            metadata=ObjectMetaArgs(labels=labels),
            spec=PodSpecArgs(
                service_account_name=account.metadata.name,
                automount_service_account_token=False,
                # Service links would put every Service's address into the env
                # of every container; nothing here reads them.
                enable_service_links=False,
                security_context=PodSecurityContextArgs(
                    run_as_non_root=True,
                    run_as_user=workload.run_as_user,
                    run_as_group=workload.run_as_user,
                    fs_group=workload.run_as_user,
                    # A full chown of a large TSDB on every start would eat the startup budget.
                    fs_group_change_policy="OnRootMismatch",
                    seccomp_profile=SeccompProfileArgs(type="RuntimeDefault"),
                ),
                # Replicas on different nodes where the cluster has them, so a
                # node loss takes one replica, not the pair.
                affinity=AffinityArgs(pod_anti_affinity=PodAntiAffinityArgs(
                    preferred_during_scheduling_ignored_during_execution=[WeightedPodAffinityTermArgs(
                        weight=100,
                        pod_affinity_term=PodAffinityTermArgs(
                            topology_key="kubernetes.io/hostname",
                            label_selector=LabelSelectorArgs(match_labels=labels)),
                    )])),
                termination_grace_period_seconds=60,
                containers=[container],
                volumes=volumes,
            ),
        )

        timeouts = pulumi.CustomTimeouts(create=f"{timeout_minutes(workload)}m",
                                         update=f"{timeout_minutes(workload)}m")
        controller_opts = pulumi.ResourceOptions.merge(fixed, pulumi.ResourceOptions(
            custom_timeouts=timeouts))
        if workload.data_path:
            controller = self._statefulset(workload, labels, pod, controller_opts)
        else:
            controller = self._deployment(workload, labels, pod, controller_opts)

        self._services(workload, labels, fixed)
        k8s.policy.v1.PodDisruptionBudget(
            name,
            metadata=self._metadata(name, labels),
            spec=PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=LabelSelectorArgs(match_labels=labels),
                # A pod stuck on a bad config must not block node drains.
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            opts=fixed,
        )
        self._network_policy(workload, labels, fixed)
        self.placed.append(workload)

        ns = self.settings.namespace
        internal_url = pulumi.Output.from_input(
            "http://" + service_address(balanced_service_name(name), ns, workload.port))
        if workload.published_url:
            self._ingress(workload, labels, fixed)
            external_url = pulumi.Output.from_input(workload.published_url)
        else:
            # Without a public entry, people use `kubectl -n <ns> port-forward svc/<name>-lb <port>`.
            external_url = internal_url
        return Placed(name=name, internal_url=internal_url, external_url=external_url,
                      ready=[controller])

    # ---------------------------------------------------------------- files
    def publish(self, name: str, file: File, parent: pulumi.Resource) -> File:
        """A file as a ConfigMap of its own (the rule groups), mounted by `place()`."""
        config_map = self._config_map(name, file, {PART_OF_LABEL: PROJECT},
                                      pulumi.ResourceOptions(parent=parent, provider=self.provider))
        return dataclasses.replace(file, published_as=config_map)

    def _config_map(self, name: str, file: File, labels: dict, opts: pulumi.ResourceOptions):
        return k8s.core.v1.ConfigMap(
            name,
            # No metadata.name: Pulumi names it `<name>-<random>`, and a new
            # content gets a new name (see the module docstring).
            metadata=self._metadata(None, labels, {FILE_ANNOTATION: file.path}),
            data={posixpath.basename(file.path): file.content},
            immutable=True,
            # Replaced rather than edited, whatever the provider's
            # enableConfigMapMutable says.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(replace_on_changes=["data"])),
        )

    def _files(self, workload: Workload, labels: dict, opts: pulumi.ResourceOptions):
        """Config and secret files in one projected volume, each mounted at its path.

        One ConfigMap per config file, so a preview names the file (e.g. the rule
        group) that changed. Each file is its own subPath mount, so the image's
        other files in the same directory stay visible and nested directories
        (/etc/prometheus, /etc/prometheus/rules) need no nested mounts. subPath
        mounts never see later edits of their source, which is no loss: a change
        is a new object and a new pod anyway.
        Returns (volumes, mounts, name of the Secret or None).
        """
        for file in workload.config_files + workload.secret_files:
            for writable in filter(None, (workload.data_path, "/tmp")):
                if file.path.startswith(writable.rstrip("/") + "/"):
                    raise ValueError(f"{workload.name}: {file.path} lies in the writable volume at {writable}")
        sources = []
        mounts = []
        for file in workload.config_files:
            config_map = file.published_as or self._config_map(
                f"{workload.name}-{slug(file.path)}", file, labels, opts)
            sources.append(VolumeProjectionArgs(config_map=ConfigMapProjectionArgs(
                name=config_map.metadata.name,
                items=[KeyToPathArgs(key=posixpath.basename(file.path), path=file.path.lstrip("/"))],
            )))
        secret_name = self._secret(workload, labels, opts)
        for file in workload.secret_files:
            sources.append(VolumeProjectionArgs(secret=SecretProjectionArgs(
                name=secret_name,
                items=[KeyToPathArgs(key=secret_file_key(file.path), path=file.path.lstrip("/"))],
            )))
        for file in workload.config_files + workload.secret_files:
            mounts.append(VolumeMountArgs(name=FILES_VOLUME, mount_path=file.path,
                                          sub_path=file.path.lstrip("/"), read_only=True))
        volumes = []
        if sources:
            # Owner root, group fsGroup, mode 0440: readable by the workload's user only.
            volumes.append(VolumeArgs(name=FILES_VOLUME, projected=ProjectedVolumeSourceArgs(
                sources=sources, default_mode=0o440)))
        return volumes, mounts, secret_name

    def _secret(self, workload: Workload, labels: dict, opts: pulumi.ResourceOptions):
        """All of a workload's secrets in one Secret, values as secret Outputs
        (so Pulumi encrypts them in state and masks them in previews)."""
        string_data: dict[str, Any] = {}
        for file in workload.secret_files:
            string_data[secret_file_key(file.path)] = pulumi.Output.secret(file.content)
        for env_name, value in workload.secret_env.items():
            if env_name in string_data:
                raise ValueError(f"{workload.name}: secret key {env_name} used twice")
            string_data[env_name] = pulumi.Output.secret(value)
        if not string_data:
            return None
        secret = k8s.core.v1.Secret(
            f"{workload.name}-secrets",
            metadata=self._metadata(None, labels),
            type="Opaque",
            string_data=string_data,
            immutable=True,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                replace_on_changes=["stringData", "data"])),
        )
        return secret.metadata.name

    # ---------------------------------------------------------------- pods
    def _container(self, workload: Workload, mounts: list, secret_name) -> ContainerArgs:
        env = [
            EnvVarArgs(name=POD_NAME_ENV, value_from=EnvVarSourceArgs(
                field_ref=ObjectFieldSelectorArgs(field_path="metadata.name"))),
            EnvVarArgs(name=POD_IP_ENV, value_from=EnvVarSourceArgs(
                field_ref=ObjectFieldSelectorArgs(field_path="status.podIP"))),
        ]
        env += [EnvVarArgs(name=key, value=value) for key, value in sorted(workload.env.items())]
        env += [EnvVarArgs(name=key, value_from=EnvVarSourceArgs(
                    secret_key_ref=SecretKeySelectorArgs(name=secret_name, key=key)))
                for key in sorted(workload.secret_env)]

        ports = [ContainerPortArgs(name="http", container_port=workload.port, protocol="TCP")]
        ports += [ContainerPortArgs(name=name, container_port=workload.cluster_port, protocol=protocol)
                  for name, protocol in cluster_ports(workload)]

        def http(path: str) -> HTTPGetActionArgs:
            return HTTPGetActionArgs(path=path, port="http")

        resources = workload.resources
        return ContainerArgs(
            name=workload.name,
            image=workload.image,
            image_pull_policy="IfNotPresent",
            args=list(workload.args) + self._cluster_args(workload),
            env=env,
            ports=ports,
            volume_mounts=mounts,
            # The startup probe alone covers the slow start (WAL replay); once it
            # passes, liveness restarts a hung process and readiness takes a
            # replica out of the Services (and holds a rollout) while it is not ready.
            startup_probe=ProbeArgs(http_get=http(workload.liveness.path),
                                    period_seconds=PROBE_PERIOD_SECONDS, timeout_seconds=3,
                                    failure_threshold=startup_failure_threshold(workload)),
            readiness_probe=ProbeArgs(http_get=http(workload.readiness.path),
                                      period_seconds=PROBE_PERIOD_SECONDS, timeout_seconds=3,
                                      failure_threshold=3),
            liveness_probe=ProbeArgs(http_get=http(workload.liveness.path),
                                     period_seconds=10, timeout_seconds=5, failure_threshold=6),
            resources=ResourceRequirementsArgs(
                requests={"cpu": resources.cpu_request, "memory": resources.memory_request},
                limits={"cpu": resources.cpu_limit, "memory": resources.memory_limit},
            ),
            security_context=SecurityContextArgs(
                run_as_non_root=True,
                run_as_user=workload.run_as_user,
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                capabilities=CapabilitiesArgs(drop=["ALL"]),
                seccomp_profile=SeccompProfileArgs(type="RuntimeDefault"),
            ),
        )

    def _cluster_args(self, workload: Workload) -> list[str]:
        """What the cluster needs beyond the component's own --cluster.* flags.

        The Alertmanager component sets `cluster_port` and passes the listen
        address and one --cluster.peer per replica (from the topology, checked
        against the pods' names in `_check`). The platform adds the advertise
        address: Alertmanager refuses to start when it cannot pick a private
        address itself, which happens on clusters whose pod network is outside
        RFC 1918 space; the pod IP comes from the downward API.
        """
        if not workload.cluster_port or any(a.startswith("--cluster.advertise-address") for a in workload.args):
            return []
        return [f"--cluster.advertise-address=[$({POD_IP_ENV})]:{workload.cluster_port}"]

    def _statefulset(self, workload: Workload, labels: dict, pod: PodTemplateSpecArgs,
                     opts: pulumi.ResourceOptions):
        keep = "Retain" if self.settings.keep_data_on_destroy else "Delete"
        claim_spec = PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"],
            resources=VolumeResourceRequirementsArgs(requests={"storage": workload.data_size}),
            storage_class_name=self.settings.storage_class_name,
        )
        return k8s.apps.v1.StatefulSet(
            workload.name,
            metadata=self._metadata(workload.name, labels),
            spec=StatefulSetSpecArgs(
                replicas=workload.replicas,
                service_name=headless_service_name(workload.name),
                selector=LabelSelectorArgs(match_labels=labels),
                # Start all replicas together (an Alertmanager cluster forms at
                # once); updates still roll one pod at a time, highest first,
                # each waiting for the previous one to be ready.
                pod_management_policy="Parallel",
                update_strategy=StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
                min_ready_seconds=10,
                template=pod,
                volume_claim_templates=[PersistentVolumeClaimTemplateArgs(
                    metadata=ObjectMetaArgs(name=DATA_VOLUME, labels=labels),
                    spec=claim_spec,
                )],
                # The claims are the controller's, not Pulumi's, so Pulumi's
                # retain_on_delete cannot reach them: this policy is what keeps
                # them when the StatefulSet is deleted or scaled down.
                persistent_volume_claim_retention_policy=StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                    when_deleted=keep, when_scaled=keep),
            ),
            opts=opts,
        )

    def _deployment(self, workload: Workload, labels: dict, pod: PodTemplateSpecArgs,
                    opts: pulumi.ResourceOptions):
        return k8s.apps.v1.Deployment(
            workload.name,
            metadata=self._metadata(workload.name, labels),
            spec=DeploymentSpecArgs(
                replicas=workload.replicas,
                selector=LabelSelectorArgs(match_labels=labels),
                # Surge first: the old pod goes only once the new one is ready,
                # so a bad config or image leaves the old one running.
                strategy=DeploymentStrategyArgs(type="RollingUpdate", rolling_update=RollingUpdateDeploymentArgs(
                    max_surge=1, max_unavailable=0)),
                min_ready_seconds=10,
                template=pod,
            ),
            opts=opts,
        )

    # ---------------------------------------------------------------- network
    def _services(self, workload: Workload, labels: dict, opts: pulumi.ResourceOptions) -> None:
        http_port = ServicePortArgs(name="http", port=workload.port, target_port="http", protocol="TCP")
        peer_ports = [ServicePortArgs(name=name, port=workload.cluster_port, target_port=name, protocol=protocol)
                      for name, protocol in cluster_ports(workload)]
        k8s.core.v1.Service(
            headless_service_name(workload.name),
            metadata=self._metadata(headless_service_name(workload.name), labels),
            spec=ServiceSpecArgs(
                cluster_ip="None",
                selector=labels,
                ports=[http_port] + peer_ports,
                # Peers must resolve each other while starting (gossip forms
                # before readiness), and Prometheus should see a starting
                # replica's metrics rather than a DNS error.
                publish_not_ready_addresses=True,
            ),
            opts=opts,
        )
        k8s.core.v1.Service(
            balanced_service_name(workload.name),
            metadata=self._metadata(balanced_service_name(workload.name), labels),
            spec=ServiceSpecArgs(
                type="ClusterIP",
                selector=labels,
                ports=[http_port],
                # Grafana's queries stick to one Prometheus replica, so graphs do
                # not flicker between two slightly different histories.
                session_affinity="ClientIP",
            ),
            opts=opts,
        )

    def _network_policy(self, workload: Workload, labels: dict, opts: pulumi.ResourceOptions) -> None:
        """Exactly the flows the workload declares, on top of the namespace's default deny."""
        def pods(app: str) -> NetworkPolicyPeerArgs:
            return NetworkPolicyPeerArgs(pod_selector=LabelSelectorArgs(match_labels=self._selector(app)))

        ingress = [NetworkPolicyIngressRuleArgs(from_=[pods(client)],
                                                ports=[NetworkPolicyPortArgs(port=workload.port, protocol="TCP")])
                   for client in workload.admits]
        egress = [NetworkPolicyEgressRuleArgs(to=[pods(server)],
                                              ports=[NetworkPolicyPortArgs(port=port, protocol="TCP")])
                  for server, port in workload.reaches]
        if workload.cluster_port:
            gossip = [NetworkPolicyPortArgs(port=workload.cluster_port, protocol=protocol)
                      for protocol in ("TCP", "UDP")]
            ingress.append(NetworkPolicyIngressRuleArgs(from_=[pods(workload.name)], ports=gossip))
            egress.append(NetworkPolicyEgressRuleArgs(to=[pods(workload.name)], ports=gossip))
        if workload.published_url:
            # People come in through the ingress controller only.
            ingress.append(NetworkPolicyIngressRuleArgs(
                from_=[NetworkPolicyPeerArgs(namespace_selector=LabelSelectorArgs(
                    match_labels={NAMESPACE_NAME_LABEL: self.settings.ingress_namespace}))],
                ports=[NetworkPolicyPortArgs(port=workload.port, protocol="TCP")]))
        for target in map(destination, workload.reaches_outside):
            peers = None
            if target.namespace:
                peers = [NetworkPolicyPeerArgs(namespace_selector=LabelSelectorArgs(
                    match_labels={NAMESPACE_NAME_LABEL: target.namespace}))]
            elif target.cidr:
                peers = [NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=target.cidr))]
            egress.append(NetworkPolicyEgressRuleArgs(
                to=peers, ports=[NetworkPolicyPortArgs(port=target.port, protocol=target.protocol)]))
        k8s.networking.v1.NetworkPolicy(
            workload.name,
            metadata=self._metadata(workload.name, labels),
            spec=NetworkPolicySpecArgs(
                pod_selector=LabelSelectorArgs(match_labels=labels),
                policy_types=["Ingress", "Egress"],
                ingress=ingress,
                egress=egress,
            ),
            opts=opts,
        )

    def _ingress(self, workload: Workload, labels: dict, opts: pulumi.ResourceOptions) -> None:
        """The workload at its published URL, through the cluster's ingress controller."""
        url = urlparse(workload.published_url)
        tls_secret = workload.published_tls_secret
        k8s.networking.v1.Ingress(
            workload.name,
            metadata=self._metadata(workload.name, labels),
            spec=IngressSpecArgs(
                ingress_class_name=self.settings.ingress_class_name,
                tls=[IngressTLSArgs(hosts=[url.hostname], secret_name=tls_secret)] if tls_secret else None,
                rules=[IngressRuleArgs(host=url.hostname, http=HTTPIngressRuleValueArgs(paths=[
                    HTTPIngressPathArgs(
                        path=url.path or "/", path_type="Prefix",
                        backend=IngressBackendArgs(service=IngressServiceBackendArgs(
                            name=balanced_service_name(workload.name),
                            port=ServiceBackendPortArgs(number=workload.port)))),
                ]))],
            ),
            opts=opts,
        )

