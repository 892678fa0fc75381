"""Run inside one revision's tree, in its own process: that revision's settings, routing and commands.

Each revision renders with its own renderer and settings table; a separate
process keeps the two revisions' `components` packages from mixing in one
interpreter. Writes JSON to the file named by the first argument.

    python probe.py OUT.json TREE STACK...

Runs as `python -c` against any revision, old ones included, so it imports
nothing of the report and asks each revision only for what that revision has.
"""
import dataclasses
import json
import shlex
import sys
import traceback
from pathlib import Path

IMAGE_SUFFIX = "_image"
REVIEW_FILE_SUFFIX = "/flags.txt"


def _last_line(error: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()
    return text[-1] if text else type(error).__name__


def _images(settings) -> dict:
    """Service -> image, from the settings fields named `<service>_image` (defaults applied)."""
    if not dataclasses.is_dataclass(settings):
        return {}
    images = {}
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name, None)
        if item.name.endswith(IMAGE_SUFFIX) and isinstance(value, str):
            images[item.name[:-len(IMAGE_SUFFIX)].replace("_", "-")] = value
    return images


def _args_in_review_file(text: str) -> list:
    args = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            args.extend(shlex.split(line))
    return args


def _commands(settings) -> tuple:
    """(service -> arguments, services whose arguments come from a review file only).

    Revisions before structured commands wrote some services' flags as
    `<service>/flags.txt` and kept the rest inside the components; those
    files may hold only part of the command.
    """
    from components.render import render_stack
    rendered = render_stack(settings)
    commands = getattr(rendered, "commands", None)
    if commands is not None:
        return {str(service): [str(arg) for arg in command.args] for service, command in commands.items()}, []
    found = {}
    for path, text in (getattr(rendered, "files", None) or {}).items():
        if path.endswith(REVIEW_FILE_SUFFIX) and path.count("/") == 1:
            found[path[:-len(REVIEW_FILE_SUFFIX)]] = _args_in_review_file(text)
    return found, sorted(found)


def _slos(settings) -> list:
    """Each SLO as the stack runs it: objective, window, burn rates, SLI, and its error budget."""
    from components.renderers import slos
    found = []
    for objective in slos.apply_settings(settings, slos.load_slos()):
        found.append({"name": objective.slo.name, "title": objective.slo.title,
                      "objective": objective.objective, "window": objective.window,
                      "burn_rates": list(objective.burn_rates), "good": objective.slo.good.text,
                      "valid": objective.slo.valid.text,
                      "budget": slos.error_budget_text(objective.objective, objective.window)})
    return found


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
    has_routing = (Path(tree) / "components" / "renderers" / "alertmanager.py").exists()
    has_commands = (Path(tree) / "components" / "render.py").exists()
    has_slos = (Path(tree) / "components" / "renderers" / "slos.py").exists()
    for stack in stacks:
        entry = {"environment": None, "alertmanager": None, "error": None,
                 "images": None, "commands": None, "partial_commands": [], "commands_error": None,
                 "slos": None, "slos_error": None}
        result["stacks"][stack] = entry
        try:
            settings, _ = settings_module.from_stack_file(stack)
        except Exception as error:   # reported in the change report, never fatal
            # Without a renderer there is nothing the settings would have fed;
            # the stack's settings are still compared as text.
            if has_routing:
                entry["error"] = _last_line(error)
            if has_commands:
                entry["commands_error"] = _last_line(error)
            continue
        entry["environment"] = getattr(settings, "environment", None)
        entry["images"] = _images(settings)
        if has_routing:
            try:
                from components.renderers.alertmanager import render_alertmanager_config
                entry["alertmanager"] = render_alertmanager_config(settings)
            except Exception as error:
                entry["error"] = _last_line(error)
        if has_commands:
            try:
                entry["commands"], entry["partial_commands"] = _commands(settings)
            except Exception as error:
                entry["commands_error"] = _last_line(error)
        if has_slos:
            try:
                entry["slos"] = _slos(settings)
            except Exception as error:
                entry["slos_error"] = _last_line(error)
    Path(out).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
