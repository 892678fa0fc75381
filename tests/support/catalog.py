"""The metrics catalog: which series names a query may use."""
from __future__ import annotations

from pathlib import Path

import yaml

CATALOG = Path(__file__).resolve().parent.parent.parent / "catalog" / "metrics.yml"


def entries() -> list[dict]:
    return yaml.safe_load(CATALOG.read_text())["metrics"]


def series_names() -> set[str]:
    """Every series name that exists in Prometheus according to the catalog."""
    return {series for entry in entries() for series in entry["series"]}
