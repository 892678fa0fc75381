"""Benchmarks of the stack.

    .venv/bin/python -m benchmark [--scales 1,10,100] [--revision REV]
                                  [--only rules|dashboards] [--dashboards TITLE,...] [--keep]
    .venv/bin/python -m benchmark --program [--runs N]

The default: for each scale (a multiple of today's cardinality, see
benchmark/model.py), synthesise a month of the metrics the backend and the
Celery exporter emit, write it as the deployed Prometheus release's TSDB,
start that release on loopback with the prod stack's rules, and measure each
rule group's evaluation time against its interval, every dashboard's load
over 6h, 7d and 30d as Grafana sends it, and the head series, memory and disk.
Prints a progress line per phase, then one table and the verdict against the
targets (at 100x: every group under 1 % of its interval, every 7-day
dashboard under 1 s), with the slowest rules of each group and the slowest
panels of each dashboard that misses them. For a quicker look at one part,
`--scales 100 --only dashboards --dashboards celery` measures only the
dashboards whose title contains "celery" (the month is still synthesised
and written: that is most of a scale's time); `--keep --work DIR` leaves the
TSDB there. `--revision` measures another revision's rules, dashboards and
scrape configuration (e.g. `main`) on the same data model.
Everything heavy runs under `nice -n 19` and idle-class I/O.

`--program`: how long the Pulumi program takes under mocks, per stack,
against the SDK imports (medians over fresh processes).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from benchmark import program, report, run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10,100",
                        help="comma-separated multiples of today's cardinality (default 1,10,100)")
    parser.add_argument("--revision", help="measure this git revision's stack instead of the working tree")
    parser.add_argument("--evaluations", type=int, default=3, help="rule evaluations to wait for per group")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each dashboard query (median kept)")
    parser.add_argument("--work", type=Path, help="directory for the TSDBs (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--only", choices=run.PHASES, action="append",
                        help="measure only this phase (repeatable; default: all of them)")
    parser.add_argument("--dashboards", help="comma-separated parts of the titles of the dashboards to measure "
                                             "(default: every dashboard)")
    parser.add_argument("--keep", action="store_true",
                        help="keep each scale's TSDB under --work, to query it again with a Prometheus of one's own")
    parser.add_argument("--program", action="store_true", help="time the Pulumi program under mocks instead")
    parser.add_argument("--runs", type=int, default=5, help="with --program: fresh processes to time")
    args = parser.parse_args(argv)

    if args.program:
        for line in program.run(args.runs):
            print(line)
        return 0

    if args.keep and not args.work:
        parser.error("--keep needs --work: a temporary directory is removed at the end")
    scales = [float(s) for s in args.scales.split(",") if s.strip()]
    phases = tuple(args.only or run.PHASES)
    titles = [t.strip() for t in args.dashboards.split(",") if t.strip()] if args.dashboards else None
    with tempfile.TemporaryDirectory(prefix="benchmark-", dir=args.work) as work_dir:
        work = Path(tempfile.mkdtemp(prefix="benchmark-", dir=args.work)) if args.keep else Path(work_dir)
        stack = run.stack_at(args.revision, work / "revision") if args.revision else run.current_stack()
        run.selected(stack.dashboards, titles)
        results = []
        for scale in scales:
            scale_dir = work / f"scale-{scale:g}"
            scale_dir.mkdir()
            results.append(run.run_scale(stack, scale, scale_dir, evaluations=args.evaluations,
                                         repeat=args.repeat, keep=args.keep, phases=phases, titles=titles,
                                         say=lambda line: print(line, flush=True)))
    for line in report.table(stack.label, results):
        print(line)
    for line in report.verdict(results):
        print(line)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
