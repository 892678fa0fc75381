"""Alertmanager and Prometheus semantics in plain Python, for the change report, the game day and the tests.

Nothing here knows this project's settings or imports Pulumi: each module
states what the upstream release the stacks deploy does, and the tests hold
it against that release's own tools.
"""
