"""RuleGroups: every file in rules/ as its own published configuration."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components import constants as c
from components.platform.base import File, Platform


@dataclass(frozen=True)
class RuleGroupsArgs:
    files: dict[str, str]        # file name -> rendered rule file (components.renderers.rules)
    platform: Platform


class RuleGroups(pulumi.ComponentResource):
    """One published object per rule group, so a preview names the group that changed."""

    files: tuple[File, ...]

    def __init__(self, name: str, args: RuleGroupsArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("scheduler-monitoring:index:RuleGroups", name, None, opts)
        self.files = tuple(
            args.platform.publish(f"{name}-{file_name.removesuffix('.yml').replace('_', '-')}",
                                  File(f"{c.PROMETHEUS_RULES_DIR}/{file_name}", text), parent=self)
            for file_name, text in sorted(args.files.items())
        )
        self.register_outputs({"groups": sorted(args.files)})
