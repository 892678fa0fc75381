"""Every alert has a runbook with the five parts on-call needs, and every runbook an alert.

A runbook is read at 3 a.m. by whoever the alert reached: it says who acts,
from the alert's tier and its route.
"""
from __future__ import annotations

import re

import pytest
import yaml

from alerting.routing import receivers_for
from components.renderers.alertmanager import (
    CLINICAL_TIER, EMAIL, EMAIL_CLINICAL, PAGERDUTY, PAGERDUTY_CLINICAL, SLACK, SLACK_CLINICAL, WATCHDOG,
    render_alertmanager_config,
)
from components.settings import PROJECT_DIR, from_stack_file
from tests.support import rules as r

RUNBOOKS = PROJECT_DIR / "runbooks"
PARTS = ("What this alert means", "Why it matters", "How to investigate", "What to do", "Who to escalate to")
ALERTS = r.alerting_rules()
# The committed stack whose routing decides how each alert reaches a person.
KUBERNETES_STACK = "prod"


def _tier(name: str) -> str:
    return ALERTS[name]["labels"]["tier"]


CLINICAL = sorted(name for name in ALERTS if _tier(name) == CLINICAL_TIER)


def _text(name: str) -> str:
    return (RUNBOOKS / f"{name}.md").read_text()


def _sections(text: str) -> dict[str, str]:
    pieces = re.split(r"^## (.+)$", text, flags=re.M)
    return {title.strip(): body.strip() for title, body in zip(pieces[1::2], pieces[2::2])}


def test_every_alert_has_a_runbook_and_every_runbook_an_alert():
    runbooks = {path.stem for path in RUNBOOKS.glob("*.md")}
    assert set(ALERTS) - runbooks == set(), "alerts without a runbook"
    assert runbooks - set(ALERTS) == set(), "runbooks without an alert"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_runbook_has_the_five_parts_in_order_with_content(name):
    text = _text(name)
    assert text.startswith(f"# {name}\n")
    sections = _sections(text)
    assert tuple(sections) == PARTS, f"{name}.md has sections {list(sections)}"
    for part, body in sections.items():
        assert len(body) > 20, f"{name}.md: '{part}' says too little"


def test_runbooks_are_written_per_alert_not_copied():
    seen: dict[str, str] = {}
    for path in sorted(RUNBOOKS.glob("*.md")):
        for part, body in _sections(path.read_text()).items():
            if part == "Who to escalate to":
                continue  # several alerts rightly share an escalation path
            assert body not in seen, f"{path.name} '{part}' repeats {seen.get(body)}"
            seen[body] = path.name


@pytest.mark.parametrize("name", sorted(n for n, rule in ALERTS.items() if "dashboard_url" in rule["annotations"]))
def test_runbook_investigation_names_the_panel_the_alert_links(name):
    investigate = _sections(_text(name))["How to investigate"]
    assert "→" in investigate and "panel" in investigate, f"{name}.md should name the dashboard panel to open"


# --------------------------------------------------------------------------
# Who acts: the team from the alert's tier, the medium from its route.
# --------------------------------------------------------------------------
WHO_ACTS = re.compile(r"^\*\*Who acts:\*\* (?P<who>.+)$")
TEAMS = ("the clinical on-call", "the engineering on-call")
# How each receiver reaches a person, in the words a runbook uses.
MEDIUM_OF_RECEIVER = {PAGERDUTY: "PagerDuty", PAGERDUTY_CLINICAL: "PagerDuty", SLACK: "Slack", SLACK_CLINICAL: "Slack",
                      EMAIL: "e-mail", EMAIL_CLINICAL: "e-mail", WATCHDOG: "heartbeat"}
CLINICAL_RECEIVERS = (PAGERDUTY_CLINICAL, SLACK_CLINICAL, EMAIL_CLINICAL)


@pytest.fixture(scope="module")
def deployed_routing() -> dict:
    settings, _ = from_stack_file(KUBERNETES_STACK)
    return yaml.safe_load(render_alertmanager_config(settings))


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_runbook_says_who_acts_and_how_the_alert_reaches_them(name, deployed_routing):
    lines = _text(name).splitlines()
    match = WHO_ACTS.match(lines[2]) if len(lines) > 2 and lines[1] == "" else None
    assert match, f"{name}.md: the line under the title must be '**Who acts:** the <team> on-call, ...'"
    who = match["who"]
    team = TEAMS[0] if _tier(name) == CLINICAL_TIER else TEAMS[1]
    assert who.startswith(team), f"{name}.md: a {_tier(name)} alert is {team}'s, the runbook says '{who}'"
    labels = {**ALERTS[name]["labels"], "alertname": name, "env": KUBERNETES_STACK}
    receivers = receivers_for(deployed_routing, labels)
    assert receivers and all(receiver in MEDIUM_OF_RECEIVER for receiver in receivers), \
        f"{name} is routed to {receivers}, which reach nobody"
    assert all((receiver in CLINICAL_RECEIVERS) <= (team == TEAMS[0]) for receiver in receivers), \
        f"{name} is routed to the clinical team's {receivers} but belongs to {team}"
    expected = {MEDIUM_OF_RECEIVER[receiver] for receiver in receivers}
    named = {medium for medium in set(MEDIUM_OF_RECEIVER.values()) if medium in who}
    assert named == expected, f"{name}.md says it arrives by {named or 'nothing'}; its route sends it by {expected}"


@pytest.mark.parametrize("name", CLINICAL)
def test_clinical_runbook_says_what_to_do_in_the_scheduler_and_what_to_ask_engineering(name):
    to_do = _sections(_text(name))["What to do"]
    assert "in the scheduler" in to_do, f"{name}.md: what does the clinical on-call do in the scheduler?"
    assert "engineering on-call" in to_do, f"{name}.md: what should the clinical on-call ask engineering?"
