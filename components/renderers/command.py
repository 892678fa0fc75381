"""A service's command line as a structured value: rendered once, consumed as is.

Components, platforms and the game day take `args` directly; `text()` is the
review copy written next to the service's other files (`<service>/flags.txt`),
never read back.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    args: tuple[str, ...]
    # Variables the platform fills from secrets (never part of `args`, `ps` or files).
    secret_env_names: tuple[str, ...] = ()

    def text(self, rendered_by: str) -> str:
        lines = [f"# Rendered by {rendered_by}; the arguments the service runs with, one per line.",
                 *(shlex.quote(arg) for arg in self.args),
                 *(f"# secret environment: {name}" for name in self.secret_env_names)]
        return "\n".join(lines) + "\n"
