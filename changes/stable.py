"""Dashboard JSON as deployed: the same text for the same dashboard, whatever last saved it.

Grafana adds a numeric `id`, bumps `version` on every save and keeps an
`iteration` timestamp; none of them is part of the design, and each would show
up as a change in every `pulumi preview`. Sorted keys and a fixed indent make
the text depend on the content only, so a preview's diff shows what changed.
Panel ids are kept: they are fixed and the alerts link to them.
"""
from __future__ import annotations

import json

VOLATILE_DASHBOARD_FIELDS = ("id", "version", "iteration")


def stable_dashboard_json(model: dict) -> str:
    """The dashboard's JSON with sorted keys, two-space indent, and no volatile top-level fields."""
    cleaned = {key: value for key, value in model.items() if key not in VOLATILE_DASHBOARD_FIELDS}
    return json.dumps(cleaned, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
