"""Kubernetes objects as a mocked Pulumi run declares them, and checks on them.

- `autonaming`: mocks name objects the way the Kubernetes provider does, so
  references to auto-named ConfigMaps and Secrets resolve to real names.
- `manifest`: the object the provider would send, rebuilt from captured inputs.
- `schema_errors`: strict OpenAPI validation with kubernetes-validate.
- `restricted_violations`: the Pod Security "restricted" profile, field by field.
- `NetworkModel`: answers "may A open a connection to B on port P?" from the
  declared NetworkPolicies, as a CNI that enforces them would.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import kubernetes_validate
import pulumi

from tests.support import pulumi_mocks

KUBERNETES = "kubernetes:"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
CONTROLLERS = (STATEFULSET, DEPLOYMENT)


def autoname(logical_name: str) -> str:
    return f"{logical_name}-{hashlib.sha256(logical_name.encode()).hexdigest()[:8]}"


def autonaming(new_resource):
    """Wrap a mock's new_resource so Kubernetes objects without metadata.name get
    `<logical name>-<suffix>`, as the provider names them."""
    @functools.wraps(new_resource)
    def wrapper(self, args: pulumi.runtime.MockResourceArgs):
        resource_id, outputs = new_resource(self, args)
        if args.typ.startswith(KUBERNETES) and not args.typ.startswith("kubernetes:index"):
            metadata = dict(outputs.get("metadata") or {})
            if not metadata.get("name"):
                metadata["name"] = autoname(args.name)
                outputs = {**outputs, "metadata": metadata}
        return resource_id, outputs
    return wrapper


class AutonamingMocks(pulumi_mocks.CapturingMocks):
    new_resource = autonaming(pulumi_mocks.CapturingMocks.new_resource)


class OptionsRecordingMonitor(pulumi_mocks.RecordingMonitor):
    """Also keeps the options Declared leaves out (timeouts, replace_on_changes)."""

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        timeouts = request.customTimeouts
        self.mocks.options[response.urn] = {
            "custom_timeouts": {"create": timeouts.create, "update": timeouts.update, "delete": timeouts.delete},
            "replace_on_changes": list(request.replaceOnChanges),
        }
        return response


# --------------------------------------------------------------------------
# Manifests.
# --------------------------------------------------------------------------
def _integers(value: Any) -> Any:
    """Mocks deliver every number as a float; the schema wants integers where
    the API has them, and no field here is a fraction."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value


def manifest(declared) -> dict:
    """The object as the provider would send it (secrets revealed, names filled)."""
    body = _integers(copy.deepcopy(declared.inputs))
    body.setdefault("metadata", {})
    if not body["metadata"].get("name"):
        body["metadata"]["name"] = autoname(declared.name)
    return body


def kubernetes_objects(declared: Iterable) -> list:
    return [d for d in declared if d.type.startswith(KUBERNETES) and not d.type.startswith("kubernetes:index")
            and not d.type.startswith("pulumi:providers")]


def schema_errors(declared: Iterable, version: str) -> list[str]:
    errors = []
    for d in kubernetes_objects(declared):
        try:
            kubernetes_validate.validate(manifest(d), version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(p) for p in getattr(error, "path", []))
            errors.append(f"{d.type} {d.name}: {getattr(error, 'message', error)} at {where or '(root)'}")
    return errors


def pod_spec(body: dict) -> dict:
    return body["spec"]["template"]["spec"]


# --------------------------------------------------------------------------
# Pod Security Standards, "restricted" (and everything "baseline" forbids).
# --------------------------------------------------------------------------
ALLOWED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                        "persistentVolumeClaim", "projected", "secret"}


def restricted_violations(name: str, spec: dict) -> list[str]:
    problems = []
    pod_context = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            problems.append(f"{name}: {flag}")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            problems.append(f"{name}: volume {volume['name']} of type {kinds}")
    if pod_context.get("runAsUser") == 0:
        problems.append(f"{name}: pod runs as root")
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        where = f"{name}/{container['name']}"
        context = container.get("securityContext") or {}
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            problems.append(f"{where}: runAsNonRoot not set")
        if context.get("runAsUser", pod_context.get("runAsUser")) in (0, None):
            problems.append(f"{where}: no non-zero runAsUser")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation not false")
        if context.get("privileged"):
            problems.append(f"{where}: privileged")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{where}: capabilities not dropping ALL")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{where}: adds capabilities {capabilities['add']}")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{where}: seccompProfile {seccomp}")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: root filesystem writable")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{where}: hostPort {port['hostPort']}")
    return problems


# --------------------------------------------------------------------------
# NetworkPolicy evaluation.
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace + labels) or an address outside the cluster (ip)."""
    namespace: Optional[str] = None
    labels: dict = field(default_factory=dict)
    ip: Optional[str] = None

    def __hash__(self) -> int:
        return hash((self.namespace, tuple(sorted(self.labels.items())), self.ip))


def _selects(selector: Optional[dict], labels: dict) -> bool:
    """A LabelSelector (matchLabels and matchExpressions In/NotIn/Exists)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


class NetworkModel:
    def __init__(self, declared: Iterable, namespace_labels: dict[str, dict]):
        self.policies = [manifest(d) for d in declared if d.type == NETWORK_POLICY]
        self.namespace_labels = namespace_labels

    def _namespace_labels(self, namespace: str) -> dict:
        return {"kubernetes.io/metadata.name": namespace, **self.namespace_labels.get(namespace, {})}

    def _peer_matches(self, peer: dict, policy_namespace: str, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            if other.ip is None:
                return False   # pod traffic is matched by selectors (CNIs differ; assume not)
            block = peer["ipBlock"]
            address = ipaddress.ip_address(other.ip)
            inside = address in ipaddress.ip_network(block["cidr"])
            return inside and not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
        if other.ip is not None:
            return False
        if "namespaceSelector" in peer:
            if not _selects(peer["namespaceSelector"], self._namespace_labels(other.namespace)):
                return False
        elif other.namespace != policy_namespace:
            return False
        if "podSelector" in peer:
            return _selects(peer["podSelector"], other.labels)
        return True

    @staticmethod
    def _port_matches(rule: dict, port: int, protocol: str) -> bool:
        ports = rule.get("ports")
        if not ports:
            return True
        for entry in ports:
            if entry.get("protocol", "TCP") != protocol:
                continue
            if "port" not in entry:
                return True
            low, high = entry["port"], entry.get("endPort", entry["port"])
            if isinstance(low, int) and low <= port <= high:
                return True
        return False

    def _allowed(self, subject: Endpoint, other: Endpoint, port: int, protocol: str, direction: str) -> bool:
        """Whether `subject`'s policies let traffic in/out to `other`.

        Unselected pods are open; selected pods are limited to the union of rules.
        """
        if subject.ip is not None:
            return True   # outside the cluster: no policy of ours applies
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        selecting = [p for p in self.policies
                     if p["metadata"]["namespace"] == subject.namespace
                     and _selects(p["spec"]["podSelector"], subject.labels)
                     and direction in p["spec"].get("policyTypes", ["Ingress"])]
        if not selecting:
            return True
        for policy in selecting:
            for rule in policy["spec"].get(key) or []:
                peers = rule.get(peers_key)
                if peers and not any(self._peer_matches(peer, policy["metadata"]["namespace"], other)
                                     for peer in peers):
                    continue
                if self._port_matches(rule, port, protocol):
                    return True
        return False

    def allows(self, source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP") -> bool:
        return (self._allowed(source, target, port, protocol, "Egress")
                and self._allowed(target, source, port, protocol, "Ingress"))
