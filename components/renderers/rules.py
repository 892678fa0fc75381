"""Prometheus rule files as deployed: `rules/*.yml` with their link placeholders filled."""
from __future__ import annotations

from pathlib import Path

from components.constants import GRAFANA_URL_TOKEN, RUNBOOK_BASE_URL_TOKEN
from components.settings import PROJECT_DIR, Settings

RULES_DIR = PROJECT_DIR / "rules"


def rule_files(directory: Path = RULES_DIR) -> list[Path]:
    """Every rule file, one group per file, in a stable order."""
    return sorted(directory.glob("*.yml"))


def render_rule_text(text: str, *, runbook_base_url: str, grafana_url: str) -> str:
    """Fill the runbook and dashboard link placeholders; nothing else changes.

    Plain text replacement keeps the file byte-for-byte what the repository
    holds (comments included) apart from the two base URLs.
    """
    return (text.replace(RUNBOOK_BASE_URL_TOKEN, runbook_base_url.rstrip("/"))
                .replace(GRAFANA_URL_TOKEN, grafana_url.rstrip("/")))


def render_rule_files(settings: Settings, directory: Path = RULES_DIR) -> dict[str, str]:
    """File name -> deployed text, for every rule file."""
    return {
        path.name: render_rule_text(path.read_text(), runbook_base_url=settings.runbook_base_url,
                                    grafana_url=settings.grafana_url)
        for path in rule_files(directory)
    }
