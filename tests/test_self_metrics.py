"""The catalog's Prometheus and Alertmanager entries are what the deployed releases serve.

The monitors' rules query these self-metrics; a name or label that a release
renamed would leave an alert that can never fire. Each release is started
briefly on 127.0.0.1 and its own /metrics is read. Prometheus gets a rule
group, three Alertmanagers and a remote-write endpoint (none of them
listening), so the per-group, per-Alertmanager and remote-write queue series
exist.
"""
from __future__ import annotations

import socket
import subprocess
import time
import urllib.request

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support import catalog
from tests.support import rules as r

# Added by Prometheus to every scraped series; not part of a target's /metrics.
TARGET_LABELS = {"job", "instance"}
# Recorded by Prometheus about a scrape, not served by anyone.
SYNTHETIC = {"up"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _label_names(text: str) -> dict[str, set[str]]:
    """Series name -> the label names it carries, from an exposition."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def _read_metrics(url: str, until_present: set[str], process: subprocess.Popen) -> dict[str, set[str]]:
    """The server's /metrics once every name in `until_present` is there (some appear after start-up)."""
    labels: dict[str, set[str]] = {}
    for _ in range(300):
        assert process.poll() is None, process.stdout.read()
        try:
            with urllib.request.urlopen(f"{url}/metrics", timeout=2) as response:
                labels = _label_names(response.read().decode())
        except OSError:
            labels = {}
        if until_present <= set(labels):
            return labels
        time.sleep(0.1)
    return labels


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _entries(source: str) -> list[dict]:
    return [entry for entry in catalog.entries() if entry["source"] == source and entry["name"] not in SYNTHETIC]


def _served(binary: str, args: list[str], source: str) -> dict[str, set[str]]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([binary, *args, f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wanted = {series for entry in _entries(source) for series in entry["series"]}
        return _read_metrics(url, wanted, process)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def prometheus_metrics(tmp_path_factory) -> dict[str, set[str]]:
    directory = tmp_path_factory.mktemp("prometheus")
    nowhere = [f"127.0.0.1:{_free_port()}" for _ in range(3)]
    (directory / "rules.yml").write_text(yaml.safe_dump({
        "groups": [{"name": "heartbeat", "rules": [{"alert": "Watchdog", "expr": "vector(1)"}]}]}))
    (directory / "prometheus.yml").write_text(yaml.safe_dump({
        "rule_files": [str(directory / "rules.yml")],
        "alerting": {"alertmanagers": [{"api_version": "v2", "static_configs": [{"targets": nowhere}]}]},
        "remote_write": [{"url": f"http://127.0.0.1:{_free_port()}/api/v1/write"}],
    }))
    return _served(r.tool("prometheus"), [
        f"--config.file={directory / 'prometheus.yml'}", f"--storage.tsdb.path={directory / 'data'}",
        # Nothing is delivered: do not wait a minute to flush on shutdown.
        "--storage.remote.flush-deadline=1s",
    ], "prometheus")


@pytest.fixture(scope="module")
def alertmanager_metrics(tmp_path_factory) -> dict[str, set[str]]:
    directory = tmp_path_factory.mktemp("alertmanager")
    (directory / "alertmanager.yml").write_text(yaml.safe_dump({
        "route": {"receiver": "nobody"}, "receivers": [{"name": "nobody"}]}))
    return _served(r.tool("alertmanager"), [
        f"--config.file={directory / 'alertmanager.yml'}", f"--storage.path={directory / 'data'}",
        "--cluster.listen-address=",
    ], "alertmanager")


def _check(entries: list[dict], served: dict[str, set[str]]) -> list[str]:
    problems = []
    for entry in entries:
        for series in entry["series"]:
            if series not in served:
                problems.append(f"{series} is not served")
                continue
            labels = served[series] - TARGET_LABELS
            if series.endswith("_bucket"):
                labels -= {"le"}
            if labels != set(entry["labels"]):
                problems.append(f"{series} has labels {sorted(labels)}, the catalog says {entry['labels']}")
    return problems


def test_the_catalogs_prometheus_metrics_are_served_with_their_labels(prometheus_metrics):
    entries = _entries("prometheus")
    assert {"prometheus_notifications_dropped_total", "prometheus_tsdb_wal_corruptions_total",
            "prometheus_remote_storage_samples_failed_total"} <= {e["name"] for e in entries}
    assert _check(entries, prometheus_metrics) == []


def test_the_catalogs_alertmanager_metrics_are_served_with_their_labels(alertmanager_metrics):
    entries = _entries("alertmanager")
    assert {"alertmanager_notifications_failed_total", "alertmanager_config_last_reload_successful"} <= {
        e["name"] for e in entries}
    assert _check(entries, alertmanager_metrics) == []


def test_a_renamed_or_relabelled_metric_is_reported():
    served = {"a_total": {"alertmanager"}, "b": set()}
    entries = [{"name": "a_total", "labels": [], "series": ["a_total"]},
               {"name": "c", "labels": [], "series": ["c"]}]
    assert _check(entries, served) == ["a_total has labels ['alertmanager'], the catalog says []",
                                       "c is not served"]
