"""Real Prometheus and Alertmanager processes on loopback ports with temporary data directories."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import requests

from gameday.config import with_defaults, with_local_addresses, with_local_values
from gameday.procs import GamedayError, Supervisor, free_port, require_binary, wait_http

REDIS_HINT = "Install Debian's redis-server (scripts/setup does), or point {env} at the binary."


def _deployed_binary(command: str, stack: str) -> str:
    from tools.binaries import BinariesError, binary
    try:
        return binary(command, stack)
    except BinariesError as error:
        raise GamedayError(str(error)) from None


def prometheus_binary(override: Optional[str], stack: str) -> str:
    """The Prometheus the stack deploys (built by scripts/setup), unless told otherwise."""
    explicit = override or os.environ.get("GAMEDAY_PROMETHEUS")
    if explicit:
        return require_binary(explicit, "Prometheus", "Check --prometheus or GAMEDAY_PROMETHEUS.")
    return _deployed_binary("prometheus", stack)


def alertmanager_binary(override: Optional[str], stack: str) -> str:
    """The Alertmanager the stack deploys (built by scripts/setup), unless told otherwise."""
    explicit = override or os.environ.get("GAMEDAY_ALERTMANAGER")
    if explicit:
        return require_binary(explicit, "Alertmanager", "Check --alertmanager or GAMEDAY_ALERTMANAGER.")
    return _deployed_binary("alertmanager", stack)


def redis_binary(override: Optional[str]) -> str:
    return require_binary(override or os.environ.get("GAMEDAY_REDIS_SERVER", "/usr/bin/redis-server"),
                          "Redis", REDIS_HINT.format(env="GAMEDAY_REDIS_SERVER or --redis-server"))


@dataclass
class LoopbackServer:
    """One real server process: its binary, config, data directory and port on 127.0.0.1."""
    index: int
    binary: str
    config_path: Path
    data_dir: Path
    port: int = field(default_factory=free_port)

    kind = "server"

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.index}"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.target}"


@dataclass
class PrometheusReplica(LoopbackServer):
    deployed_args: tuple[str, ...] = ()     # the stack's rendered Prometheus command
    extra_args: tuple[str, ...] = ()

    kind = "prometheus"

    def argv(self) -> list[str]:
        # The deployed arguments with local paths, plus a loopback address.
        return [
            self.binary,
            *with_defaults(with_local_addresses(
                with_local_values(self.deployed_args, {"--config.file": str(self.config_path),
                                                       "--storage.tsdb.path": str(self.data_dir)}),
                {"--web.listen-address": self.target}), {"--web.external-url": self.url}),
            *self.extra_args,
        ]

    def start(self, supervisor: Supervisor, label_variables: tuple[str, ...] = ("HOSTNAME",)) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Each replica's `replica` external label comes from the environment
        # (${POD_NAME} on Kubernetes, ${HOSTNAME} on Docker): give each its own.
        child = supervisor.start(self.name, self.argv(), env={name: self.name for name in label_variables})
        wait_http(f"{self.url}/-/ready", child=child, timeout=90)

    def query(self, expr: str, at: Optional[float] = None) -> list[dict]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return _api(f"{self.url}/api/v1/query", params)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        return _api(f"{self.url}/api/v1/query_range",
                    {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}"})["result"]

    def alerts(self) -> list[dict]:
        return _api(f"{self.url}/api/v1/alerts", {})["alerts"]

    def version(self) -> str:
        return _api(f"{self.url}/api/v1/status/buildinfo", {})["version"]

    def targets_up(self) -> dict[str, bool]:
        active = _api(f"{self.url}/api/v1/targets", {"state": "active"})["activeTargets"]
        return {f"{t['labels']['job']} {t['labels']['instance']}": t["health"] == "up" for t in active}


@dataclass
class AlertmanagerReplica(LoopbackServer):
    deployed_args: tuple[str, ...] = ()   # the stack's rendered Alertmanager command
    cluster_port: int = field(default_factory=free_port)
    peers: tuple[str, ...] = ()

    kind = "alertmanager"

    @property
    def cluster_address(self) -> str:
        return f"127.0.0.1:{self.cluster_port}"

    def argv(self) -> list[str]:
        args = [
            self.binary,
            *with_defaults(with_local_addresses(
                with_local_values(self.deployed_args, {"--config.file": str(self.config_path),
                                                       "--storage.path": str(self.data_dir)}),
                {"--web.listen-address": self.target}), {"--web.external-url": self.url}),
        ]
        if self.peers:
            args.append(f"--cluster.listen-address={self.cluster_address}")
            args.append(f"--cluster.advertise-address={self.cluster_address}")
            args.extend(f"--cluster.peer={peer}" for peer in self.peers if peer != self.cluster_address)
        else:
            args.append("--cluster.listen-address=")
        return args

    def start(self, supervisor: Supervisor, *, wait: bool = True) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        child = supervisor.start(self.name, self.argv())
        if wait:
            wait_http(f"{self.url}/-/ready", child=child, timeout=90)

    def silences(self) -> list[dict]:
        response = requests.get(f"{self.url}/api/v2/silences", timeout=10)
        response.raise_for_status()
        return response.json()

    def add_silence(self, matchers: dict[str, str], minutes: int, comment: str) -> str:
        now = time.time()
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
            "startsAt": _iso(now), "endsAt": _iso(now + minutes * 60),
            "createdBy": "gameday", "comment": comment,
        }
        response = requests.post(f"{self.url}/api/v2/silences", json=body, timeout=10)
        response.raise_for_status()
        return response.json()["silenceID"]

    def version(self) -> str:
        response = requests.get(f"{self.url}/api/v2/status", timeout=10)
        response.raise_for_status()
        return response.json()["versionInfo"]["version"]

    def cluster_peers(self) -> int:
        response = requests.get(f"{self.url}/api/v2/status", timeout=10)
        response.raise_for_status()
        return len((response.json().get("cluster") or {}).get("peers") or [])


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{int(timestamp % 1 * 1000):03d}Z"


def _api(url: str, params: dict) -> dict:
    try:
        response = requests.get(url, params=params, timeout=30)
    except requests.RequestException as error:
        raise GamedayError(f"{url}: {error}") from error
    body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
    if response.status_code != 200 or body.get("status") != "success":
        raise GamedayError(f"{url} {params}: HTTP {response.status_code} {body.get('error') or response.text[:300]}")
    return body["data"]
