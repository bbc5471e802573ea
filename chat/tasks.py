from celery import shared_task

from chat import services


@shared_task(expires=10)
def publish_presence() -> None:
    """Periodic: drop sockets that stopped beating, tell rooms their new viewer counts,
    and record channel audiences (idempotent; a late run just sees newer counts)."""
    services.publish_presence()
