"""The dev platform: every workload as one container on one Docker network.

How things run here:
- configuration files travel as uploads, so a changed file shows in the
  preview's diff and replaces the container (data stays in its named volume);
- secrets travel as uploads readable only by the service's user, or as env;
- data lives in named volumes that `pulumi destroy` leaves behind unless
  keepDataOnDestroy is false;
- host ports are bound to 127.0.0.1 only.
"""
from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_docker as docker

from components.platform.base import File, Placed, Workload, refuse_misplaced
from components.platform.topology import container_address
from components.settings import PROJECT, Settings

# Names and ports are fixed, so a replacement must remove the old container first.
_REPLACE = dict(delete_before_replace=True)


class DockerPlatform:
    def __init__(self, settings: Settings, name: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        self.settings = settings
        self.prefix = f"{PROJECT}-{settings.stack}"
        self.network = docker.Network(f"{name}-network", name=f"{self.prefix}", opts=opts)
        self.placed: list[Workload] = []

    def publish(self, name: str, file: File, parent: pulumi.Resource) -> File:
        # No standalone config object outside Swarm: the file rides along as an upload.
        return file

    def _check(self, workload: Workload) -> None:
        """Refuse a workload the rendered configs would misaddress, or whose flows disagree with its peers'.

        One network lets every container reach every other, so the flows are
        not enforced here; they are still checked, so a stack that works on
        Docker does not fail on Kubernetes for a flow nobody declared.
        """
        refuse_misplaced(self.placed, workload, [(container_address(workload.name, workload.port),)], "container")

    def place(self, workload: Workload, parent: pulumi.Resource) -> Placed:
        self._check(workload)
        self.placed.append(workload)
        child = pulumi.ResourceOptions(parent=parent)
        image = docker.RemoteImage(f"{workload.name}-image", name=workload.image, keep_locally=True, opts=child)
        volumes = []
        if workload.data_path:
            volume = docker.Volume(
                f"{workload.name}-data",
                name=f"{self.prefix}-{workload.name}-data",
                labels=[docker.VolumeLabelArgs(label="scheduler-monitoring.stack", value=self.settings.stack)],
                opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=self.settings.keep_data_on_destroy,
                                            protect=False),
            )
            volumes.append(docker.ContainerVolumeArgs(volume_name=volume.name, container_path=workload.data_path))
        uploads = [docker.ContainerUploadArgs(file=f.path, content=f.content) for f in workload.config_files]
        uploads += [
            # Only the service's own user may read a secret file.
            docker.ContainerUploadArgs(file=f.path, content=f.content, owner=workload.run_as_user,
                                       group=workload.run_as_user, permissions="0400")
            for f in workload.secret_files
        ]
        envs = [f"{key}={value}" for key, value in sorted(workload.env.items())]
        secret_envs = [pulumi.Output.concat(key, "=", value) for key, value in sorted(workload.secret_env.items())]
        all_envs = pulumi.Output.all(*envs, *secret_envs) if secret_envs else envs
        ports = []
        if workload.host_port:
            ports.append(docker.ContainerPortArgs(internal=workload.port, external=workload.host_port,
                                                  ip="127.0.0.1"))
        healthcheck = None
        if workload.health_command:
            healthcheck = docker.ContainerHealthcheckArgs(
                tests=["CMD", *workload.health_command], interval="15s", timeout="5s", retries=3,
                start_period=f"{workload.startup_budget_seconds}s")
        container = docker.Container(
            workload.name,
            name=f"{self.prefix}-{workload.name}",
            image=image.image_id,
            command=list(workload.args),
            envs=all_envs,
            uploads=uploads,
            volumes=volumes,
            ports=ports,
            user=f"{workload.run_as_user}:{workload.run_as_user}",
            hostname=workload.name,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=self.network.name,
                                                                    aliases=[workload.name])],
            # The scheduler backend and its Redis run on the Docker host in dev.
            hosts=[docker.ContainerHostArgs(host="host.docker.internal", ip="host-gateway")],
            healthcheck=healthcheck,
            restart="unless-stopped",
            must_run=True,
            # `pulumi up` returns only once the service is healthy, so whatever
            # depends on it (the Grafana provider) never talks to a half-started one.
            wait=bool(healthcheck),
            wait_timeout=workload.startup_budget_seconds + 60,
            security_opts=["no-new-privileges:true"],
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            opts=pulumi.ResourceOptions(parent=parent, **_REPLACE),
        )
        internal = pulumi.Output.from_input(f"http://{workload.name}:{workload.port}")
        # Where people open it: its public URL when it has one, else the published host port.
        external = (pulumi.Output.from_input(workload.published_url) if workload.published_url
                    else pulumi.Output.from_input(f"http://127.0.0.1:{workload.host_port}") if workload.host_port
                    else internal)
        return Placed(name=workload.name, internal_url=internal, external_url=external, ready=[container])
