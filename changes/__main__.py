"""`python -m changes BASE [HEAD]`: the change report between two revisions, as Markdown.

HEAD defaults to the working tree (uncommitted edits included), so a change
can be checked before it is committed; CI passes `HEAD` explicitly. Exit
status: 0 with the report on stdout, 2 with one line on stderr when a
revision or the repository cannot be read.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from changes import report
from changes.revisions import RevisionError, last_change, repository_root, resolve, tree_at


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m changes", description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the revision the change starts from, e.g. origin/main")
    parser.add_argument("head", nargs="?", default=None,
                        help="the revision with the change (default: the working tree)")
    parser.add_argument("-C", "--repository", type=Path, default=Path.cwd(),
                        help="the repository to read (default: the current directory)")
    parser.add_argument("-o", "--output", type=Path, help="write the report here instead of stdout")
    parser.add_argument("--max-chars", type=int, default=None,
                        help="cut the report to this length (a GitHub comment holds at most 65536 characters)")
    arguments = parser.parse_args(argv)
    try:
        repository = repository_root(arguments.repository)
        base_commit = resolve(repository, arguments.base)
        head_commit = None if arguments.head is None else resolve(repository, arguments.head)
        with tree_at(repository, base_commit) as base_tree, tree_at(repository, head_commit) as head_tree:
            before = report.snapshot(base_tree, f"`{arguments.base}` ({base_commit[:7]})",
                                     last_change(repository, base_commit, "runbooks") or base_commit)
            head_label = "the working tree" if head_commit is None else f"`{arguments.head}` ({head_commit[:7]})"
            after = report.snapshot(head_tree, head_label,
                                    head_commit and (last_change(repository, head_commit, "runbooks") or head_commit))
            text = report.build(before, after)
    except RevisionError as error:
        print(f"changes: error: {error}", file=sys.stderr)
        return 2
    if arguments.max_chars is not None:
        text = report.shorten(text, arguments.max_chars)
    if arguments.output:
        arguments.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
