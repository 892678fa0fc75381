"""Every alert has a runbook with the five parts on-call needs, and every runbook an alert."""
from __future__ import annotations

import re

import pytest

from components.settings import PROJECT_DIR
from tests.support import rules as r

RUNBOOKS = PROJECT_DIR / "runbooks"
PARTS = ("What this alert means", "Why it matters", "How to investigate", "What to do", "Who to escalate to")
ALERTS = r.alerting_rules()


def _sections(text: str) -> dict[str, str]:
    pieces = re.split(r"^## (.+)$", text, flags=re.M)
    return {title.strip(): body.strip() for title, body in zip(pieces[1::2], pieces[2::2])}


def test_every_alert_has_a_runbook_and_every_runbook_an_alert():
    runbooks = {path.stem for path in RUNBOOKS.glob("*.md")}
    assert set(ALERTS) - runbooks == set(), "alerts without a runbook"
    assert runbooks - set(ALERTS) == set(), "runbooks without an alert"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_runbook_has_the_five_parts_in_order_with_content(name):
    text = (RUNBOOKS / f"{name}.md").read_text()
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
    investigate = _sections((RUNBOOKS / f"{name}.md").read_text())["How to investigate"]
    assert "→" in investigate and "panel" in investigate, f"{name}.md should name the dashboard panel to open"
