from celery import shared_task

from channels_app import services


@shared_task
def sync_live_streams() -> None:
    """Periodic: bring live state, sessions and health figures in step with IVS (idempotent)."""
    services.sync_live_streams()
