"""Stack settings (`Pulumi.<stack>.yaml`) of one revision, and what changed; secrets never shown."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

PROJECT = "scheduler-monitoring"


def load(tree: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Stack -> {key: raw value}; keys of this project lose their `scheduler-monitoring:` prefix."""
    stacks, problems = {}, []
    for path in sorted(tree.glob("Pulumi.*.yaml")):
        stack = path.name[len("Pulumi."):-len(".yaml")]
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            problems.append(f"{path.name} is not valid YAML ({str(error).splitlines()[0]})")
            continue
        config = document.get("config") or {}
        stacks[stack] = {
            (str(key).split(":", 1)[1] if str(key).startswith(PROJECT + ":") else str(key)): value
            for key, value in (config.items() if isinstance(config, dict) else [])
        }
    return stacks, problems


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _shown(value: Any) -> str:
    return "`" + (value if isinstance(value, str) else json.dumps(value)) + "`"


def compare(before: Mapping[str, dict], after: Mapping[str, dict], secret_keys: Iterable[str],
            defaults: Mapping[str, Any]) -> dict[str, list[str]]:
    """Stack -> lines. A value is printed only when it is neither encrypted nor a secret setting."""
    secret = set(secret_keys)
    result: dict[str, list[str]] = {}
    for stack in sorted(set(before) | set(after)):
        if stack not in before:
            result[stack] = [f"new stack file `Pulumi.{stack}.yaml` ({len(after[stack])} settings)"]
            continue
        if stack not in after:
            result[stack] = [f"stack file `Pulumi.{stack}.yaml` removed"]
            continue
        lines = []
        old_values, new_values = before[stack], after[stack]
        for key in sorted(set(old_values) | set(new_values)):
            old, new = old_values.get(key), new_values.get(key)
            if old == new:
                continue
            hidden = key in secret or _is_secret(old) or _is_secret(new)
            if hidden:
                what = "secret set" if key not in old_values else "secret removed" if key not in new_values \
                    else "secret changed"
                lines.append(f"`{key}`: {what}")
            elif key not in old_values:
                default = f" (default {_shown(defaults[key])})" if defaults.get(key) is not None else ""
                lines.append(f"`{key}`: set to {_shown(new)}{default}")
            elif key not in new_values:
                default = f" {_shown(defaults[key])}" if defaults.get(key) is not None else ""
                lines.append(f"`{key}`: unset (was {_shown(old)}; now the default{default})")
            else:
                lines.append(f"`{key}`: {_shown(old)} → {_shown(new)}")
        heartbeat_was, heartbeat_is = old_values.get("watchdogHeartbeat"), new_values.get("watchdogHeartbeat")
        if heartbeat_is == "none" and heartbeat_was != "none":
            # Said loudly: from now on nobody learns that alerting itself has stopped.
            lines.insert(0, f"**`{stack}` now runs without a dead man's switch** (`watchdogHeartbeat: none`): "
                            "the Watchdog reaches no heartbeat service, so nobody is told if alerting stops")
        if lines:
            result[stack] = lines
    return result
