"""How long the Pulumi program takes under mocks, per stack, against the SDK imports.

Each run is a fresh process: it imports the SDKs the program uses (timed), then
runs the whole program under mocks for each stack (timed). Machines here are
noisy, so the figures that matter are the ratios within one process; the
medians over the runs are printed.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = ("dev", "prod")

MEASURE = r"""
import json, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import pulumi, pulumi_docker, pulumi_kubernetes, pulumiverse_grafana, pulumi_random, yaml
imports = time.perf_counter() - t0
from tests.support.pulumi_mocks import run_program
from tests.support.stack_config import stack_config
result = {{"imports": imports}}
for stack in {stacks!r}:
    config, secret_keys = stack_config(stack)
    t1 = time.perf_counter()
    run = run_program(stack, config, secret_keys)
    result[stack] = time.perf_counter() - t1
    result[stack + "_resources"] = len(run.declared)
print(json.dumps(result))
"""


def measure_once() -> dict:
    code = MEASURE.format(root=str(PROJECT_DIR), stacks=STACKS)
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(runs: int) -> list[str]:
    """The lines to print: the SDK import time, then each stack's time and its ratio to the imports."""
    results = [measure_once() for _ in range(runs)]
    imports = statistics.median(r["imports"] for r in results)
    lines = [f"SDK import time (pulumi, docker, kubernetes, grafana, random): median {imports:.3f} s "
             f"over {runs} fresh processes"]
    for stack in STACKS:
        seconds = statistics.median(r[stack] for r in results)
        ratio = statistics.median(r[stack] / r["imports"] for r in results)
        lines.append(f"{stack:>4}: program under mocks {seconds:.3f} s for {results[0][stack + '_resources']} "
                     f"resources; ratio to SDK imports: {ratio:.2f}")
    return lines
