import os

from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import heartbeat_sent

from mediaplane import heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamcat.settings")

app = Celery("streamcat")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# beat runs its schedule with HeartbeatScheduler (below), so /health can tell it is alive.
app.conf.beat_scheduler = "streamcat.celery:HeartbeatScheduler"


@heartbeat_sent.connect
def _worker_heartbeat(**kwargs) -> None:
    """The worker's consumer sends Celery's own heartbeat every 2 s while it is connected
    to the broker; each one refreshes var/run/heartbeat/worker for /health."""
    heartbeat.touch("worker")


class HeartbeatScheduler(PersistentScheduler):
    """Celery's default scheduler (schedule kept in the --schedule file) that touches
    var/run/heartbeat/beat on every tick, and ticks at least every 5 s, so a hung or dead
    beat goes stale while the worker's own heartbeat stays fresh."""

    most_seconds_between_ticks = 5.0

    def tick(self, *args, **kwargs) -> float:
        heartbeat.touch("beat")
        return min(super().tick(*args, **kwargs), self.most_seconds_between_ticks)


@app.on_after_finalize.connect
def schedule_periodic_tasks(sender, **kwargs):
    from django.conf import settings

    from analytics.tasks import aggregate_playback
    from channels_app.tasks import sync_live_streams
    from chat.tasks import publish_presence
    from mediaplane.tasks import (
        reconcile_ingest,
        reconcile_stages,
        sample_ingest_health,
        sweep_raw_recordings,
        watch_compositions,
    )

    sender.add_periodic_task(settings.STREAM_SYNC_INTERVAL, sync_live_streams.s(), name="sync live streams")
    sender.add_periodic_task(settings.PRESENCE_INTERVAL, publish_presence.s(), name="publish presence")
    sender.add_periodic_task(settings.ANALYTICS_INTERVAL, aggregate_playback.s(), name="aggregate viewer analytics")
    if settings.MEDIA_PLANE == "local":
        sender.add_periodic_task(settings.INGEST_SAMPLE_INTERVAL, sample_ingest_health.s(), name="sample ingest health")
        # A reconciliation that waited longer than its period is stale: the next one is due.
        every = settings.INGEST_RECONCILE_INTERVAL
        sender.add_periodic_task(every, reconcile_ingest.s(), name="reconcile ingest", expires=every)
        every = settings.RAW_RECORDING_SWEEP_INTERVAL
        sender.add_periodic_task(every, sweep_raw_recordings.s(), name="sweep raw recordings", expires=every)
        sender.add_periodic_task(settings.STAGE_RECONCILE_INTERVAL, reconcile_stages.s(), name="reconcile stages")
        sender.add_periodic_task(settings.COMPOSITION_WATCH_INTERVAL, watch_compositions.s(), name="watch compositions")
