"""Test ordering for the two workers ./scripts/test runs (pytest-xdist, pytest.ini).

The game days run in real time (the quick one about 12 minutes) and mostly
wait; they are collected first so that one worker starts them at once while
the other runs every other test alongside, instead of after.
"""
from __future__ import annotations


def pytest_collection_modifyitems(items) -> None:
    items.sort(key=lambda item: item.get_closest_marker("gameday") is None)
