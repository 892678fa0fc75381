"""Dashboards as deployed: `dashboards/*.json` and `slo_dashboards/*.json`, normalised so diffs stay small.

Each folder of the project holds the dashboards of one Grafana folder
(DASHBOARD_FOLDERS): dashboards/ the "Residency Scheduler" folder,
slo_dashboards/ its nested "SLOs" folder. Every file there must be a
dashboard ending in `.json`; anything else is an error rather than a file
silently neither deployed nor checked.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from components import constants as c
from components.renderers.folders import data_files
from components.settings import PROJECT_DIR, InputError

DASHBOARDS_DIR = PROJECT_DIR / "dashboards"
SLO_DASHBOARDS_DIR = PROJECT_DIR / "slo_dashboards"
DASHBOARD_SUFFIX = ".json"


@dataclass(frozen=True)
class DashboardFolder:
    """A Grafana folder and the project folder that holds its dashboards."""
    uid: str
    title: str
    parent_uid: Optional[str]      # nested in that folder (Grafana's nested folders)
    directory: Path
    rendered_under: str            # where its files go under grafana/dashboards/ ("" or "SLOs/")


def dashboard_folders() -> tuple[DashboardFolder, ...]:
    """The folders in creation order, parents first. Read at call time, so a test may move the directories."""
    return (
        DashboardFolder(c.FOLDER_UID, c.FOLDER_TITLE, None, DASHBOARDS_DIR, ""),
        DashboardFolder(c.SLO_FOLDER_UID, c.SLO_FOLDER_TITLE, c.FOLDER_UID, SLO_DASHBOARDS_DIR,
                        f"{c.SLO_FOLDER_TITLE}/"),
    )


def folder_of(rendered_path: str) -> DashboardFolder:
    """The folder of a rendered dashboard path (`SLOs/scheduler_slos.json` -> the SLOs folder)."""
    directory = rendered_path.rpartition("/")[0] + "/" if "/" in rendered_path else ""
    return next(folder for folder in dashboard_folders() if folder.rendered_under == directory)
# Grafana's limit on a dashboard uid.
UID_MAX_LENGTH = 40

# Grafana rewrites these on every save; keeping them out of what Pulumi sends
# means a preview shows only real changes.
VOLATILE_KEYS = ("id", "version", "iteration")


def dashboard_files(directory: Optional[Path] = None) -> list[Path]:
    return data_files(directory or DASHBOARDS_DIR, DASHBOARD_SUFFIX, holds="the Grafana dashboards",
                      one="a dashboard", convention=f"dashboards are JSON models ending in {DASHBOARD_SUFFIX}",
                      renameable=(DASHBOARD_SUFFIX,))


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


def all_dashboard_files() -> list[Path]:
    """Every dashboard file of every folder."""
    return [path for folder in dashboard_folders() for path in dashboard_files(folder.directory)]


def render_dashboards() -> dict[str, str]:
    """Path under grafana/dashboards/ (`x.json`, `SLOs/y.json`) -> the exact JSON the stack sends to Grafana."""
    rendered: dict[str, str] = {}
    uids: dict[str, str] = {}
    stems: dict[str, str] = {}
    for folder in dashboard_folders():
        for path in dashboard_files(folder.directory):
            where = f"{path.parent.name}/{path.name}"
            model = load_dashboard(path)
            if model["uid"] in uids:
                raise InputError(f"{where}: uid {model['uid']!r} is also the uid of {uids[model['uid']]}; each "
                                 "dashboard needs its own")
            # The file name names the dashboard's resource and its URL output, whatever its folder.
            if path.name in stems:
                raise InputError(f"{where}: {stems[path.name]} has the same file name; dashboards in different "
                                 "folders still need different names")
            uids[model["uid"]] = stems[path.name] = where
            rendered[folder.rendered_under + path.name] = stable_dashboard_json(model)
    return rendered
