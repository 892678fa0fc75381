"""Prometheus rule files as deployed: `rules/*.yml` with their link placeholders filled."""
from __future__ import annotations

from pathlib import Path

from components.constants import GRAFANA_URL_TOKEN, PROMETHEUS_VOLUME_BYTES_TOKEN, RUNBOOK_BASE_URL_TOKEN
from components.settings import PROJECT_DIR, Settings, quantity_bytes, retention_size_bytes

RULES_DIR = PROJECT_DIR / "rules"


def rule_files(directory: Path = RULES_DIR) -> list[Path]:
    """Every rule file, one group per file, in a stable order."""
    return sorted(directory.glob("*.yml"))


def prometheus_volume_bytes(settings: Settings) -> int:
    """How many bytes make a Prometheus data volume full, as far as the stack knows.

    On Kubernetes the claim's size. A Docker named volume lives on the host's
    disk, whose size the stack does not know; the disk budget it gives
    Prometheus there (retentionSize, read as Prometheus reads it) stands in.
    """
    if settings.on_kubernetes:
        return quantity_bytes(settings.prometheus_storage_size)
    return retention_size_bytes(settings.retention_size)


def render_rule_text(text: str, *, runbook_base_url: str, grafana_url: str, prometheus_volume_bytes: int) -> str:
    """Fill the link and volume-size placeholders; nothing else changes.

    Plain text replacement keeps the file byte-for-byte what the repository
    holds (comments included) apart from those values.
    """
    return (text.replace(RUNBOOK_BASE_URL_TOKEN, runbook_base_url.rstrip("/"))
                .replace(GRAFANA_URL_TOKEN, grafana_url.rstrip("/"))
                .replace(PROMETHEUS_VOLUME_BYTES_TOKEN, str(int(prometheus_volume_bytes))))


def render_rule_files(settings: Settings, directory: Path = RULES_DIR) -> dict[str, str]:
    """File name -> deployed text, for every rule file."""
    return {
        path.name: render_rule_text(path.read_text(), runbook_base_url=settings.runbook_base_url,
                                    grafana_url=settings.grafana_url,
                                    prometheus_volume_bytes=prometheus_volume_bytes(settings))
        for path in rule_files(directory)
    }
