"""What a workload is, independently of where it runs.

Components describe their service as a `Workload`; a `Platform` (Docker or
Kubernetes) places it. Components never ask which platform they are on: what
differs (addresses, replica counts, how files and secrets travel) is answered
by the platform.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Protocol

import pulumi


@dataclass(frozen=True)
class File:
    """A file placed in the container at `path`. `content` may be an Output.

    `published_as` is set when the platform already published the file as an
    object of its own (a ConfigMap on Kubernetes, by `Platform.publish`): the
    workload then mounts that object instead of creating one.
    """
    path: str
    content: Any
    published_as: Any = None


@dataclass(frozen=True)
class HttpCheck:
    """An HTTP GET on the workload's port that must answer 2xx."""
    path: str


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str


@dataclass(frozen=True)
class Workload:
    """One service of the stack, as the platforms need to know it."""
    name: str                                  # DNS name of the service on both platforms
    image: str
    args: tuple[str, ...]
    port: int                                  # the container port serving HTTP
    config_files: tuple[File, ...] = ()        # rendered, non-secret configuration
    secret_files: tuple[File, ...] = ()        # secret Outputs delivered as files
    secret_env: Mapping[str, Any] = field(default_factory=dict)   # secret Outputs as env
    env: Mapping[str, str] = field(default_factory=dict)
    data_path: Optional[str] = None            # where persistent data lives (kept volume/claim)
    data_size: str = "1Gi"                     # claim size on Kubernetes
    liveness: HttpCheck = HttpCheck("/")
    readiness: HttpCheck = HttpCheck("/")
    startup_budget_seconds: int = 60           # how long it may take to become live
    replicas: int = 1                          # what the component asks for; the platform may cap it
    cluster_port: Optional[int] = None         # peer-to-peer port (Alertmanager gossip)
    run_as_user: int = 65534
    resources: Resources = Resources("100m", "128Mi", "500m", "512Mi")
    host_port: Optional[int] = None            # published on 127.0.0.1 where the platform publishes ports
    # A command that exits 0 when the service is healthy, for platforms whose
    # health checks run inside the container (Docker); images differ in tools.
    health_command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Placed:
    """What a placed workload offers to the rest of the stack."""
    name: str
    internal_url: pulumi.Output          # how other services reach it (load-balanced)
    external_url: pulumi.Output          # how a person reaches it
    ready: list                          # resources to depend on for "it is up"


class Platform(Protocol):
    """Places workloads. Implemented by DockerPlatform and KubernetesPlatform."""

    def place(self, workload: Workload, parent: pulumi.Resource) -> Placed: ...

    def publish(self, name: str, file: File, parent: pulumi.Resource) -> File:
        """Publish one configuration file as its own object where the platform has
        one (Kubernetes: a ConfigMap named `name`, child of `parent`), so a preview
        names the file that changed. Returns the File for a Workload to mount.
        Docker has no such object outside Swarm: the file is returned unchanged and
        travels as an upload of the container that mounts it."""
        ...
