"""What every component that runs one workload shares: where the platform placed it."""
from __future__ import annotations

import pulumi

from components.platform.base import Platform, Workload


class Service(pulumi.ComponentResource):
    """A component running one workload; its URLs and readiness are the platform's answer."""

    internal_url: pulumi.Output[str]     # how the other services reach it
    external_url: pulumi.Output[str]     # how a person reaches it
    ready: list                          # resources to depend on for "it is up"

    def run(self, platform: Platform, workload: Workload) -> None:
        placed = platform.place(workload, parent=self)
        self.internal_url = placed.internal_url
        self.external_url = placed.external_url
        self.ready = placed.ready
        self.register_outputs({"internal_url": self.internal_url, "external_url": self.external_url})
