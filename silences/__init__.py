"""Silences on a stack's Alertmanager: list, add (author, comment and end required), expire.

    python -m silences [--stack prod | --alertmanager URL] list [--all]
    python -m silences ... add --author NAME --comment WHY (--duration 2h | --until 2026-12-06T08:00Z) MATCHER...
    python -m silences ... expire ID

A silence mutes notifications of the alerts its matchers select (Prometheus
still evaluates them) until its end. On a cluster of Alertmanagers it
reaches every replica by gossip, whichever one receives it. The rules here
are the stack's: who made it and why must be written down, it must end
(at most SILENCE_MAX later), and it may not mute the Watchdog, whose silence
would read as "alerting is broken" at the dead man's switch.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from alerting.routing import EQUAL, NOT_EQUAL, NOT_REGEX, REGEX, Matcher, MatcherError, duration_seconds, parse_matchers

# Alertmanager keeps expired silences for its --data.retention (168h); a
# silence meant for longer than a week is a rule change, not maintenance.
SILENCE_MAX = timedelta(days=7)
WATCHDOG = "Watchdog"


class SilenceError(ValueError):
    """The request is refused; the message says why and what to do."""


@dataclass(frozen=True)
class Silence:
    id: str
    state: str
    matchers: tuple[Matcher, ...]
    created_by: str
    comment: str
    starts_at: str
    ends_at: str

    def line(self) -> str:
        matchers = ", ".join(str(m) for m in self.matchers)
        return (f"{self.id}  {self.state:<8} until {self.ends_at}  {{{matchers}}}  by {self.created_by}: "
                f"{self.comment}")


def watchdog_labels() -> dict[str, str]:
    """The labels the Watchdog reaches Alertmanager with (from its rule)."""
    from components.renderers.rules import load_rule_files
    for rule_file in load_rule_files():
        for group in rule_file.document["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == WATCHDOG:
                    return {"alertname": WATCHDOG, **{k: str(v) for k, v in (rule.get("labels") or {}).items()}}
    raise SilenceError("the rule files have no Watchdog")


def matchers_from(texts: list[str]) -> tuple[Matcher, ...]:
    """Matchers as amtool takes them (`alertname=X`, `severity=~"warning|info"`), each checked."""
    found: list[Matcher] = []
    for text in texts:
        try:
            found.extend(parse_matchers(text))
        except MatcherError as error:
            raise SilenceError(f"matcher {text!r}: {error}") from None
    if not found:
        raise SilenceError("name at least one matcher, such as alertname=HighUtilization")
    if not any(m.op in (EQUAL, REGEX) and m.value for m in found):
        raise SilenceError("at least one matcher must select something (= or =~ with a value): "
                           "a silence of only negative matchers mutes nearly everything")
    watchdog = watchdog_labels()
    # The `env` external label is the stack's, whatever it is: a matcher on it mutes the Watchdog too.
    if all(m.name == "env" or m.matches(watchdog) for m in found):
        raise SilenceError("these matchers would mute the Watchdog: the dead man's switch would then page "
                           "that alerting is broken; name the alerts to silence instead")
    return tuple(found)


def end_of(now: datetime, duration: Optional[str], until: Optional[str]) -> datetime:
    if bool(duration) == bool(until):
        raise SilenceError("give exactly one of --duration (such as 2h) and --until (such as 2026-12-06T08:00Z)")
    if duration:
        try:
            end = now + timedelta(seconds=duration_seconds(duration))
        except ValueError as error:
            raise SilenceError(f"--duration: {error}") from None
    else:
        try:
            end = datetime.fromisoformat(until.replace("Z", "+00:00"))
        except ValueError:
            raise SilenceError(f"--until {until!r} is not a time such as 2026-12-06T08:00Z") from None
        if end.tzinfo is None:
            raise SilenceError(f"--until {until!r} has no time zone; write Z for UTC or an offset such as +01:00")
    if end <= now:
        raise SilenceError("the end is not in the future")
    if end - now > SILENCE_MAX:
        raise SilenceError(f"a silence may last at most {SILENCE_MAX.days} days; for longer, change the rule")
    return end


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Client:
    """Alertmanager's API v2 at `url`."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Optional[dict] = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/api/v2{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            raise SilenceError(f"Alertmanager at {self.url} refused it: HTTP {error.code} "
                               f"{error.read().decode(errors='replace').strip()[:300]}") from None
        except (urllib.error.URLError, OSError) as error:
            raise SilenceError(f"cannot reach Alertmanager at {self.url}: {getattr(error, 'reason', error)}; "
                               "on Kubernetes, port-forward it first (see the README)") from None
        return json.loads(text) if text.strip() else None

    def silences(self, include_expired: bool = False) -> list[Silence]:
        found = []
        for raw in self._call("GET", "/silences") or []:
            state = raw["status"]["state"]
            if state == "expired" and not include_expired:
                continue
            matchers = tuple(Matcher(m["name"], {(True, False): EQUAL, (False, False): NOT_EQUAL,
                                                 (True, True): REGEX, (False, True): NOT_REGEX}
                                     [(m.get("isEqual", True), m["isRegex"])], m["value"]) for m in raw["matchers"])
            found.append(Silence(raw["id"], state, matchers, raw.get("createdBy", ""), raw.get("comment", ""),
                                 raw["startsAt"], raw["endsAt"]))
        return sorted(found, key=lambda s: (s.state != "active", s.ends_at))

    def add(self, matchers: tuple[Matcher, ...], author: str, comment: str, ends: datetime,
            now: Optional[datetime] = None) -> str:
        if not author.strip():
            raise SilenceError("--author is required: who to ask about this silence")
        if len(comment.strip()) < 10 or not re.search(r"[A-Za-z]{3}", comment):
            raise SilenceError("--comment is required: why, in words (a ticket or change number helps)")
        now = now or datetime.now(timezone.utc)
        body = {
            "matchers": [{"name": m.name, "value": m.value, "isRegex": m.op in (REGEX, NOT_REGEX),
                          "isEqual": m.op in (EQUAL, REGEX)} for m in matchers],
            "startsAt": _iso(now), "endsAt": _iso(ends), "createdBy": author.strip(), "comment": comment.strip(),
        }
        return self._call("POST", "/silences", body)["silenceID"]

    def expire(self, silence_id: str) -> None:
        if not re.fullmatch(r"[0-9a-fA-F-]{8,}", silence_id):
            raise SilenceError(f"{silence_id!r} is not a silence id (see `list`)")
        self._call("DELETE", f"/silence/{silence_id}")
