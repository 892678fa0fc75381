"""The layering the design asks for, checked on the source."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from components.settings import PROJECT_DIR

COMPONENTS = PROJECT_DIR / "components"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def python_files(*parts: str) -> list[Path]:
    return sorted(COMPONENTS.joinpath(*parts).glob("*.py"))


def test_only_the_settings_module_reads_pulumi_config():
    for path in list(PROJECT_DIR.glob("*.py")) + list(COMPONENTS.rglob("*.py")):
        if path.name == "settings.py":
            continue
        assert "Config(" not in path.read_text(), f"{path.relative_to(PROJECT_DIR)} reads pulumi.Config"


def test_renderers_are_pure():
    for path in python_files("renderers"):
        pulumi_imports = {m for m in imported_modules(path) if m.split(".")[0].startswith("pulumi")}
        assert not pulumi_imports, f"{path.name} imports {pulumi_imports}"


def test_components_never_branch_on_the_platform():
    for path in python_files():
        if path.name in ("settings.py", "render.py", "constants.py", "__init__.py", "dashboard_summary.py"):
            continue
        source = path.read_text()
        assert "on_kubernetes" not in source and ".platform ==" not in source, f"{path.name} branches on the platform"
        provider_imports = {m for m in imported_modules(path) if m in ("pulumi_docker", "pulumi_kubernetes")}
        assert not provider_imports, f"{path.name} imports {provider_imports}: that belongs to components/platform/"


def test_composition_root_only_composes():
    source = (PROJECT_DIR / "__main__.py").read_text()
    tree = ast.parse(source)
    assert not [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))], \
        "__main__.py declares functions or classes; they belong in components/"


def test_rendering_loads_no_pulumi_package():
    """The renderers, the topology and the settings run without any Pulumi SDK or provider loaded."""
    code = ("import sys\n"
            "from components.render import render_stack\n"
            "from components.settings import from_stack_file\n"
            "for stack in ('dev', 'prod'):\n"
            "    render_stack(from_stack_file(stack)[0])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"rendering loaded {result.stdout.strip()}"
