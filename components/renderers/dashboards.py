"""Dashboards as deployed: `dashboards/*.json`, normalised so diffs stay small."""
from __future__ import annotations

import json
from pathlib import Path

from components.settings import PROJECT_DIR

DASHBOARDS_DIR = PROJECT_DIR / "dashboards"

# Grafana rewrites these on every save; keeping them out of what Pulumi sends
# means a preview shows only real changes.
VOLATILE_KEYS = ("id", "version", "iteration")


def dashboard_files(directory: Path = DASHBOARDS_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def load_dashboard(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path.name}:{error.lineno}: not valid JSON: {error.msg}") from None


def stable_dashboard_json(model: dict) -> str:
    """Canonical text of a dashboard: sorted keys, no volatile fields."""
    cleaned = {k: v for k, v in model.items() if k not in VOLATILE_KEYS}
    return json.dumps(cleaned, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def render_dashboards(directory: Path = DASHBOARDS_DIR) -> dict[str, str]:
    """File name -> the exact JSON the stack sends to Grafana."""
    return {path.name: stable_dashboard_json(load_dashboard(path)) for path in dashboard_files(directory)}
