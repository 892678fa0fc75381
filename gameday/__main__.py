"""python -m gameday [--quick] [--stack STACK] [--only NAME ...]: rehearse incidents on real servers."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gameday.celery_side import DEFAULT_EXPORTER_VENV
from gameday.procs import GamedayError
from gameday.run import Options, run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m gameday", description=(
        "Run the incident scenarios in gameday/scenarios against real Prometheus, Alertmanager, Redis, "
        "a Celery worker and the Celery exporter, configured exactly as the stack deploys them."))
    parser.add_argument("--stack", default="prod", help="stack whose rendered configuration is tested (default: prod)")
    parser.add_argument("--quick", action="store_true",
                        help="only the scenarios whose alerts wait 5 minutes or less (about 12 minutes)")
    parser.add_argument("--only", nargs="+", default=(), metavar="SCENARIO", help="run just these scenarios")
    parser.add_argument("--prometheus", help="Prometheus binary (default $GAMEDAY_PROMETHEUS, else the release "
                        "the stack deploys, built by scripts/setup into .cache/bin)")
    parser.add_argument("--alertmanager", help="Alertmanager binary (default $GAMEDAY_ALERTMANAGER, else the "
                        "release the stack deploys, built by scripts/setup into .cache/bin)")
    parser.add_argument("--redis-server", help="redis-server binary (default $GAMEDAY_REDIS_SERVER or /usr/bin/redis-server)")
    parser.add_argument("--exporter-venv", type=Path, default=DEFAULT_EXPORTER_VENV,
                        help="virtualenv for the Celery exporter, created on first use")
    parser.add_argument("--prometheus-replicas", type=int,
                        help="default: as many as the stack deploys (prometheusReplicas on Kubernetes)")
    parser.add_argument("--alertmanager-replicas", type=int,
                        help="default: as many as the stack deploys (alertmanagerReplicas on Kubernetes)")
    parser.add_argument("--prometheus-arg", action="append", default=[], metavar="FLAG",
                        help="extra Prometheus flag, to try one before deploying it (repeatable)")
    parser.add_argument("--workdir", type=Path, help="keep configs, data and logs here instead of a temporary dir")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) afterwards")
    args = parser.parse_args(argv)
    options = Options(stack=args.stack, quick=args.quick, only=tuple(args.only), prometheus=args.prometheus,
                      alertmanager=args.alertmanager, redis_server=args.redis_server,
                      exporter_venv=args.exporter_venv, workdir=args.workdir, keep=args.keep or bool(args.workdir),
                      prometheus_replicas=args.prometheus_replicas, alertmanager_replicas=args.alertmanager_replicas,
                      prometheus_args=tuple(args.prometheus_arg))
    try:
        result = run(options)
    except GamedayError as error:
        print(f"gameday: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gameday: interrupted; every process it started has been stopped", file=sys.stderr)
        return 130
    print("gameday: PASS" if result.ok else "gameday: FAIL")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
