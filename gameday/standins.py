"""Local stand-ins for the receivers, speaking their real protocols and recording what arrives.

- PagerDuty Events API v2: POST /v2/enqueue, answers 202 with the JSON PagerDuty sends.
- Slack incoming webhook: POST, answers 200 "ok".
- SMTP: a real SMTP server (aiosmtpd) offering STARTTLS with a certificate
  from a CA made for the run (gameday/tls.py), AUTH accepted only over TLS
  as relays on the submission port do, so a stack that requires TLS and logs
  in to its smarthost is tested as configured.
- The Watchdog heartbeat: an Alertmanager webhook receiver.
- Grafana's /metrics, because the stack scrapes Grafana and no Grafana server
  exists on the test machines; without it the monitors' own target-down alert
  would fire and pollute every receiver.

Alertmanager renders PagerDuty, Slack and e-mail notifications through the
stack's templates, so which alerts a notification is about is read from its
text: every known alert name that appears as a whole word.
"""
from __future__ import annotations

import email
import email.policy
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterable, Optional

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from gameday.procs import free_port
from gameday.tls import ServerCertificate, throwaway_ca

RECEIVER_KINDS = ("pagerduty", "slack", "email", "watchdog")

# aiosmtpd 1.4 warns about its own use of a deprecated attribute on every
# AUTH; the line says nothing about the rehearsal, so it is kept out of it.
logging.getLogger("mail.log").addFilter(
    lambda record: "login_data is deprecated" not in record.getMessage())


@dataclass
class Notification:
    kind: str                      # pagerduty | slack | email | watchdog
    arrived: float                 # unix time of arrival
    status: str                    # firing | resolved
    alertnames: frozenset[str]
    text: str                      # what a person would read (or the JSON)
    detail: dict = field(default_factory=dict)


class Recorder:
    """Thread-safe log of every notification, with alert names resolved from the rule files."""

    def __init__(self, alert_names: Iterable[str]):
        names = sorted(set(alert_names), key=len, reverse=True)
        # \b on both sides: "CeleryQueueBacklog" must not match inside "CeleryQueueBacklogCritical".
        self._pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b") if names else None
        self._lock = threading.Lock()
        self.notifications: list[Notification] = []
        self.rejected: list[str] = []

    def names_in(self, text: str) -> frozenset[str]:
        if self._pattern is None:
            return frozenset()
        return frozenset(self._pattern.findall(text))

    def add(self, kind: str, status: str, text: str, names: Optional[Iterable[str]] = None,
            **detail) -> Notification:
        found = frozenset(names) if names is not None else self.names_in(text)
        note = Notification(kind, time.time(), status, found, text, detail)
        with self._lock:
            self.notifications.append(note)
        return note

    def reject(self, why: str) -> None:
        with self._lock:
            self.rejected.append(why)

    def snapshot(self) -> list[Notification]:
        with self._lock:
            return list(self.notifications)


def _status_from_text(title: str) -> str:
    """Firing or resolved, from a title or subject Alertmanager rendered.

    A group with any firing alert is "firing" in Alertmanager's own terms, so
    "firing" wins when both words appear.
    """
    if re.search(r"firing", title, re.IGNORECASE):
        return "firing"
    if re.search(r"resolved", title, re.IGNORECASE):
        return "resolved"
    return "firing"


