"""Child processes that never outlive the game day.

Every server the harness starts runs in a process group of its own, so a
worker's pool children or a shell's children go down with it. The group is
stopped on normal exit, on an exception, on Ctrl-C and on SIGTERM (`atexit`
plus signal handlers that turn the signal into an exception, so every
`finally` runs).
"""
from __future__ import annotations

import atexit
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

import requests


class GamedayError(RuntimeError):
    """Something the game day needs is missing or broken; the message says what to do."""


def free_port() -> int:
    """A loopback port nothing listens on right now.

    The kernel picks it; the small window before the server binds it is
    acceptable on a test machine and far better than fixed ports that clash
    with a developer's running stack.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require_binary(path_or_name: str, purpose: str, hint: str) -> str:
    """Absolute path of an executable, or a GamedayError telling how to get it."""
    found = shutil.which(path_or_name)
    if not found:
        raise GamedayError(f"{purpose}: '{path_or_name}' not found. {hint}")
    if os.path.getsize(found) == 0:
        # An empty file passes `which` but runs as nothing at all.
        raise GamedayError(f"{purpose}: '{found}' is an empty file. {hint}")
    return found


@dataclass
class Child:
    name: str
    argv: list[str]
    popen: subprocess.Popen
    log_path: Path
    started: float = field(default_factory=time.time)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


class Supervisor:
    """Starts children in their own process groups and stops all of them, whatever happens."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.children: dict[str, Child] = {}
        self._lock = threading.Lock()
        self._closed = False
        atexit.register(self.stop_all)
        self._previous_handlers = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame):  # noqa: ARG002 - signal handler signature
        # Raising here unwinds the main thread through every `finally`, which
        # is what stops the children in order; atexit is the last resort.
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    def start(self, name: str, argv: Sequence[str], *, env: Optional[Mapping[str, str]] = None,
              cwd: Optional[Path] = None) -> Child:
        if name in self.children and self.children[name].alive():
            raise GamedayError(f"{name} is already running")
        log_path = self.log_dir / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        for attempt in range(20):
            try:
                popen = subprocess.Popen(
                    list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=full_env, cwd=str(cwd) if cwd else None,
                    start_new_session=True,   # its own process group: stopping it stops its children
                )
                break
            except OSError as error:
                # ETXTBSY: the binary is being written (a package upgrade in
                # progress); it is executable again a moment later.
                if error.errno != errno.ETXTBSY or attempt == 19:
                    log.close()
                    raise
                time.sleep(0.5)
        log.close()
        child = Child(name, list(argv), popen, log_path)
        with self._lock:
            self.children[name] = child
        return child

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        child = self.children.get(name)
        if child is None or not child.alive():
            return
        _signal_group(child.popen.pid, sig)
        try:
            child.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(child.popen.pid, signal.SIGKILL)
            child.popen.wait(timeout=10)
        # Pool children of a worker may linger after the leader exits.
        _signal_group(child.popen.pid, signal.SIGKILL)

    def kill(self, name: str) -> None:
        """An abrupt death (SIGKILL), as when a node disappears."""
        self.stop(name, sig=signal.SIGKILL, timeout=10)

    def stop_all(self) -> None:
        with self._lock:
            if self._closed:
                return
            names = list(self.children)
        for name in reversed(names):
            try:
                self.stop(name)
            except Exception as error:  # keep stopping the rest
                print(f"warning: could not stop {name}: {error}", file=sys.stderr)
        with self._lock:
            self._closed = True
        for signum, handler in self._previous_handlers.items():
            if threading.current_thread() is threading.main_thread():
                signal.signal(signum, handler)
        atexit.unregister(self.stop_all)

    def expect_alive(self, name: str) -> None:
        child = self.children[name]
        if not child.alive():
            raise GamedayError(f"{name} exited with code {child.popen.returncode}; "
                               f"last lines of {child.log_path}:\n{child.log_tail()}")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_http(url: str, *, child: Optional[Child] = None, timeout: float = 60.0,
              ok=lambda response: response.status_code == 200) -> None:
    """Wait until `url` answers, failing early (with its log) if the child died."""
    deadline = time.time() + timeout
    last = "no answer"
    while time.time() < deadline:
        if child is not None and not child.alive():
            raise GamedayError(f"{child.name} exited with code {child.popen.returncode} while starting; "
                               f"last lines of {child.log_path}:\n{child.log_tail()}")
        try:
            response = requests.get(url, timeout=10)
            if ok(response):
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except requests.RequestException as error:
            last = str(error)
        time.sleep(0.3)
    tail = f"\nlast lines of {child.log_path}:\n{child.log_tail()}" if child else ""
    raise GamedayError(f"{url} not ready after {timeout:.0f}s ({last}){tail}")


def wait_tcp(port: int, *, child: Optional[Child] = None, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if child is not None and not child.alive():
            raise GamedayError(f"{child.name} exited while starting:\n{child.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise GamedayError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")
