"""The quick game day, end to end on real servers (about 12 minutes; marker `gameday`).

The Prometheus and Alertmanager releases the prod stack deploys (built into
.cache/bin; the run checks their versions): two Prometheus replicas, one
restarted on its data and later replaced with an empty data directory, and
three clustered Alertmanagers, rolled one at a time and later one killed;
Redis, a Celery worker and the Celery exporter, configured with the prod
stack's rendered files. Fails, never skips, when a tool is missing.
"""
from __future__ import annotations

import statistics
import sys

import pytest

from gameday.plan import TOLERANCE
from gameday.run import Options, run


@pytest.mark.gameday
def test_quick_game_day_on_real_servers():
    result = run(Options(stack="prod", quick=True, out=sys.stdout))
    failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.ok]
    assert not failed, "game day failed:\n  " + "\n  ".join(failed)
    # Beyond the checks: the numbers the README promises.
    assert result.panels_total > 0 and result.panels_with_data == result.panels_total, result.empty_panels
    assert result.ratios, "no notification was measured"
    assert max(result.ratios) <= TOLERANCE, f"alert latency ratio max {max(result.ratios):.2f}"
    assert statistics.median(result.ratios) <= 1.0
