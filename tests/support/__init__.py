"""Helpers shared by the test modules (PromQL checks)."""
