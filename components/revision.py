"""Which revision of the runbooks a deployment links to.

An alert's runbook link must show the runbook as deployed, not whatever a
branch says later. The link names the commit that last changed runbooks/:
it moves only when a runbook does, so an unrelated merge does not change
every rule file (and roll Prometheus) for nothing.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from components.settings import InputError

REVISION_TOKEN = "{revision}"
# Set by whoever renders from something that is not a git checkout (an
# exported tree, a tarball): the commit the runbooks of that tree come from.
REVISION_ENV = "SCHEDULER_MONITORING_RUNBOOKS_REVISION"


def runbooks_revision(project_dir: Path) -> str:
    if os.environ.get(REVISION_ENV):
        return os.environ[REVISION_ENV]
    try:
        result = subprocess.run(["git", "-C", str(project_dir), "log", "-1", "--format=%H", "--", "runbooks"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InputError(f"runbookBaseUrl names {REVISION_TOKEN}, but git cannot be run ({error}); set "
                         f"{REVISION_ENV} or write a fixed runbookBaseUrl") from None
    revision = result.stdout.strip()
    if result.returncode != 0 or not revision:
        raise InputError(f"runbookBaseUrl names {REVISION_TOKEN}, but {project_dir.name}/ is not a git checkout "
                         f"with committed runbooks; set {REVISION_ENV} or write a fixed runbookBaseUrl")
    return revision
