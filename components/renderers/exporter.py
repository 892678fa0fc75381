"""Command line of danihodovic/celery-exporter from settings."""
from __future__ import annotations

from components import constants as c
from components.renderers.command import Command
from components.settings import Settings

# The exporter reads every flag from a CE_-prefixed variable too. The broker URL
# holds the Redis password, so it travels only as this (secret) variable and
# never appears in the command line, `ps`, or the rendered files.
BROKER_URL_ENV = "CE_BROKER_URL"


def render_exporter_command(settings: Settings) -> Command:
    buckets = ",".join(_number(b) for b in settings.celery_runtime_buckets)
    return Command(
        args=(
            "--host=0.0.0.0",
            f"--port={c.CELERY_EXPORTER_PORT}",
            # Without --queues a queue is reported only while a live worker
            # consumes it: its backlog would vanish exactly when all its workers die.
            "--queues=" + ",".join(settings.celery_queues),
            # Tasks run up to 600 s; the default buckets stop at 10 s.
            f"--buckets={buckets}",
            # CeleryNoWorkers waits 2m after a worker is marked down; the timeout
            # bounds how late that is (Celery heartbeats every 2 s).
            f"--worker-timeout={settings.celery_worker_timeout}",
            f"--purge-offline-worker-metrics={settings.celery_purge_offline_worker_metrics}",
            # 0 would exit on the first broker hiccup; keep retrying instead and
            # let celery-exporter's own target-down alert speak if it stays down.
            "--retry-interval=5",
        ),
        secret_env_names=(BROKER_URL_ENV,),
    )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
