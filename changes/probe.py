"""Run inside one revision's tree, in its own process: that revision's settings and routing.

Each revision renders with its own renderer and settings table; a separate
process keeps the two revisions' `components` packages from mixing in one
interpreter. Writes JSON to the file named by the first argument.

    python probe.py OUT.json TREE STACK...
"""
import json
import sys
import traceback
from pathlib import Path


def _last_line(error: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()
    return text[-1] if text else type(error).__name__


def main(out: str, tree: str, stacks: list) -> None:
    sys.path.insert(0, tree)
    result = {"secret_keys": None, "defaults": {}, "stacks": {}, "error": None}
    try:
        from components import settings as settings_module
    except Exception as error:   # any failure: this revision has no usable settings module
        result["error"] = f"components.settings: {_last_line(error)}"
        Path(out).write_text(json.dumps(result))
        return
    table = getattr(settings_module, "SETTINGS", ())
    result["secret_keys"] = sorted(s.key for s in table if getattr(s, "secret", False))
    result["defaults"] = {s.key: s.default for s in table if not getattr(s, "secret", False)}
    has_renderer = (Path(tree) / "components" / "renderers" / "alertmanager.py").exists()
    for stack in stacks:
        entry = {"environment": None, "alertmanager": None, "error": None}
        result["stacks"][stack] = entry
        if not has_renderer:
            continue        # no routing at this revision; the stack's settings are compared as text
        try:
            settings, _ = settings_module.from_stack_file(stack)
            entry["environment"] = settings.environment
            from components.renderers.alertmanager import render_alertmanager_config
            entry["alertmanager"] = render_alertmanager_config(settings)
        except Exception as error:   # reported in the change report, never fatal
            entry["error"] = _last_line(error)
    Path(out).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
