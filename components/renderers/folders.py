"""The project's data folders (rules/, dashboards/, slos/): every entry must be one of their files.

A file with another suffix (`.yaml`, `.JSON`), a README or a sub-folder would
be neither deployed nor checked, silently; here it is an error naming it.
"""
from __future__ import annotations

from pathlib import Path

from components.settings import InputError


def data_files(directory: Path, suffix: str, *, holds: str, one: str, convention: str,
               renameable: tuple[str, ...]) -> list[Path]:
    """The files of `directory` ending in `suffix`, sorted.

    `holds` says what the folder is for, `one` names one of its files ("a rule
    file"), `convention` how they are written; a file whose suffix is in
    `renameable` (any case) gets a rename hint, anything else a move hint.
    """
    if not directory.is_dir():
        raise InputError(f"{directory.name}/: no such folder; it holds {holds}")
    entries = sorted(directory.iterdir())
    strays = [path for path in entries if not (path.is_file() and path.name.endswith(suffix))]
    if strays:
        raise InputError("\n".join(
            f"{directory.name}/{path.name}: not {one}; {convention}"
            + (f"; rename it to {path.stem}{suffix}" if path.is_file() and path.suffix.lower() in renameable
               else "; move it out of the folder")
            for path in strays))
    return entries
