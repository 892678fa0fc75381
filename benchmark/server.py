"""The deployed Prometheus release, run on loopback over the synthetic TSDB with the stack's rules."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from tools import binaries


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prometheus_binary() -> str:
    return binaries.binary("prometheus", "prod")


def server_config(prometheus_yml: str) -> str:
    """The stack's configuration without its scrape targets and Alertmanagers.

    Nothing is scraped: the TSDB already holds the month. The global section
    (evaluation interval, external labels) and the rule files are the stack's.
    """
    config = yaml.safe_load(prometheus_yml)
    config.pop("scrape_configs", None)
    config.pop("alerting", None)
    config.pop("remote_write", None)
    config["rule_files"] = ["rules/*.yml"]
    return yaml.safe_dump(config, sort_keys=False)


def server_flags(rendered_flags: list[str], data: Path, config: Path, port: int) -> list[str]:
    """The stack's flags with this machine's paths and a loopback address."""
    kept = [flag for flag in rendered_flags
            if not flag.startswith(("--config.file=", "--storage.tsdb.path=", "--web.external-url=",
                                    "--web.listen-address="))]
    return [f"--config.file={config}", f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url=http://127.0.0.1:{port}", *kept]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, params: Optional[dict] = None, timeout: float = 300) -> bytes:
        query = ("?" + urllib.parse.urlencode(params, doseq=True)) if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=timeout) as response:
            return response.read()

    def post(self, path: str, params: dict, timeout: float = 300) -> bytes:
        # Grafana's datasource sends its queries as POST forms (httpMethod POST).
        body = urllib.parse.urlencode(params, doseq=True).encode()
        request = urllib.request.Request(self.url + path, data=body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()

    def api(self, path: str, params: Optional[dict] = None, timeout: float = 300) -> dict:
        # Queries go as POST forms like Grafana's; the label values endpoint takes GET only.
        if params and path in ("/api/v1/query", "/api/v1/query_range"):
            body = self.post(path, params, timeout)
        else:
            body = self.get(path, params, timeout=timeout)
        data = json.loads(body)
        if data.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {data}")
        return data["data"]

    def metrics(self) -> dict[str, list[tuple[dict, float]]]:
        """The server's own /metrics: name -> [(labels, value)]."""
        found: dict[str, list[tuple[dict, float]]] = {}
        for line in self.get("/metrics").decode().splitlines():
            if not line or line.startswith("#"):
                continue
            match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)", line)
            if not match:
                continue
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
            found.setdefault(match.group(1), []).append((labels, float(match.group(4))))
        return found

    def metric(self, name: str) -> float:
        return sum(value for _, value in self.metrics().get(name, []))

    def memory(self) -> dict[str, int]:
        """Resident memory now and at its peak (bytes), from the kernel."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M))
        return {"rss": int(values["VmRSS"]) * 1024, "peak": int(values["VmHWM"]) * 1024}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(workdir: Path, data: Path, prometheus_yml: str, rule_files: dict[str, str], rendered_flags: list[str],
          *, ready_timeout: float = 900) -> Server:
    """Prometheus on a free loopback port, niced like everything heavy here; returns once it is ready."""
    (workdir / "rules").mkdir(parents=True, exist_ok=True)
    for name, text in rule_files.items():
        (workdir / "rules" / name).write_text(text)
    config = workdir / "prometheus.yml"
    config.write_text(server_config(prometheus_yml))
    port = free_port()
    log_path = workdir / "prometheus.log"
    env = {**os.environ, "POD_NAME": "benchmark"}
    with log_path.open("w") as log:
        process = subprocess.Popen(["nice", "-n", "19", "ionice", "-c3", prometheus_binary(),
                                    *server_flags(rendered_flags, data, config, port)],
                                   stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    server = Server(process, port, log_path)
    deadline = time.time() + ready_timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prometheus exited ({process.returncode}):\n"
                               + "\n".join(log_path.read_text().splitlines()[-20:]))
        try:
            server.get("/-/ready", timeout=5)
            return server
        except OSError:
            time.sleep(1)
    server.stop()
    raise RuntimeError(f"Prometheus was not ready within {ready_timeout:.0f} s; see {log_path}")
