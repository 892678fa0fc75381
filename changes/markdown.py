"""Small Markdown helpers shared by the report's sections."""
from __future__ import annotations

import json
from typing import Any


def code(value: Any) -> str:
    """A value as inline code on one line; `(none)` for a missing one."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    # A backtick would end the code span early, and a newline would end the list item.
    return "`" + " ".join(text.split()).replace("`", "'") + "`"
