"""Where the stack's services run, and how they find each other there.

`topology(settings)` is pure: the renderers use it to write the addresses into
prometheus.yml, the same addresses the platforms give the services.
"""
from __future__ import annotations

from dataclasses import dataclass

from components import constants as c
from components.settings import Settings


@dataclass(frozen=True)
class Topology:
    """Addresses (host:port) at which each replica is reached inside the stack."""
    prometheus: tuple[str, ...]
    alertmanager: tuple[str, ...]
    alertmanager_peers: tuple[str, ...]     # gossip addresses; empty for a single Alertmanager
    grafana: tuple[str, ...]
    celery_exporter: tuple[str, ...]
    prometheus_url: str                     # the datasource URL Grafana uses
    # Value of the `replica` external label: an environment reference Prometheus
    # expands at start, so each HA replica gets its own and one config serves all.
    replica_label: str


def topology(settings: Settings) -> Topology:
    if settings.on_kubernetes:
        from components.platform.kubernetes import kubernetes_topology
        return kubernetes_topology(settings)
    return docker_topology(settings)


def docker_topology(settings: Settings) -> Topology:
    """One of each service on one Docker network, reached by container name."""
    return Topology(
        prometheus=(f"{c.PROMETHEUS}:{c.PROMETHEUS_PORT}",),
        alertmanager=(f"{c.ALERTMANAGER}:{c.ALERTMANAGER_PORT}",),
        alertmanager_peers=(),
        grafana=(f"{c.GRAFANA}:{c.GRAFANA_PORT}",),
        celery_exporter=(f"{c.CELERY_EXPORTER}:{c.CELERY_EXPORTER_PORT}",),
        prometheus_url=f"http://{c.PROMETHEUS}:{c.PROMETHEUS_PORT}",
        replica_label="${HOSTNAME}",
    )


def create_platform(settings: Settings, name: str):
    """The platform the settings ask for (the only place that chooses one)."""
    if settings.on_kubernetes:
        from components.platform.kubernetes import KubernetesPlatform
        return KubernetesPlatform(settings, name, None)
    from components.platform.docker import DockerPlatform
    return DockerPlatform(settings, name)
