"""alertmanager.yml as amtool checks it on this machine.

Only the templates' directory moves (to a local copy of the rendered
templates, so amtool loads them); every other field, the receivers' *_file
secrets included, is checked exactly as deployed.
"""
from __future__ import annotations

from pathlib import Path

from components import constants as c


def with_local_templates(text: str, templates_dir: Path) -> str:
    return text.replace(c.ALERTMANAGER_TEMPLATES_DIR, str(templates_dir))
