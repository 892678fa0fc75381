"""`python -m silences` against the deployed Alertmanager release, on loopback."""
from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from silences import Client, end_of, matchers_from
from silences.__main__ import main
from tests.support import rules as r

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    directory = tmp_path_factory.mktemp("silences")
    config = directory / "alertmanager.yml"
    config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([r.tool("alertmanager", "prod"), f"--config.file={config}",
                                f"--storage.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1)
                break
            except OSError:
                assert process.poll() is None, "Alertmanager exited"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_silence_is_added_listed_and_expired_through_the_command(alertmanager, capsys):
    code = main(["--alertmanager", alertmanager, "add", "--author", "j.doe", "--comment", "Redis upgrade, CHG-1234",
                 "--duration", "2h", "alertname=CeleryQueueBacklog", 'queue_name=~"exports|metrics"'])
    assert code == 0, capsys.readouterr().err
    silence_id = capsys.readouterr().out.strip()
    (listed,) = [s for s in Client(alertmanager).silences() if s.id == silence_id]
    assert listed.state == "active" and listed.created_by == "j.doe" and listed.comment == "Redis upgrade, CHG-1234"
    assert [str(m) for m in listed.matchers] == ['alertname="CeleryQueueBacklog"', 'queue_name=~"exports|metrics"']
    assert main(["--alertmanager", alertmanager, "list"]) == 0
    assert silence_id in capsys.readouterr().out
    assert main(["--alertmanager", alertmanager, "expire", silence_id]) == 0
    capsys.readouterr()
    assert silence_id not in [s.id for s in Client(alertmanager).silences()]
    assert main(["--alertmanager", alertmanager, "list", "--all"]) == 0
    assert silence_id in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--author", " ", "--comment", "Redis upgrade, CHG-1", "--duration", "1h", "alertname=X"], "--author is required"),
    (["--author", "j.doe", "--comment", "x", "--duration", "1h", "alertname=X"], "--comment is required"),
    (["--author", "j.doe", "--comment", "Redis upgrade", "alertname=X"], "exactly one of --duration"),
    (["--author", "j.doe", "--comment", "Redis upgrade", "--duration", "30d", "alertname=X"], "at most 7 days"),
    (["--author", "j.doe", "--comment", "Redis upgrade", "--until", "2020-01-01T00:00Z", "alertname=X"],
     "not in the future"),
    (["--author", "j.doe", "--comment", "Redis upgrade", "--until", "2099-01-01T00:00", "alertname=X"],
     "no time zone"),
    (["--author", "j.doe", "--comment", "Silence everything", "--duration", "1h", 'alertname=~".+"'], "Watchdog"),
    (["--author", "j.doe", "--comment", "Silence monitoring", "--duration", "1h", "severity=none"], "Watchdog"),
    (["--author", "j.doe", "--comment", "Negative only here", "--duration", "1h", "severity!=critical"],
     "must select something"),
    (["--author", "j.doe", "--comment", "A broken matcher", "--duration", "1h", "alertname=~(("], "matcher"),
])
def test_a_silence_without_author_reason_or_end_or_one_muting_the_watchdog_is_refused(alertmanager, capsys, argv,
                                                                                       message):
    before = len(Client(alertmanager).silences(include_expired=True))
    assert main(["--alertmanager", alertmanager, "add", *argv]) == 1
    assert message in capsys.readouterr().err
    assert len(Client(alertmanager).silences(include_expired=True)) == before, "nothing was created"


def test_an_unreachable_alertmanager_says_how_to_reach_it(capsys):
    assert main(["--alertmanager", "http://127.0.0.1:9", "list"]) == 1
    assert "port-forward" in capsys.readouterr().err


def test_the_stack_gives_the_url_people_open(capsys, monkeypatch):
    monkeypatch.delenv("ALERTMANAGER_URL", raising=False)
    assert main(["--stack", "dev", "list"]) == 1, "nothing listens on dev's Alertmanager port here"
    assert "cannot reach Alertmanager at http://localhost:9093" in capsys.readouterr().err


def test_ends_and_matchers_are_checked_before_anything_is_sent():
    assert end_of(NOW, "90m", None) == NOW + timedelta(minutes=90)
    assert end_of(NOW, None, "2026-12-05T12:00+01:00") == datetime(2026, 12, 5, 11, 0, tzinfo=timezone.utc)
    assert [str(m) for m in matchers_from(["tier=clinical", 'severity="warning"'])] == \
        ['tier="clinical"', 'severity="warning"']
