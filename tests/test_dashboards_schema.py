"""Dashboards type-check against Grafana's own schema (@grafana/schema, TypeScript).

Grafana publishes its dashboard model only as TypeScript types, so each
dashboard becomes `const dashboard: DashboardJson = <json>` (plus one typed
constant per panel for the panel options the dashboard type leaves open) and
`tsc --noEmit --strict` checks it. Object-literal excess property checks are
what reject a misspelt key; the negative tests below prove they do.

Install the pinned tools with: npm ci --prefix tools/grafana-schema
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"
SLO_DASHBOARDS = ROOT / "slo_dashboards"
SCHEMA_TOOLS = ROOT / "tools" / "grafana-schema"
TYPES_FILE = SCHEMA_TOOLS / "dashboard-json.ts"
TSC = SCHEMA_TOOLS / "node_modules" / ".bin" / "tsc"
INSTALL = "npm ci --prefix tools/grafana-schema"

# Panel types with options typed in dashboard-json.ts; a new visualisation needs its
# panelcfg types added there, or its options would go unchecked.
TYPED_PANELS = {"gauge", "stat", "table", "timeseries"}

TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "module": "nodenext",
        "moduleResolution": "nodenext",
        "target": "es2022",
        # Checks the dashboards, not Grafana's own declaration files.
        "skipLibCheck": True,
        # The generated files import the committed types file by its path.
        "allowImportingTsExtensions": True,
        "types": [],
    }
}

ERROR_LINE = re.compile(r"^(?P<file>[^(\s]+)\((?P<line>\d+),(?P<col>\d+)\): error (?P<code>TS\d+): (?P<message>.*)$")


def require_tsc() -> Path:
    """The check cannot silently pass without its tool: fail with the command that installs it."""
    if not TSC.exists():
        pytest.fail(f"TypeScript and @grafana/schema are not installed: run `{INSTALL}` in {ROOT}")
    return TSC


def typescript_for(model: dict) -> str:
    lines = [f"import type {{ DashboardJson, PanelJson }} from {json.dumps(str(TYPES_FILE))};",
             f"export const dashboard: DashboardJson = {json.dumps(model, indent=2)};"]
    for index, panel in enumerate(model.get("panels", [])):
        if panel.get("type") in TYPED_PANELS:
            lines.append(f"export const panel_{index}: PanelJson<{json.dumps(panel['type'])}> = "
                         f"{json.dumps(panel, indent=2)};")
    return "\n".join(lines) + "\n"


def type_check(directory: Path, models: dict[str, dict]) -> dict[str, list[str]]:
    """Run tsc once over every model; errors per file stem ({} when all pass)."""
    tsc = require_tsc()
    files = []
    for stem, model in models.items():
        (directory / f"{stem}.ts").write_text(typescript_for(model))
        files.append(f"{stem}.ts")
    (directory / "tsconfig.json").write_text(json.dumps({**TSCONFIG, "files": files}, indent=2))
    result = subprocess.run([str(tsc), "-p", str(directory / "tsconfig.json")], cwd=directory,
                            capture_output=True, text=True, timeout=300)
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        match = ERROR_LINE.match(line)
        if match:
            errors.setdefault(Path(match["file"]).stem, []).append(f"{match['code']}: {match['message']}")
    if result.returncode != 0 and not errors:
        pytest.fail(f"tsc failed without reporting an error per file:\n{result.stdout}\n{result.stderr}")
    assert result.returncode == 0 or errors, result.stdout
    return errors


def load_all() -> dict[str, dict]:
    """Every dashboard of every folder, by file stem."""
    paths = sorted([*DASHBOARDS.glob("*.json"), *SLO_DASHBOARDS.glob("*.json")])
    return {path.stem: json.loads(path.read_text()) for path in paths}


def test_dashboards_type_check_against_grafana_schema(tmp_path):
    models = load_all()
    assert set(models) == {"scheduler_overview", "resilience_metrics", "celery_tasks", "scheduler_slos"}
    errors = type_check(tmp_path, models)
    assert errors == {}, "\n".join(f"{stem}: {e}" for stem, found in errors.items() for e in found)


def test_every_panel_type_has_typed_options():
    for stem, model in load_all().items():
        for panel in model["panels"]:
            assert panel["type"] in TYPED_PANELS | {"row"}, \
                f"{stem}: {panel['title']} is a {panel['type']} panel: add its panelcfg types to {TYPES_FILE.name}"


def _first(model: dict, panel_type: str) -> dict:
    return next(panel for panel in model["panels"] if panel["type"] == panel_type)


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def broken_copies() -> dict[str, tuple[dict, str]]:
    """Each copy breaks one thing the checker must catch, with the text its error must name."""
    models = load_all()
    broken = {}

    model = copy.deepcopy(models["scheduler_overview"])
    _rename(_first(model, "gauge"), "gridPos", "gridPoss")
    broken["misspelt_panel_key"] = (model, "gridPoss")

    model = copy.deepcopy(models["scheduler_overview"])
    _rename(model, "schemaVersion", "schemaVersoin")
    broken["misspelt_dashboard_key"] = (model, "schemaVersoin")

    model = copy.deepcopy(models["scheduler_overview"])
    _rename(_first(model, "gauge")["options"], "showThresholdMarkers", "showThresholdMarker")
    broken["misspelt_panel_option"] = (model, "showThresholdMarker")

    model = copy.deepcopy(models["resilience_metrics"])
    _first(model, "timeseries")["fieldConfig"]["defaults"]["custom"]["lineInterpolation"] = "stepafter"
    broken["wrong_enum_value"] = (model, '"stepafter"')

    model = copy.deepcopy(models["celery_tasks"])
    _first(model, "stat")["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["value"] = "0"
    broken["wrong_value_type"] = (model, "string")

    model = copy.deepcopy(models["celery_tasks"])
    variable = model["templating"]["list"][1]
    _rename(variable, "includeAll", "includeALL")
    broken["misspelt_variable_key"] = (model, "includeALL")
    return broken


def test_checker_rejects_broken_dashboards(tmp_path):
    """The check is only worth something if a misspelt key or a wrong value fails it."""
    cases = broken_copies()
    errors = type_check(tmp_path, {name: model for name, (model, _) in cases.items()})
    for name, (_, expected) in cases.items():
        assert name in errors, f"{name}: tsc accepted a broken dashboard"
        assert any(expected in error for error in errors[name]), f"{name}: {errors[name]}"
