"""GrafanaContent: the datasource, the "Residency Scheduler" folder and its dashboards."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumiverse_grafana as grafana

from components import constants as c


@dataclass(frozen=True)
class GrafanaContentArgs:
    grafana_url: str                 # where the provider reaches Grafana
    admin_user: str
    admin_password: Any              # secret Output
    datasource: dict                 # components.renderers.grafana.datasource_definition
    dashboards: dict[str, str]       # file name -> JSON as deployed
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
        self.folder = grafana.oss.Folder(f"{name}-folder", title=c.FOLDER_TITLE, uid=c.FOLDER_UID,
                                         opts=on_grafana)
        self.dashboard_urls = {}
        for file_name, model in sorted(args.dashboards.items()):
            stem = file_name.removesuffix(".json").replace("_", "-")
            dashboard = grafana.oss.Dashboard(
                f"{name}-{stem}",
                config_json=model,
                folder=self.folder.uid,
                overwrite=True,
                # The datasource must exist before a dashboard that names its uid.
                # The model's diff is a wall of JSON; the pull request's change
                # report (python -m changes) says what changed panel by panel.
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.datasource],
                                            hide_diffs=["configJson"]),
            )
            self.dashboard_urls[stem] = dashboard.url
        self.register_outputs({"dashboard_urls": self.dashboard_urls})
