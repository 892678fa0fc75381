"""The scheduler's API as its users meet it: a FastAPI app with the backend's
instrumentation (prometheus-fastapi-instrumentator, configured as the
application configures it), answering real HTTP requests on loopback.

The request metrics the SLOs read (`http_requests_total`, the duration
histograms, the in-progress gauge) are then the library's own, with its
status grouping, route templates and bucket bounds, not a model of them.
Each request says how it should end (headers below), so a scenario decides
exactly which share fails; the app only obeys, as a broken dependency would.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterable, Optional

import requests
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator

from gameday.procs import GamedayError, free_port

# The routes the scenarios call (method, route template): the handler label
# is the template, never the raw path.
ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/api/v1/schedules"),
    ("GET", "/api/v1/schedules/{schedule_id}"),
    ("POST", "/api/v1/schedules/generate"),
    ("GET", "/api/v1/assignments"),
    ("POST", "/api/v1/swaps"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
)
OUTCOME_HEADER = "X-Gameday-Outcome"     # ok | client-error | fail
SECONDS_HEADER = "X-Gameday-Seconds"     # how long an `ok` request takes
OUTCOMES = ("ok", "client-error", "fail")
REQUEST_METRICS_PREFIX = "http_"          # every family the instrumentation writes


class InjectedFault(RuntimeError):
    """Raised by a route told to fail: an unhandled exception, as a broken dependency raises."""


def build_app() -> FastAPI:
    """The API with the application's instrumentation, in the process's default registry.

    The default registry is where the application's metrics live, and the
    only one 7.1.0 can use: its in-progress gauge ignores `registry=` and
    registers there whatever it is given. So one app per process (api()).
    """
    app = FastAPI()

    def answer(request: Request) -> dict:
        outcome = request.headers.get(OUTCOME_HEADER, "ok")
        if outcome == "fail":
            raise InjectedFault(f"{request.method} {request.url.path}: the dependency is down")
        if outcome == "client-error":
            raise HTTPException(status_code=422, detail="the request is invalid")
        time.sleep(float(request.headers.get(SECONDS_HEADER, "0")))
        return {"ok": True}

    for method, path in ROUTES:
        app.add_api_route(path, answer, methods=[method])
    # As the application instruments itself (scheduler-metrics reference:
    # 7.x, grouped status codes, untemplated paths ignored, /health and
    # /metrics excluded, in-progress requests counted per handler and method).
    Instrumentator(should_group_status_codes=True, should_ignore_untemplated=True,
                   excluded_handlers=["/health", "/metrics"], should_instrument_requests_inprogress=True,
                   inprogress_labels=True).instrument(app)
    return app


class RequestMetrics(Collector):
    """The instrumentation's families from the default registry, for a backend's own /metrics."""

    def collect(self) -> Iterable[Metric]:
        return [family for family in REGISTRY.collect() if family.name.startswith(REQUEST_METRICS_PREFIX)]


class _QuietFaults(logging.Filter):
    """The injected faults are the scenario, not news: keep their tracebacks out of the output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedFault))


class InstrumentedApi:
    """The app served by uvicorn on 127.0.0.1, and a client that calls it without blocking the caller."""

    def __init__(self, *, workers: int = 4):
        self.port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(build_app(), host="127.0.0.1", port=self.port,
                                                     log_level="warning", access_log=False))
        self._thread: Optional[threading.Thread] = None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="api-client")
        self._lock = threading.Lock()
        self.answered: dict[int, int] = {}     # HTTP status -> requests answered with it
        self.unanswered = 0                    # requests that got no HTTP answer at all
        self._pending: list[Future] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        logging.getLogger("uvicorn.error").addFilter(_QuietFaults())
        self._thread = threading.Thread(target=self._server.run, name="api-server", daemon=True)
        self._thread.start()
        deadline = time.time() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.time() > deadline:
                raise GamedayError(f"the instrumented API did not start on {self.url}")
            time.sleep(0.05)

    def call(self, method: str, route: str, outcome: str = "ok", seconds: float = 0.0) -> None:
        """Send one request to `route` (a template of ROUTES) that ends as `outcome`; returns at once."""
        if (method, route) not in ROUTES or outcome not in OUTCOMES:
            raise GamedayError(f"the API has no {method} {route}, or {outcome!r} is not one of {OUTCOMES}")
        path = route.replace("{schedule_id}", "2026-07-block-1")
        headers = {OUTCOME_HEADER: outcome, SECONDS_HEADER: f"{seconds:.3f}"}
        future = self._pool.submit(self._send, method, self.url + path, headers)
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()] + [future]

    def _send(self, method: str, url: str, headers: dict) -> None:
        try:
            # A connection of its own: uvicorn closes one whose request raised,
            # and a pooled connection closed under another request loses it.
            status = requests.request(method, url, headers=headers, timeout=30).status_code
        except requests.RequestException:
            with self._lock:
                self.unanswered += 1
            return
        with self._lock:
            self.answered[status] = self.answered.get(status, 0) + 1

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every request sent so far has its answer."""
        with self._lock:
            pending, self._pending = self._pending, []
        for future in pending:
            future.result(timeout=timeout)


_API: Optional[InstrumentedApi] = None


def api() -> InstrumentedApi:
    """The process's one instrumented API, started on first use and kept until the process ends."""
    global _API
    if _API is None:
        _API = InstrumentedApi()
        _API.start()
    return _API
