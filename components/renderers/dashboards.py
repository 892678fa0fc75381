"""Dashboards as deployed: `dashboards/*.json`, normalised so diffs stay small.

Every file in dashboards/ must be a dashboard ending in `.json`; anything else
there is an error rather than a file silently neither deployed nor checked.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from components.settings import PROJECT_DIR, InputError

DASHBOARDS_DIR = PROJECT_DIR / "dashboards"
DASHBOARD_SUFFIX = ".json"
# Grafana's limit on a dashboard uid.
UID_MAX_LENGTH = 40

# Grafana rewrites these on every save; keeping them out of what Pulumi sends
# means a preview shows only real changes.
VOLATILE_KEYS = ("id", "version", "iteration")


def dashboard_files(directory: Optional[Path] = None) -> list[Path]:
    directory = directory or DASHBOARDS_DIR
    if not directory.is_dir():
        raise InputError(f"{directory.name}/: no such folder; it holds the Grafana dashboards")
    entries = sorted(directory.iterdir())
    strays = [path for path in entries if not (path.is_file() and path.name.endswith(DASHBOARD_SUFFIX))]
    if strays:
        raise InputError("\n".join(
            f"{directory.name}/{path.name}: not a dashboard; dashboards are JSON models ending in "
            f"{DASHBOARD_SUFFIX}" + (f"; rename it to {path.stem}{DASHBOARD_SUFFIX}"
                                     if path.is_file() and path.suffix.lower() == DASHBOARD_SUFFIX
                                     else "; move it out of the folder")
            for path in strays))
    return entries


def load_dashboard(path: Path) -> dict:
    """The dashboard model, or InputError naming the file, line and column of what is wrong."""
    where = f"{path.parent.name}/{path.name}"
    try:
        model = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{where}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{where}: not UTF-8 text ({error.reason})") from None
    if not isinstance(model, dict):
        raise InputError(f"{where}: a dashboard is a JSON object (Grafana's dashboard model)")
    uid, title = model.get("uid"), model.get("title")
    if not isinstance(uid, str) or not uid or len(uid) > UID_MAX_LENGTH:
        raise InputError(f"{where}: needs a fixed \"uid\" of 1 to {UID_MAX_LENGTH} characters (links and "
                         "alerts point at it)")
    if not isinstance(title, str) or not title.strip():
        raise InputError(f"{where}: needs a \"title\"")
    if not isinstance(model.get("panels", []), list):
        raise InputError(f"{where}: \"panels\" must be a list")
    return model


def stable_dashboard_json(model: dict) -> str:
    """Canonical text of a dashboard: sorted keys, no volatile fields."""
    cleaned = {k: v for k, v in model.items() if k not in VOLATILE_KEYS}
    return json.dumps(cleaned, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def render_dashboards(directory: Optional[Path] = None) -> dict[str, str]:
    """File name -> the exact JSON the stack sends to Grafana."""
    rendered, uids = {}, {}
    for path in dashboard_files(directory):
        model = load_dashboard(path)
        if model["uid"] in uids:
            raise InputError(f"{path.parent.name}/{path.name}: uid {model['uid']!r} is also the uid of "
                             f"{uids[model['uid']]}; each dashboard needs its own")
        uids[model["uid"]] = path.name
        rendered[path.name] = stable_dashboard_json(model)
    return rendered
