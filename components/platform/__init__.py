"""Where the stack's services run: Docker (dev) or Kubernetes (prod).

Importing this package loads no Pulumi provider: the addresses live in the pure
`components.platform.topology`, and a platform's module (with its provider) is
imported only when `create_platform` picks it.
"""
from __future__ import annotations

from components.settings import Settings


def create_platform(settings: Settings, name: str):
    """The platform the settings ask for (the only place that chooses one)."""
    if settings.on_kubernetes:
        from components.platform.kubernetes import KubernetesPlatform
        return KubernetesPlatform(settings, name, None)
    from components.platform.docker import DockerPlatform
    return DockerPlatform(settings, name)
