from celery import shared_task

from analytics import services


@shared_task(ignore_result=True)
def aggregate_playback() -> int:
    return services.aggregate()
