"""Images and command-line flags in the change report: what each service runs, per stack, defaults included."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.gitrepo import GitRepo

PROJECT = Path(__file__).resolve().parent.parent


def _edit(repo: GitRepo, relative: str, old: str, new: str) -> None:
    path = repo.path / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{relative} no longer holds {old!r} exactly once; update this test"
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def project_repo(tmp_path_factory) -> GitRepo:
    """The project's own components, rules and stacks in a throwaway repository."""
    path = tmp_path_factory.mktemp("services")
    repo = GitRepo(path)
    shutil.copytree(PROJECT / "components", path / "components", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT / "rules", path / "rules")
    for folder in ("dashboards", "slos", "slo_dashboards"):
        shutil.copytree(PROJECT / folder, path / folder)
    for stack in ("dev", "prod"):
        shutil.copy(PROJECT / f"Pulumi.{stack}.yaml", path / f"Pulumi.{stack}.yaml")
    repo.commit("the project as it is")
    return repo


@pytest.fixture(scope="module")
def upgrade_report(project_repo) -> str:
    """A new default Prometheus image, a longer dev retention and a reworked exporter command."""
    _edit(project_repo, "components/settings.py", '"prom/prometheus:v3.14.0"', '"prom/prometheus:v3.15.0"')
    _edit(project_repo, "Pulumi.dev.yaml", "  scheduler-monitoring:platform: docker\n",
          "  scheduler-monitoring:platform: docker\n  scheduler-monitoring:retentionTime: 45d\n")
    _edit(project_repo, "components/renderers/exporter.py", '"--retry-interval=5",', '"--log-level=DEBUG",')
    project_repo.commit("upgrade")
    return project_repo.report_text("HEAD~1", "HEAD")


def test_a_new_default_image_shows_for_every_stack_that_uses_it(upgrade_report):
    assert "Prometheus image now `prom/prometheus:v3.15.0` instead of `v3.14.0` (dev, prod)." in upgrade_report
    assert "Alertmanager image" not in upgrade_report, "an unchanged image is not reported"


def test_a_stack_setting_that_changes_a_flag_names_the_flag_and_the_stack(upgrade_report):
    assert "Prometheus flag `--storage.tsdb.retention.time` now `45d` instead of `30d` (dev)." in upgrade_report
    assert "(dev, prod)" not in upgrade_report.split("retention.time")[1].split("\n")[0], "prod keeps its own 30d"
    assert "`retentionTime`: set to `45d` (default `30d`)" in upgrade_report


def test_flags_added_and_removed_in_the_renderer(upgrade_report):
    assert "Celery exporter flag `--retry-interval=5` removed (dev, prod)." in upgrade_report
    assert "Celery exporter flag `--log-level=DEBUG` added (dev, prod)." in upgrade_report
    assert "--queues" not in upgrade_report, "an unchanged flag is not reported"


def test_a_stacks_own_image_and_a_computed_alertmanager_flag(project_repo, upgrade_report):
    _edit(project_repo, "Pulumi.prod.yaml", "  scheduler-monitoring:alertmanagerReplicas: 3\n",
          "  scheduler-monitoring:alertmanagerReplicas: 3\n"
          "  scheduler-monitoring:alertmanagerImage: quay.io/prometheus/alertmanager:v0.35.0\n")
    _edit(project_repo, "components/renderers/alertmanager.py",
          'args.append(f"--cluster.peer-timeout={timeout}s")', 'args.append("--cluster.peer-timeout=20s")')
    project_repo.commit("prod pulls from quay; longer peer timeout")
    text = project_repo.report_text("HEAD~1", "HEAD")
    assert ("Alertmanager image now `quay.io/prometheus/alertmanager:v0.35.0` instead of "
            "`prom/alertmanager:v0.35.0` (prod).") in text
    assert "Alertmanager flag `--cluster.peer-timeout` now `20s` instead of `17s` (prod)." in text
    assert "(dev)" not in text, "dev runs a single Alertmanager, without the flag"
    assert "No monitoring changes." in project_repo.report_text("HEAD", "HEAD")


