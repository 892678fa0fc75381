"""The real Celery side: Debian's redis-server, a real worker with events on, the real exporter."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import redis

from gameday import celery_app
from gameday.procs import GamedayError, Supervisor, free_port, wait_http, wait_tcp

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_EXPORTER_VENV = PROJECT_DIR / ".cache" / "gameday" / "exporter-venv"
# The exporter's releases are published on PyPI under the version its image is tagged with.
EXPORTER_PACKAGE = "prometheus-exporter-celery"
# What the exporter's release needs beside it: kombu 5.6 wants redis-py 6,
# which the exporter's own pin excludes.
EXPORTER_COMPANIONS = ("celery==5.5.3", "kombu<5.6", "packaging")


def exporter_release(stack: str) -> str:
    """The exporter release the stack deploys: the tag of its celeryExporterImage (default or its own)."""
    from components.settings import SettingsError, from_stack_file, image_release
    try:
        image = from_stack_file(stack)[0].celery_exporter_image
    except SettingsError as error:
        raise GamedayError(str(error)) from None
    release = image_release(image)
    if release is None:
        raise GamedayError(f"celeryExporterImage {image!r}: its tag is not a release version such as 1.2.3, "
                           "so there is no release of the exporter to run")
    return ".".join(map(str, release))


def exporter_requirements(version: str) -> tuple[str, ...]:
    return (f"{EXPORTER_PACKAGE}=={version}", *EXPORTER_COMPANIONS)


def ensure_exporter_venv(venv: Path, version: str) -> Path:
    """The exporter's own virtualenv (its top-level module is called `src`), created once per release and reused."""
    python = venv / "bin" / "python"
    marker = venv / ".gameday-requirements"
    requirements = exporter_requirements(version)
    wanted = "\n".join(requirements)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    print(f"gameday: installing the celery exporter {version} into {venv} (once)", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    result = subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise GamedayError("could not install the celery exporter "
                           f"({' '.join(requirements)}):\n{result.stderr[-2000:]}")
    marker.write_text(wanted)
    return python


def installed_exporter_version(python: Path) -> str:
    """The exporter release a virtualenv holds, as its package metadata says."""
    result = subprocess.run([str(python), "-c", "import importlib.metadata as m, sys; "
                             f"print(m.version({EXPORTER_PACKAGE!r}))"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else f"unknown ({result.stderr.strip()[-200:]})"


def redirect_exporter_flags(args: Sequence[str], port: int) -> list[str]:
    """The deployed flags with only where it listens changed."""
    result = []
    skip_next = False
    for index, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        name = arg.split("=", 1)[0]
        if name in ("--host", "--port"):
            skip_next = "=" not in arg
            continue
        result.append(arg)
    return result + ["--host=127.0.0.1", f"--port={port}"]


class CelerySide:
    def __init__(self, supervisor: Supervisor, work_dir: Path, *, redis_server: str, exporter_python: Path,
                 exporter_args: Sequence[str]):
        self.supervisor = supervisor
        self.work_dir = work_dir
        self.redis_server = redis_server
        self.exporter_python = exporter_python
        self.exporter_args = list(exporter_args)
        self.redis_port = free_port()
        self.exporter_port = free_port()
        self.broker_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.workers: list[str] = []
        self._redis: Optional[redis.Redis] = None

    @property
    def exporter_target(self) -> str:
        return f"127.0.0.1:{self.exporter_port}"

    def start(self, workers: int = 1) -> None:
        data = self.work_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        child = self.supervisor.start("redis", [
            self.redis_server, "--port", str(self.redis_port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(data), "--daemonize", "no"])
        wait_tcp(self.redis_port, child=child)
        self._redis = redis.Redis(host="127.0.0.1", port=self.redis_port, db=0)
        celery_app.app.conf.broker_url = self.broker_url
        for index in range(workers):
            self.start_worker(index)
        exporter = self.supervisor.start(
            "celery-exporter",
            [str(self.exporter_python), "-c", "from src.cli import cli; cli(auto_envvar_prefix='CE')",
             *redirect_exporter_flags(self.exporter_args, self.exporter_port)],
            env={"CE_BROKER_URL": self.broker_url})
        wait_http(f"http://{self.exporter_target}/metrics", child=exporter, timeout=60)

    def start_worker(self, index: int) -> None:
        name = f"worker-{index}"
        child = self.supervisor.start(name, [
            sys.executable, "-m", "celery", "-A", "gameday.celery_app", "worker",
            "-E", "--loglevel=INFO", "--pool=prefork", "--concurrency=2",
            "-Q", ",".join(celery_app.CONSUMED_QUEUES), "-n", f"{name}@gameday"],
            env={"GAMEDAY_BROKER_URL": self.broker_url, "PYTHONPATH": str(PROJECT_DIR)},
            cwd=PROJECT_DIR)
        deadline = time.time() + 60
        while time.time() < deadline:
            self.supervisor.expect_alive(name)
            if "ready." in child.log_path.read_text(errors="replace"):
                break
            time.sleep(0.3)
        else:
            raise GamedayError(f"{name} not ready after 60s:\n{child.log_tail()}")
        if name not in self.workers:
            self.workers.append(name)

    def stop_workers(self) -> None:
        """Every worker goes away (warm shutdown, as a deploy or a scale-down does)."""
        for name in self.workers:
            self.supervisor.stop(name, timeout=30)

    def start_workers(self) -> None:
        for index, _ in enumerate(list(self.workers)):
            self.start_worker(index)

    def send(self, task: str, count: int = 1, **kwargs) -> None:
        for _ in range(count):
            celery_app.app.send_task(task, kwargs=kwargs, queue=celery_app.ROUTES.get(task, "default"))

    def queue_length(self, queue: str) -> int:
        return int(self._redis.llen(queue))

    def purge(self, queue: str) -> None:
        """Drop a queue's backlog, as an operator does after fixing what stalled it."""
        self._redis.delete(queue)
