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


# --------------------------------------------------------------------------
# The import graph of the project's own modules.
# --------------------------------------------------------------------------
PACKAGES = ("alerting", "benchmark", "components", "changes", "gameday", "silences", "tools")
# Lowest first; a module may import only from its own layer or below.
LAYERS = (
    ("semantics", ("alerting",)),
    ("settings", ("components.constants", "components.settings")),
    ("renderers", ("components.platform.topology", "components.renderers", "components.revision")),
    ("rendering", ("components.render", "components.dashboard_summary")),
    ("platforms", ("components.platform",)),
    ("components", ("components",)),
    ("composition", ("__main__",)),
)
# Tools around the program: they read what the program renders, never its Pulumi layers.
TOOLING = ("tools", "benchmark", "changes", "gameday", "silences")
TOOLING_MAY_IMPORT = ("semantics", "settings", "renderers", "rendering")


def project_modules() -> dict[str, Path]:
    modules = {"__main__": PROJECT_DIR / "__main__.py"}
    for package in PACKAGES:
        for path in sorted((PROJECT_DIR / package).rglob("*.py")):
            parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the project's modules it imports, at any depth of its code (functions included)."""
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from components import settings` imports the module components.settings;
                # `from components.settings import X` the module components.settings.
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                           for alias in node.names]
            for target in targets:
                # `from components import settings` names the module components.settings.
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.add(target)
        graph[name] = found
    return graph


def layer_of(module: str) -> str:
    best, length = None, -1
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = layer, len(prefix)
    if best is None:
        raise AssertionError(f"{module} belongs to no layer")
    return best


def test_no_module_imports_from_a_layer_above_it():
    order = [layer for layer, _ in LAYERS]
    problems = []
    for module, imports in import_graph().items():
        tooling = module.split(".")[0] in TOOLING
        for target in imports:
            if target.split(".")[0] in TOOLING:
                if not tooling:
                    problems.append(f"{module} imports the tool {target}")
                continue
            if tooling:
                if layer_of(target) not in TOOLING_MAY_IMPORT:
                    problems.append(f"{module} (a tool) imports {target} ({layer_of(target)} layer)")
            elif order.index(layer_of(target)) > order.index(layer_of(module)):
                problems.append(f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})")
    assert not problems, "\n".join(sorted(problems))


def test_no_two_modules_import_each_other_even_through_others():
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:      # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"modules importing each other: {cycles}"


def test_the_tree_passes_the_linter():
    # ruff.toml: unused or undefined names and unsorted imports fail the suite.
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(PROJECT_DIR)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
