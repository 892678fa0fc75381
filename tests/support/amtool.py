"""Alertmanager configs as the local amtool (Debian's 0.25) can check them.

The deployed image is Alertmanager 0.35. The watchdog heartbeat receiver reads
its secret URL with the webhook's `url_file`, which exists only from 0.26 on;
0.25 has no way to read a webhook URL from a file, and inlining the secret is
not an option. So, for amtool 0.25 only, that single field becomes a dummy
URL: everything else in the file (routes, inhibitions, the other receivers'
*_file fields, templates) is still checked by amtool. The real field is
pinned by tests/test_alertmanager.py::test_secrets_are_files_never_inline.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from components import constants as c

_WEBHOOK_URL_FILE = re.compile(r"(?m)^(\s*-?\s*)url_file: \S+$")


def for_local_amtool(text: str, templates_dir: Optional[Path] = None) -> str:
    """The rendered alertmanager.yml, readable by amtool 0.25 (templates optionally relocated)."""
    if templates_dir is not None:
        text = text.replace(c.ALERTMANAGER_TEMPLATES_DIR, str(templates_dir))
    text, replaced = _WEBHOOK_URL_FILE.subn(r"\1url: https://heartbeat.invalid/ping", text)
    assert replaced == text.count("webhook_configs:"), "every webhook reads its URL from a file"
    return text
