"""Small throwaway git repositories for the change report's tests."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


class GitRepo:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "ci@scheduler.example")
        self.git("config", "user.name", "Change report test")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.path), *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def report(self, *revisions: str) -> subprocess.CompletedProcess:
        """`python -m changes` run in this repository, the project's own package on the path."""
        env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
        return subprocess.run([sys.executable, "-m", "changes", *revisions], cwd=self.path, env=env,
                              capture_output=True, text=True, timeout=120)

    def report_text(self, *revisions: str) -> str:
        result = self.report(*revisions)
        assert result.returncode == 0, result.stderr
        return result.stdout