class _Handler(BaseHTTPRequestHandler):
    recorder: Recorder
    kind: str

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # the recorder is the log

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length)

    def _answer(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.kind == "grafana" and self.path.startswith("/metrics"):
            body = (b"# HELP grafana_build_info Grafana stand-in of the game day\n"
                    b"# TYPE grafana_build_info gauge\n"
                    b'grafana_build_info{edition="oss",version="gameday"} 1\n')
            self._answer(200, body, "text/plain; version=0.0.4")
            return
        self._answer(404, b"not found", "text/plain")

    def do_POST(self):
        raw = self._body()
        handler = getattr(self, f"_post_{self.kind}", None)
        if handler is None:
            self._answer(404, b"not found", "text/plain")
            return
        handler(raw)

    def _post_pagerduty(self, raw: bytes) -> None:
        # The Events API v2 validates before accepting; a malformed event is a
        # configuration bug the game day must surface, not swallow.
        if self.path != "/v2/enqueue":
            self.recorder.reject(f"pagerduty: POST to {self.path}")
            self._answer(404, b'{"status":"invalid path"}', "application/json")
            return
        try:
            event = json.loads(raw)
            action = event["event_action"]
            key = event["routing_key"]
            if action == "trigger":
                payload = event["payload"]
                for needed in ("summary", "source", "severity"):
                    if not payload.get(needed):
                        raise KeyError(f"payload.{needed}")
                if payload["severity"] not in ("critical", "error", "warning", "info"):
                    raise ValueError(f"payload.severity {payload['severity']!r}")
        except (ValueError, KeyError, TypeError) as error:
            self.recorder.reject(f"pagerduty: invalid event ({error}): {raw[:300]!r}")
            self._answer(400, json.dumps({"status": "invalid event", "message": str(error)}).encode(),
                         "application/json")
            return
        status = "resolved" if action == "resolve" else "firing"
        self.recorder.add("pagerduty", status, json.dumps(event, sort_keys=True),
                          routing_key=key, dedup_key=event.get("dedup_key"), action=action)
        body = json.dumps({"status": "success", "message": "Event processed",
                           "dedup_key": event.get("dedup_key")}).encode()
        self._answer(202, body, "application/json")

    def _post_slack(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            self.recorder.reject(f"slack: body is not JSON: {raw[:300]!r}")
            self._answer(400, b"invalid_payload", "text/plain")
            return
        attachments = message.get("attachments") or []
        titles = " ".join(str(a.get("title", "")) + " " + str(a.get("fallback", "")) for a in attachments)
        titles = titles.strip() or str(message.get("text", ""))
        status = _status_from_text(titles)
        self.recorder.add("slack", status, json.dumps(message, sort_keys=True),
                          channel=message.get("channel"), title=titles)
        self._answer(200, b"ok", "text/plain")

    def _post_watchdog(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
            names = {alert["labels"]["alertname"] for alert in message["alerts"]}
            status = message["status"]
        except (ValueError, KeyError, TypeError) as error:
            self.recorder.reject(f"watchdog: not an Alertmanager webhook ({error})")
            self._answer(400, b"bad request", "text/plain")
            return
        self.recorder.add("watchdog", status, json.dumps(message, sort_keys=True), names=names)
        self._answer(200, b"ok", "text/plain")


class _SmtpHandler:
    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = []
        for part in message.walk():
            if part.get_content_maintype() == "text":
                try:
                    parts.append(part.get_content())
                except (LookupError, ValueError):
                    parts.append(part.get_payload(decode=True).decode("utf-8", "replace"))
        subject = str(message.get("Subject", ""))
        text = subject + "\n" + "\n".join(parts)
        self.recorder.add("email", _status_from_text(subject), text, subject=subject,
                          mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                          to_header=str(message.get("To", "")), tls=session.ssl is not None)
        return "250 Message accepted for delivery"


class _MailServer(SMTP):
    # The LOGIN challenges mail servers send in practice (Postfix, Exchange).
    # aiosmtpd's own ("User Name") are rejected by Go's SMTP clients, which is
    # what Alertmanager is, so a real relay would work where this one failed.
    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"


class _MailController(Controller):
    def factory(self):
        return _MailServer(self.handler, **self.SMTP_kwargs)


class StandIns:
    """Every receiver stand-in, started together, each on a free loopback port.

    `tls_dir` receives the run's throwaway CA and the SMTP certificate.
    `require_starttls`: the SMTP stand-in refuses mail (and AUTH) before
    STARTTLS, as the relay a receiver with require_tls talks to does.
    """

    def __init__(self, recorder: Recorder, tls_dir: Path, *, require_starttls: bool = True):
        self.recorder = recorder
        self.tls_dir = tls_dir
        self.require_starttls = require_starttls
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self.ports: dict[str, int] = {}
        self._smtp: Optional[Controller] = None
        self.smtp_handler = _SmtpHandler(recorder)
        self.certificate: Optional[ServerCertificate] = None

    def start(self) -> "StandIns":
        for kind in ("pagerduty", "slack", "watchdog", "grafana"):
            handler = type(f"{kind.title()}Handler", (_Handler,), {"recorder": self.recorder, "kind": kind})
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, name=f"standin-{kind}", daemon=True).start()
            self._servers[kind] = server
            self.ports[kind] = server.server_address[1]
        smtp_port = free_port()
        handler = self.smtp_handler

        def accept_login(server, session, envelope, mechanism, auth_data):
            # Record who logged in; any credentials do, the point is that the
            # stack's configured AUTH exchange completes.
            login = getattr(auth_data, "login", b"")
            handler.logins.append(login.decode() if isinstance(login, bytes) else str(login))
            return AuthResult(success=True)

        self.certificate = throwaway_ca(self.tls_dir)
        self._smtp = _MailController(handler, hostname="127.0.0.1", port=smtp_port,
                                     authenticator=accept_login, tls_context=self.certificate.server_context(),
                                     require_starttls=self.require_starttls,
                                     auth_require_tls=self.require_starttls)
        self._smtp.start()
        self.ports["email"] = smtp_port
        return self

    def url(self, kind: str) -> str:
        paths = {"pagerduty": "/v2/enqueue", "slack": "/services/T000/B000/gameday", "watchdog": "/heartbeat"}
        return f"http://127.0.0.1:{self.ports[kind]}{paths[kind]}"

    @property
    def grafana_target(self) -> str:
        return f"127.0.0.1:{self.ports['grafana']}"

    @property
    def smarthost(self) -> str:
        return f"127.0.0.1:{self.ports['email']}"

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        if self._smtp is not None:
            self._smtp.stop()
