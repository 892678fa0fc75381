"""What a workload is, independently of where it runs.

Components describe their service as a `Workload`, network flows included
(who may reach it, what it reaches, whether people reach it, its peers); a
`Platform` (Docker or Kubernetes) places it and turns that description into
objects without knowing any service by name. Components never ask which
platform they are on: what differs (how files, secrets and flows travel) is
answered by the platform.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Protocol
from urllib.parse import urlparse

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
class Outside:
    """A connection a workload opens to something outside the stack.

    `host` is a DNS name or an IP literal, or None when the address is not
    known here (a secret URL, a receiver's provider): then only the port is.
    """
    port: int
    host: Optional[str] = None
    protocol: str = "TCP"

    @classmethod
    def url(cls, url: str) -> "Outside":
        parsed = urlparse(url)
        return cls(parsed.port or (443 if parsed.scheme == "https" else 80), parsed.hostname or None)

    @classmethod
    def host_port(cls, host_port: str) -> "Outside":
        host, _, port = host_port.rpartition(":")
        return cls(int(port), host.strip("[]") or None)


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
    cluster_peers: tuple[str, ...] = ()        # gossip address of every replica, itself included
    # The addresses the rest of the stack uses for its replicas (the topology
    # rendered into the configs); the platform refuses to place a workload
    # whose objects would answer at other names.
    addresses: tuple[str, ...] = ()
    # Network flows inside the stack: services that connect to `port`, and
    # (service, port) pairs it connects to; each side declares its half and the
    # platform checks the halves agree.
    admits: tuple[str, ...] = ()
    reaches: tuple[tuple[str, int], ...] = ()
    reaches_outside: tuple[Outside, ...] = ()  # connections leaving the stack
    published_url: Optional[str] = None        # where people reach it (an Ingress on Kubernetes)
    published_tls_secret: Optional[str] = None  # the certificate for that URL's host, where the platform holds one
    run_as_user: int = 65534
    resources: Resources = Resources("100m", "128Mi", "500m", "512Mi")
    host_port: Optional[int] = None            # published on 127.0.0.1 where the platform publishes ports
    # A command that exits 0 when the service is healthy, for platforms whose
    # health checks run inside the container (Docker); images differ in tools.
    health_command: tuple[str, ...] = ()


def flow_mismatches(placed: Iterable[Workload], new: Workload) -> list[str]:
    """Where `new` and the workloads already placed disagree about who connects to whom, and on which port."""
    problems = []
    for other in [*placed, new]:
        for client, server in ((new, new),) if other is new else ((new, other), (other, new)):
            reaches = {port for service, port in client.reaches if service == server.name}
            admitted = client.name in server.admits
            if reaches and reaches != {server.port}:
                problems.append(f"{client.name} reaches {server.name} on {sorted(reaches)}, which serves on "
                                f"{server.port}")
            if bool(reaches) != admitted:
                problems.append(f"{client.name} {'reaches' if reaches else 'does not reach'} {server.name}, "
                                f"which {'admits' if admitted else 'does not admit'} it")
    return problems


def refuse_misplaced(placed: Iterable[Workload], workload: Workload, answers_at: Iterable[tuple[str, ...]],
                     objects: str) -> None:
    """ValueError unless the workload's declared addresses are among those its `objects` would answer at,
    and its flows agree with those of the workloads already placed."""
    answers_at = set(answers_at)
    if workload.addresses and workload.addresses not in answers_at:
        raise ValueError(f"{workload.name}: the configs address it as {workload.addresses}, but its {objects} "
                         f"answer at {' or '.join(map(str, sorted(answers_at)))}")
    problems = flow_mismatches(placed, workload)
    if problems:
        raise ValueError(f"{workload.name}: " + "; ".join(problems))


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
