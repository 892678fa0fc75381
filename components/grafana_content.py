"""GrafanaContent: the datasource, the "Residency Scheduler" folder, its nested folders and their dashboards."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumiverse_grafana as grafana

from components.renderers.dashboards import DashboardFolder, folder_of


@dataclass(frozen=True)
class GrafanaContentArgs:
    grafana_url: str                 # where the provider reaches Grafana
    admin_user: str
    admin_password: Any              # secret Output
    datasource: dict                 # components.renderers.grafana.datasource_definition
    dashboards: dict[str, str]       # path under grafana/dashboards/ (`x.json`, `SLOs/y.json`) -> JSON as deployed
    folders: tuple[DashboardFolder, ...]   # parents first
    grafana_ready: list              # resources that exist only once Grafana is healthy


class GrafanaContent(pulumi.ComponentResource):
    dashboard_urls: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: GrafanaContentArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("scheduler-monitoring:index:GrafanaContent", name, None, opts)
        provider = grafana.Provider(
            f"{name}-provider",
            url=args.grafana_url,
            auth=pulumi.Output.concat(args.admin_user, ":", args.admin_password),
            # Grafana may still be migrating its database right after a start.
            retries=10,
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.grafana_ready),
        )
        on_grafana = pulumi.ResourceOptions(parent=self, provider=provider)
        source = args.datasource
        self.datasource = grafana.oss.DataSource(
            f"{name}-datasource",
            name=source["name"],
            uid=source["uid"],
            type=source["type"],
            url=source["url"],
            access_mode=source["access"],
            is_default=source["isDefault"],
            json_data_encoded=json.dumps(source["jsonData"], sort_keys=True),
            opts=on_grafana,
        )
        self.folders: dict[str, grafana.oss.Folder] = {}
        for spec in args.folders:
            # The top folder keeps the resource name it always had; a nested one adds its title.
            suffix = "" if spec.parent_uid is None else "-" + spec.title.lower().replace(" ", "-")
            self.folders[spec.uid] = grafana.oss.Folder(
                f"{name}-folder{suffix}", title=spec.title, uid=spec.uid,
                # Its parent's Output, so Grafana has the parent before the child.
                parent_folder_uid=self.folders[spec.parent_uid].uid if spec.parent_uid else None,
                opts=on_grafana)
        self.folder = self.folders[args.folders[0].uid]
        self.dashboard_urls = {}
        for path, model in sorted(args.dashboards.items()):
            stem = path.rpartition("/")[2].removesuffix(".json").replace("_", "-")
            dashboard = grafana.oss.Dashboard(
                f"{name}-{stem}",
                config_json=model,
                folder=self.folders[folder_of(path).uid].uid,
                overwrite=True,
                # The datasource must exist before a dashboard that names its uid.
                # The model's diff is a wall of JSON; the pull request's change
                # report (python -m changes) says what changed panel by panel.
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.datasource],
                                            hide_diffs=["configJson"]),
            )
            self.dashboard_urls[stem] = dashboard.url
        self.register_outputs({"dashboard_urls": self.dashboard_urls})
