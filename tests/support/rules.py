"""Reading the rule files the way the checks need them, and running promtool on rendered copies."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.renderers.rules import RULES_DIR, RuleFile, render_rule_text, rule_files
from components.renderers.slos import slo_rule_file
from components.settings import from_stack_file
from tools.binaries import PRODUCT_OF_COMMAND, BinariesError, all_releases, binary

TESTS_DIR = Path(__file__).resolve().parent.parent / "rules"
# Fixed link bases for rendered test copies: the promtool tests assert them.
TEST_RUNBOOK_BASE_URL = "https://runbooks.test/runbooks"
TEST_GRAFANA_URL = "https://grafana.test"
# A 10 GiB volume (the default claim) in rendered test copies.
TEST_PROMETHEUS_VOLUME_BYTES = 10 * 2**30


def render_for_tests(text: str) -> str:
    """A rule file's text as deployed, with the fixed test values the promtool tests assert."""
    return render_rule_text(text, runbook_base_url=TEST_RUNBOOK_BASE_URL, grafana_url=TEST_GRAFANA_URL,
                            prometheus_volume_bytes=TEST_PROMETHEUS_VOLUME_BYTES)


def generated_rule_file(stack: str = "prod") -> RuleFile:
    """The group generated from slos/*.yml for a committed stack (prod keeps the objectives of the files)."""
    return slo_rule_file(from_stack_file(stack)[0])


def groups(*, rendered: bool = False) -> list[tuple[Path, dict]]:
    """(file, group) for every group of every rule file, the generated SLO group included, as committed
    or (`rendered`) as deployed.

    Expressions only parse rendered: a setting such as the volume size is
    filled into them at render time.
    """
    found = []
    for path in rule_files(RULES_DIR):
        text = render_for_tests(path.read_text()) if rendered else path.read_text()
        for group in yaml.safe_load(text)["groups"]:
            found.append((path, group))
    generated = generated_rule_file()
    for group in generated.document["groups"]:
        found.append((Path(generated.name), group))
    return found


def alerting_rules() -> dict[str, dict]:
    """Alert name -> rule (with the group name under `group`)."""
    alerts: dict[str, dict] = {}
    for _, group in groups():
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["alert"] not in alerts, f"alert {rule['alert']} is defined twice"
                alerts[rule["alert"]] = {**rule, "group": group["name"]}
    return alerts


def recording_rules() -> dict[str, dict]:
    return {rule["record"]: {**rule, "group": group["name"]}
            for _, group in groups() for rule in group["rules"] if "record" in rule}


def tool(name: str, stack: str = "prod") -> str:
    """Path of promtool, prometheus, amtool or alertmanager at the release `stack` deploys.

    A missing one fails the test that needs it, never skips it.
    """
    try:
        return binary(name, stack)
    except BinariesError as error:
        pytest.fail(str(error))


def tools_of_every_release(name: str) -> list[str]:
    """`name` at each distinct release the committed stacks deploy (one path while they agree)."""
    try:
        releases = [release for release in all_releases() if release.product is PRODUCT_OF_COMMAND[name]]
    except BinariesError as error:
        pytest.fail(str(error))
    unbuilt = [f"{release} ({release.directory})" for release in releases if not release.built()]
    if unbuilt:
        pytest.fail(f"not built: {', '.join(unbuilt)}; run ./scripts/setup")
    return [str(release.path(name)) for release in releases]


def render_into(directory: Path) -> list[Path]:
    """Rendered copies of every rule file and the generated SLO group (test values) plus the promtool
    test files, side by side."""
    texts = {path.name: path.read_text() for path in rule_files(RULES_DIR)}
    generated = generated_rule_file()
    texts[generated.name] = generated.text
    for name, text in texts.items():
        (directory / name).write_text(render_for_tests(text))
    tests = sorted(TESTS_DIR.glob("*.test.yml"))
    for path in tests:
        shutil.copy(path, directory / path.name)
    return [directory / path.name for path in tests]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
