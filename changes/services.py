"""What each service runs, per stack: its image and its command-line flags, and what changed.

The values are the effective ones of each stack at each revision (settings
defaults applied, commands as the revision renders them), so a changed
default shows for every stack that uses it, and a flag computed from
settings (Alertmanager's peer timeout) shows where its value moves.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Optional

from changes.markdown import code

NAMES = {"prometheus": "Prometheus", "alertmanager": "Alertmanager", "grafana": "Grafana",
         "celery-exporter": "Celery exporter"}
REVIEW_FILE = "{service}/flags.txt"


def display_name(service: str) -> str:
    return NAMES.get(service, service)


def _service_rank(service: str) -> tuple[int, str]:
    order = list(NAMES)
    return (order.index(service), "") if service in order else (len(order), service)


def flags(args: Iterable[str]) -> dict[str, tuple[Optional[str], ...]]:
    """`--name=value` arguments by name; a repeated flag keeps every value, a bare one has None.

    Every renderer writes a flag and its value as one `--name=value` argument.
    """
    found: dict[str, tuple[Optional[str], ...]] = {}
    for arg in args:
        name, has_value, value = arg.partition("=") if arg.startswith("-") else (arg, "", "")
        found[name] = found.get(name, ()) + (value if has_value else None,)
    return found


def _values(values: tuple[Optional[str], ...]) -> str:
    return ", ".join("(no value)" if value is None else code(value) for value in values)


def _argument(name: str, values: tuple[Optional[str], ...]) -> str:
    return ", ".join(code(name if value is None else f"{name}={value}") for value in values)


def _split_image(reference: str) -> tuple[str, str]:
    """(repository, `:tag` or `@digest`); a registry's port is part of the repository."""
    if "@" in reference:
        repository, _, digest = reference.partition("@")
        return repository, "@" + digest
    colon = reference.rfind(":")
    if colon > reference.rfind("/"):
        return reference[:colon], reference[colon:]
    return reference, ""


def _old_image(old: str, new: str) -> str:
    # An upgrade keeps the repository: the old tag alone reads best.
    old_repository, old_tag = _split_image(old)
    new_repository, _ = _split_image(new)
    return old_tag.lstrip(":") if old_repository == new_repository and old_tag else old


@dataclass(frozen=True)
class Side:
    """One stack at one revision, as the probe saw it."""
    label: str
    images: Optional[Mapping[str, str]]
    commands: Optional[Mapping[str, list[str]]]
    partial: frozenset[str]           # services whose flags come from a review file that may not list all
    error: Optional[str]              # why the commands could not be rendered, unless already reported
    failed: bool = False

    @classmethod
    def of(cls, label: str, entry: Mapping) -> "Side":
        failure = entry.get("commands_error")
        # The routing section already reports the same failure of the same stack.
        shown = None if failure == entry.get("error") else failure
        return cls(label, entry.get("images"), entry.get("commands"),
                   frozenset(entry.get("partial_commands") or ()), shown, bool(failure))


class _Sentences:
    """Sentences in report order, each with the stacks it is true for."""

    def __init__(self) -> None:
        self._stacks: dict[str, list[str]] = {}
        self._rank: dict[str, tuple] = {}

    def add(self, rank: tuple, sentence: str, stack: str) -> None:
        self._rank.setdefault(sentence, rank)
        self._stacks.setdefault(sentence, []).append(stack)

    def lines(self) -> list[str]:
        ordered = sorted(self._stacks, key=lambda sentence: self._rank[sentence])
        return [f"- {sentence} ({', '.join(self._stacks[sentence])})." for sentence in ordered]


def _compare_images(before: Side, after: Side, stack: str, out: _Sentences) -> None:
    if before.images is None or after.images is None:
        return
    for service in sorted(set(before.images) | set(after.images), key=_service_rank):
        old, new = before.images.get(service), after.images.get(service)
        name, rank = display_name(service), (_service_rank(service), 0)
        if old == new:
            continue
        if old is None:
            out.add(rank, f"{name} image {code(new)} added", stack)
        elif new is None:
            out.add(rank, f"{name} image {code(old)} removed", stack)
        else:
            out.add(rank, f"{name} image now {code(new)} instead of {code(_old_image(old, new))}", stack)


def _compare_flags(before: Side, after: Side, stack: str, out: _Sentences) -> None:
    old_commands, new_commands = before.commands, after.commands
    if old_commands is None and new_commands is None:
        return
    for service in sorted(set(old_commands or {}) | set(new_commands or {}), key=_service_rank):
        name = display_name(service)
        rank = _service_rank(service)
        unknown = [side for side in (before, after) if service not in (side.commands or {})]
        if unknown:
            if any(side.failed for side in unknown):
                continue        # the failure is reported, and says why
            out.add((rank, 2), f"{name} flags are not compared: {unknown[0].label} renders no command for it",
                    stack)
            continue
        old, new = flags(old_commands[service]), flags(new_commands[service])
        # A review file may list only some flags: one missing from it says nothing.
        report_added = service not in before.partial
        report_removed = service not in after.partial
        for side, direction in ((before, "added"), (after, "removed")):
            if service in side.partial:
                out.add((rank, 3), f"{name} flags at {side.label} come from "
                                   f"`{REVIEW_FILE.format(service=service)}`, which may not list them all; "
                                   f"none is reported as {direction}", stack)
        for flag in sorted(set(old) | set(new)):
            if flag not in old:
                if report_added:
                    out.add((rank, 1, flag), f"{name} flag {_argument(flag, new[flag])} added", stack)
            elif flag not in new:
                if report_removed:
                    out.add((rank, 1, flag), f"{name} flag {_argument(flag, old[flag])} removed", stack)
            elif old[flag] != new[flag]:
                out.add((rank, 1, flag), f"{name} flag {code(flag)} now {_values(new[flag])} "
                                         f"instead of {_values(old[flag])}", stack)


def compare(stacks: Iterable[str], before: Mapping[str, Side], after: Mapping[str, Side]) -> list[str]:
    """Markdown list items, one per distinct change, naming the stacks it applies to."""
    out = _Sentences()
    for stack in stacks:
        old, new = before[stack], after[stack]
        for side in (old, new):
            if side.error:
                out.add(((-1, ""), 0), f"commands could not be rendered at {side.label}: {code(side.error)}", stack)
        _compare_images(old, new, stack, out)
        _compare_flags(old, new, stack, out)
    return out.lines()
