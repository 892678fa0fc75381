"""Revisions of the repository as directories on disk."""
from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional


class RevisionError(Exception):
    """A revision (or the repository itself) cannot be read; the message is one line."""


def _git(repo: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=not binary)


def repository_root(path: Path) -> Path:
    result = _git(path, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        raise RevisionError(f"{path} is not inside a git repository")
    return Path(result.stdout.strip())


def resolve(repo: Path, revision: str) -> str:
    """The commit id a revision names; RevisionError when it names none."""
    # `--end-of-options` keeps a revision such as `--all` from reading as an option.
    result = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}")
    if result.returncode != 0 or not result.stdout.strip():
        raise RevisionError(f"revision '{revision}' does not exist in {repo}")
    return result.stdout.strip()


def last_change(repo: Path, commit: str, path: str) -> Optional[str]:
    """The commit, at or before `commit`, that last changed `path` (None if none did)."""
    result = _git(repo, "log", "-1", "--format=%H", commit, "--", path)
    return result.stdout.strip() or None if result.returncode == 0 else None


@contextmanager
def tree_at(repo: Path, commit: Optional[str]) -> Iterator[Path]:
    """The files of `commit` in a temporary directory, or the working tree itself for None.

    An export rather than `git worktree add` leaves no administrative entries
    behind in the repository when the process is killed half-way.
    """
    if commit is None:
        yield repo
        return
    archive = _git(repo, "archive", "--format=tar", commit, binary=True)
    if archive.returncode != 0:
        message = archive.stderr.decode(errors="replace").strip().splitlines()
        raise RevisionError(f"cannot export {commit[:12]}: {message[-1] if message else 'git archive failed'}")
    with tempfile.TemporaryDirectory(prefix="changes-") as directory:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(directory, filter="data")
        yield Path(directory)
