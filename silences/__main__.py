"""Command line of the silences helper (see the package's docstring)."""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone

from silences import Client, SilenceError, end_of, matchers_from


def _alertmanager_url(args) -> str:
    if args.alertmanager:
        return args.alertmanager
    if os.environ.get("ALERTMANAGER_URL"):
        return os.environ["ALERTMANAGER_URL"]
    from components.settings import InputError, from_stack_file
    try:
        return from_stack_file(args.stack)[0].alertmanager_url
    except InputError as error:
        raise SilenceError(str(error)) from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m silences", description=(
        "List, add and expire silences on the stack's Alertmanager (its alertmanagerUrl setting, "
        "--alertmanager or $ALERTMANAGER_URL)."))
    parser.add_argument("--stack", default="prod", help="stack whose alertmanagerUrl is used (default prod)")
    parser.add_argument("--alertmanager", help="Alertmanager URL, e.g. http://localhost:9093")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="active and pending silences")
    listing.add_argument("--all", action="store_true", help="expired ones too")
    adding = commands.add_parser("add", help="mute alerts until a given end")
    adding.add_argument("--author", required=True, help="who made it: whom to ask")
    adding.add_argument("--comment", required=True, help="why, in words: maintenance, ticket, change number")
    adding.add_argument("--duration", help="how long, such as 90m or 2h")
    adding.add_argument("--until", help="end time, such as 2026-12-06T08:00Z")
    adding.add_argument("matchers", nargs="+", help='amtool-style matchers, such as alertname=CeleryQueueBacklog')
    expiring = commands.add_parser("expire", help="end a silence now")
    expiring.add_argument("id")
    args = parser.parse_args(argv)
    try:
        client = Client(_alertmanager_url(args))
        if args.command == "list":
            shown = client.silences(include_expired=args.all)
            for silence in shown:
                print(silence.line())
            if not shown:
                print("no silences")
        elif args.command == "add":
            matchers = matchers_from(args.matchers)
            now = datetime.now(timezone.utc)
            silence_id = client.add(matchers, args.author, args.comment, end_of(now, args.duration, args.until), now)
            print(silence_id)
        else:
            client.expire(args.id)
            print(f"expired {args.id}")
    except SilenceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
