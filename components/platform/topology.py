"""Where the stack's services run, and how they find each other there: names and addresses only.

Pure (no Pulumi, no provider): the renderers write these addresses into
prometheus.yml and the datasource, and the platforms create objects whose DNS
names are exactly these. A platform refuses a workload whose declared
addresses differ from the ones it would give it.
"""
from __future__ import annotations

from dataclasses import dataclass

from components import constants as c
from components.settings import Settings

# The environment variable the `replica` external label expands to on
# Kubernetes. Prometheus 3 expands ${VAR} in external_labels, and the downward
# API sets it to the pod's name, so both HA replicas share one prometheus.yml
# yet label their series apart.
POD_NAME_ENV = "POD_NAME"


@dataclass(frozen=True)
class Topology:
    """Addresses (host:port) at which each replica is reached inside the stack."""
    prometheus: tuple[str, ...]
    alertmanager: tuple[str, ...]
    alertmanager_peers: tuple[str, ...]     # gossip addresses; empty for a single Alertmanager
    grafana: tuple[str, ...]
    celery_exporter: tuple[str, ...]
    prometheus_url: str                     # the datasource URL Grafana uses (any ready replica)
    alertmanager_url: str                   # any ready Alertmanager, for a sign-in proxy in front of them
    # Value of the `replica` external label: an environment reference Prometheus
    # expands at start, so each HA replica gets its own and one config serves all.
    replica_label: str


def topology(settings: Settings) -> Topology:
    return kubernetes_topology(settings) if settings.on_kubernetes else docker_topology(settings)


# --------------------------------------------------------------------------
# Docker: one container per service on one network, reached by its name.
# --------------------------------------------------------------------------
def container_address(name: str, port: int) -> str:
    return f"{name}:{port}"


def docker_topology(settings: Settings) -> Topology:
    return Topology(
        prometheus=(container_address(c.PROMETHEUS, c.PROMETHEUS_PORT),),
        alertmanager=(container_address(c.ALERTMANAGER, c.ALERTMANAGER_PORT),),
        alertmanager_peers=(),
        grafana=(container_address(c.GRAFANA, c.GRAFANA_PORT),),
        celery_exporter=(container_address(c.CELERY_EXPORTER, c.CELERY_EXPORTER_PORT),),
        prometheus_url=f"http://{container_address(c.PROMETHEUS, c.PROMETHEUS_PORT)}",
        alertmanager_url=f"http://{container_address(c.ALERTMANAGER, c.ALERTMANAGER_PORT)}",
        replica_label="${HOSTNAME}",
    )


# --------------------------------------------------------------------------
# Kubernetes: StatefulSet pods behind a headless Service, plus a balanced one.
# --------------------------------------------------------------------------
def headless_service_name(name: str) -> str:
    """The governing Service: gives each pod `<pod>.<name>.<ns>.svc`."""
    return name


def balanced_service_name(name: str) -> str:
    """The ClusterIP Service spreading connections over ready replicas."""
    return f"{name}-lb"


def pod_addresses(name: str, namespace: str, replicas: int, port: int) -> tuple[str, ...]:
    """host:port of every StatefulSet pod, through the headless Service."""
    service = headless_service_name(name)
    return tuple(f"{name}-{i}.{service}.{namespace}.svc:{port}" for i in range(replicas))


def service_address(service: str, namespace: str, port: int) -> str:
    return f"{service}.{namespace}.svc:{port}"


def kubernetes_topology(settings: Settings) -> Topology:
    ns = settings.namespace
    return Topology(
        prometheus=pod_addresses(c.PROMETHEUS, ns, settings.prometheus_replicas, c.PROMETHEUS_PORT),
        # Every Alertmanager is listed: Prometheus must send each alert to all of
        # them (they deduplicate by gossip); a load-balanced Service would hand
        # each alert to one only, and a partitioned one would never hear of it.
        alertmanager=pod_addresses(c.ALERTMANAGER, ns, settings.alertmanager_replicas, c.ALERTMANAGER_PORT),
        # A lone Alertmanager needs no cluster.
        alertmanager_peers=(pod_addresses(c.ALERTMANAGER, ns, settings.alertmanager_replicas,
                                          c.ALERTMANAGER_CLUSTER_PORT)
                            if settings.alertmanager_replicas > 1 else ()),
        # Single replicas: the headless name resolves to the pod itself, so the
        # `instance` label stays stable across pod restarts.
        grafana=(service_address(headless_service_name(c.GRAFANA), ns, c.GRAFANA_PORT),),
        celery_exporter=(service_address(headless_service_name(c.CELERY_EXPORTER), ns, c.CELERY_EXPORTER_PORT),),
        prometheus_url="http://" + service_address(balanced_service_name(c.PROMETHEUS), ns, c.PROMETHEUS_PORT),
        alertmanager_url="http://" + service_address(balanced_service_name(c.ALERTMANAGER), ns, c.ALERTMANAGER_PORT),
        replica_label="${" + POD_NAME_ENV + "}",
    )