# Stand-ins for older revisions: the report probes each revision with that
# revision's own code, which may predate structured commands.
SETTINGS = '''
from dataclasses import dataclass
from pathlib import Path
import yaml

@dataclass(frozen=True)
class Setting:
    key: str
    default: object = None
    secret: bool = False

SETTINGS = (Setting("alertmanagerImage", "prom/alertmanager:v0.35.0"), Setting("peerTimeout", "17s"))

@dataclass(frozen=True)
class Settings:
    environment: str
    alertmanager_image: str
    peer_timeout: str

def from_stack_file(stack):
    config = yaml.safe_load((Path(__file__).parent.parent / f"Pulumi.{stack}.yaml").read_text())["config"] or {}
    return Settings(stack, config.get("scheduler-monitoring:alertmanagerImage", "prom/alertmanager:v0.35.0"),
                    config.get("scheduler-monitoring:peerTimeout", "17s")), None
'''

# Before structured commands: Alertmanager's flags only as a review file, with comments.
RENDER_FILES_ONLY = '''
from dataclasses import dataclass

@dataclass(frozen=True)
class Rendered:
    settings: object
    files: dict

def render_stack(settings):
    return Rendered(settings, {"alertmanager/flags.txt": "# why\\n--data.retention=120h\\n# why\\n"
                                                        f"--cluster.peer-timeout={settings.peer_timeout}\\n"})
'''

RENDER_COMMANDS = '''
from dataclasses import dataclass

@dataclass(frozen=True)
class Command:
    args: tuple

@dataclass(frozen=True)
class Rendered:
    settings: object
    files: dict
    commands: dict

def render_stack(settings):
    return Rendered(settings, {}, {
        "prometheus": Command(("--config.file=/etc/prometheus/prometheus.yml", "--web.enable-lifecycle")),
        "alertmanager": Command(("--config.file=/etc/alertmanager/alertmanager.yml", "--data.retention=168h",
                                 f"--cluster.peer-timeout={settings.peer_timeout}")),
    })
'''


@pytest.fixture
def old_repo(tmp_path) -> GitRepo:
    repo = GitRepo(tmp_path)
    repo.write("components/__init__.py", "")
    repo.write("components/settings.py", SETTINGS)
    repo.write("Pulumi.prod.yaml", "config:\n  scheduler-monitoring:peerTimeout: 17s\n")
    repo.commit("settings, no renderer")
    return repo


def test_revisions_without_structured_commands_are_compared_as_far_as_they_go(old_repo):
    old_repo.write("components/render.py", RENDER_FILES_ONLY)
    old_repo.commit("flags as review files")
    text = old_repo.report_text("HEAD~1", "HEAD")
    assert "Alertmanager flag `" not in text, f"no renderer at the base: nothing to compare, nothing to claim\n{text}"
    assert "Alertmanager flags are not compared: `HEAD~1`" in text

    old_repo.write("components/render.py", RENDER_COMMANDS)
    old_repo.write("Pulumi.prod.yaml", "config:\n  scheduler-monitoring:peerTimeout: 20s\n"
                                       "  scheduler-monitoring:alertmanagerImage: prom/alertmanager:v0.36.0\n")
    old_repo.commit("structured commands")
    text = old_repo.report_text("HEAD~1", "HEAD")
    assert "Alertmanager image now `prom/alertmanager:v0.36.0` instead of `v0.35.0` (prod)." in text
    assert "Alertmanager flag `--cluster.peer-timeout` now `20s` instead of `17s` (prod)." in text
    assert "Alertmanager flag `--data.retention` now `168h` instead of `120h` (prod)." in text
    # The old review file held only some flags: the others were there all along.
    assert "--config.file" not in text
    assert "Alertmanager flags at `HEAD~1`" in text and "none is reported as added" in text
    assert "Prometheus flags are not compared: `HEAD~1`" in text
    assert "--web.enable-lifecycle" not in text

    old_repo.write("components/render.py", RENDER_COMMANDS.replace("return Rendered", "1 / 0\n    return Rendered"))
    old_repo.commit("broken renderer")
    result = old_repo.report("HEAD~1", "HEAD")
    assert result.returncode == 0, result.stderr
    assert "commands could not be rendered at `HEAD`" in result.stdout
    assert "ZeroDivisionError" in result.stdout
