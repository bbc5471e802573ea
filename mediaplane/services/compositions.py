"""Compositions on the local plane: who is composited, where the RTP goes, and
keeping the compositor process that carries each one out (mediaplane.compositor,
started and watched through drivers.compositor) as the rows say.

`watch()` runs every COMPOSITION_WATCH_INTERVAL (Celery beat) and after every start
and stop. It is idempotent and keyed by the rows, so it also picks everything up
again after a restart of the worker, Janus or nginx: forwarders Janus lost are made
again, a compositor that died is restarted with back-off, and one that keeps dying
ends FAILED with the reason from its log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from mediaplane import storage
from mediaplane.drivers import compositor, janus
from mediaplane.models import (
    Composition,
    CompositionDestination,
    CompositionState,
    DestinationState,
    EncoderConfiguration,
    IvsChannel,
    IvsStreamKey,
    Stage,
    StorageConfiguration,
    WebRtcConnection,
)
from mediaplane.services.errors import conflict, invalid

log = logging.getLogger(__name__)
RUNNING = (CompositionState.STARTING, CompositionState.ACTIVE)
HEALTHY_AFTER = 20  # seconds of output that clear the restart count
STALLED_AFTER = 30  # seconds without output before a running compositor counts as hung


class CompositionError(Exception):
    """Why a composition cannot run; it ends FAILED with this reason."""


def folder(composition: Composition) -> Path:
    return settings.COMPOSITION_DIR / composition.resource_id


# --- Encoder and storage configurations -----------------------------------------------------


def create_encoder_configuration(
    *, name: str, width: int, height: int, framerate: int, bitrate: int, tags: dict
) -> EncoderConfiguration:
    for side, pixels in (("width", width), ("height", height)):
        if pixels % 2:
            raise invalid(f"video.{side} must be even")  # H.264 needs even sizes
    return EncoderConfiguration.objects.create(
        name=name, width=width, height=height, framerate=framerate, bitrate=bitrate, tags=tags
    )


def create_storage_configuration(*, name: str, bucket_name: str, tags: dict) -> StorageConfiguration:
    return StorageConfiguration.objects.create(name=name, bucket_name=bucket_name, tags=tags)


def delete_encoder_configuration(encoder: EncoderConfiguration) -> None:
    """Refused while a running composition uses it; ended ones forget it."""
    _delete_configuration(encoder, field="encoder", what="encoder configuration")


def delete_storage_configuration(storage_configuration: StorageConfiguration) -> None:
    """Refused while a running composition uses it; ended ones forget it."""
    _delete_configuration(storage_configuration, field="storage", what="storage configuration")


def _delete_configuration(configuration: models.Model, *, field: str, what: str) -> None:
    users = CompositionDestination.objects.filter(**{field: configuration})
    if users.filter(composition__state__in=RUNNING).exists():
        raise conflict(f"The {what} is used by a running composition")
    users.update(**{field: None})
    configuration.delete()


# --- Starting and stopping -------------------------------------------------------------------


def started_with(*, stage: Stage, idempotency_token: str) -> Composition | None:
    """The composition an earlier StartComposition with this token started, if any."""
    if not idempotency_token:
        return None
    return Composition.objects.filter(stage=stage, idempotency_token=idempotency_token).first()


def refuse_if_running(stage: Stage) -> None:
    """A stage has one running composition at a time."""
    if Composition.objects.filter(stage=stage, state__in=RUNNING).exists():
        raise conflict("The stage already has a running composition")


def start(
    *, stage: Stage, layout: dict, destinations: list[dict], tags: dict, idempotency_token: str
) -> tuple[Composition, bool]:
    """StartComposition, once refuse_if_running() let it: the rows watch() carries out.
    Each destination: {"config": as requested, "encoder", and "channel_arn" or "storage"}.
    Returns (composition, True), or (the one a concurrent call with the same token
    made, False)."""
    try:
        with transaction.atomic():
            composition = Composition.objects.create(
                stage=stage, layout=layout, tags=tags, idempotency_token=idempotency_token
            )
            for index, destination in enumerate(destinations):
                row = CompositionDestination.objects.create(
                    composition=composition,
                    name=destination["config"].get("name") or f"destination-{index + 1}",
                    channel_arn=destination.get("channel_arn", ""),
                    storage=destination.get("storage"),
                    encoder=destination["encoder"],
                    configuration=destination["config"],
                )
                if row.storage_id:
                    # Where the recording goes in the bucket, as IVS reports it.
                    row.recording_prefix = f"{stage.resource_id}/{composition.resource_id}/{row.destination_id}"
                    row.save(update_fields=["recording_prefix"])
    except IntegrityError:  # the same token, twice at once
        return Composition.objects.get(stage=stage, idempotency_token=idempotency_token), False
    return composition, True


def stop(composition: Composition) -> None:
    """StopComposition: STOPPING now; watch() ends the process and marks it STOPPED."""
    with transaction.atomic():
        if composition.state in RUNNING:
            composition.state = CompositionState.STOPPING
            composition.save(update_fields=["state"])
            composition.destinations.exclude(state=DestinationState.FAILED).update(state=DestinationState.STOPPING)


def stop_now(composition: Composition) -> None:
    """End the process and the forwarders at once (the stage is being deleted)."""
    _end(composition, CompositionState.STOPPED)


def watch() -> None:
    pending = Composition.objects.filter(state__in=[*RUNNING, CompositionState.STOPPING]).select_related("stage")
    for composition in pending:
        try:
            if composition.state == CompositionState.STOPPING:
                _end(composition, CompositionState.STOPPED)
            else:
                _keep_running(composition)
        except (CompositionError, compositor.NoFreePorts) as exc:
            _fail(composition, str(exc))
        except janus.JanusError as exc:
            log.warning("composition %s: Janus unavailable (%s); retrying", composition.resource_id, exc)


# --- Keeping one composition running -----------------------------------------------------


def _keep_running(composition: Composition) -> None:
    base = folder(composition)
    base.mkdir(parents=True, exist_ok=True)
    forwarders = _sync_forwarders(composition, base)
    _write_spec(composition, base, forwarders)
    status = compositor.status(base)
    now = timezone.now()
    if compositor.alive(composition.pid, base):
        if status and time.time() - status["time"] < 5 and status["frames"] > 0:
            _mark_active(composition, status)
        elif time.time() - (status["time"] if status else compositor.started_at(composition.pid)) > STALLED_AFTER:
            # Hung (e.g. an RTMP connection that never completes): end it; the next
            # round counts it as a failure and restarts it.
            log.warning("composition %s: compositor stalled; restarting it", composition.resource_id)
            compositor.kill(composition.pid)
        return
    if composition.pid is not None:
        # It died: count it, and wait before the next try (2, 4, 8 ... s).
        reason = compositor.last_log_line(base) or "the compositor stopped"
        log.warning("composition %s: compositor exited: %s", composition.resource_id, reason)
        composition.pid = None
        composition.restarts += 1
        if composition.restarts > settings.COMPOSITION_MAX_RESTARTS:
            raise CompositionError(f"The compositor failed {composition.restarts} times; last error: {reason}")
        composition.next_start_at = now + dt.timedelta(seconds=2**composition.restarts)
        composition.save(update_fields=["pid", "restarts", "next_start_at"])
        composition.destinations.filter(state=DestinationState.ACTIVE).update(state=DestinationState.RECONNECTING)
        return
    if composition.next_start_at and composition.next_start_at > now:
        return
    composition.pid = compositor.start(base)
    composition.save(update_fields=["pid"])


def _mark_active(composition: Composition, status: dict) -> None:
    now = timezone.now()
    fields = []
    if composition.state != CompositionState.ACTIVE:
        composition.state = CompositionState.ACTIVE
        composition.start_time = composition.start_time or now
        fields += ["state", "start_time"]
    if composition.restarts and status.get("seconds", 0) > HEALTHY_AFTER:
        composition.restarts = 0
        fields.append("restarts")
    if fields:
        composition.save(update_fields=fields)
    composition.destinations.filter(state__in=[DestinationState.STARTING, DestinationState.RECONNECTING]).update(
        state=DestinationState.ACTIVE
    )
    composition.destinations.filter(start_time__isnull=True).update(start_time=now)


# --- Inputs: one Janus RTP forwarder per publishing host -------------------------------------


def _publishing(composition: Composition) -> list[WebRtcConnection]:
    return list(
        WebRtcConnection.objects.filter(
            participant__stage=composition.stage,
            kind=WebRtcConnection.Kind.PUBLISH,
            ended_at__isnull=True,
            media_up=True,
        )
        .select_related("participant")
        .order_by("created_at")
    )


def _sync_forwarders(composition: Composition, base: Path) -> dict:
    """Make Janus forward exactly the hosts publishing now; returns {participant id: ports}."""
    stage = composition.stage
    state = compositor.read_json(base / "forwarders.json") or {}
    wanted = {c.participant.participant_id: c for c in _publishing(composition)}
    in_janus = janus.list_forwarders(room=stage.resource_id, secret=stage.room_secret) if wanted or state else {}
    for participant_id in list(state):
        entry = state[participant_id]
        lost = not set(entry["stream_ids"]) <= in_janus.get(participant_id, set())
        if participant_id not in wanted or lost:
            for stream_id in entry["stream_ids"]:
                janus.stop_rtp_forward(
                    room=stage.resource_id, secret=stage.room_secret, publisher_id=participant_id, stream_id=stream_id
                )
            del state[participant_id]
    used = {entry["base_port"] for entry in _all_forwarders()} | {e["base_port"] for e in state.values()}
    for participant_id, connection in wanted.items():
        if participant_id in state:
            continue
        port = compositor.free_port_block(used)
        used.add(port)
        video = next((s for s in connection.streams if s["type"] == "video"), None)
        audio = next((s for s in connection.streams if s["type"] == "audio"), None)
        streams = []
        if video:
            # A simulcast host: forward the best layer Janus has, as it does for viewers.
            streams.append(
                {
                    "mid": video["mid"],
                    "port": port,
                    "pt": compositor.VIDEO_PT,
                    "simulcast": video.get("simulcast", False),
                }
            )
        if audio:
            streams.append({"mid": audio["mid"], "port": port + 2, "pt": compositor.AUDIO_PT})
        if not streams:
            continue
        stream_ids = janus.rtp_forward(
            room=stage.resource_id,
            secret=stage.room_secret,
            publisher_id=participant_id,
            host="127.0.0.1",
            streams=streams,
        )
        sdp_path = compositor.write_input(
            base, participant_id, port=port, video_codec=video and video.get("codec"), audio=bool(audio)
        )
        state[participant_id] = {"base_port": port, "stream_ids": stream_ids, "sdp": str(sdp_path)}
    compositor.write_json(base / "forwarders.json", state)
    return state


def _all_forwarders() -> list[dict]:
    entries = []
    for path in Path(settings.COMPOSITION_DIR).glob("*/forwarders.json"):
        entries += list((compositor.read_json(path) or {}).values())
    return entries


# --- What the compositor is told -------------------------------------------------------------


def _write_spec(composition: Composition, base: Path, forwarders: dict) -> None:
    layout = composition.layout
    kind = "pip" if "pip" in layout else "grid"
    config = layout.get(kind, {})
    featured_key = config.get("featuredParticipantAttribute", "")
    pip_key = config.get("pipParticipantAttribute", "")
    inputs = []
    for connection in _publishing(composition):
        participant = connection.participant
        if participant.participant_id not in forwarders:
            continue
        attributes = participant.attributes or {}
        inputs.append(
            {
                "id": participant.participant_id,
                "sdp": forwarders[participant.participant_id]["sdp"],
                "featured": bool(featured_key) and attributes.get(featured_key) == "true",
                "pip": bool(pip_key) and attributes.get(pip_key) == "true",
                "order": attributes.get(config.get("participantOrderAttribute", ""), ""),
            }
        )
    inputs.sort(key=lambda i: i["order"])
    spec = {
        "outputs": [_output(d) for d in composition.destinations.select_related("encoder", "storage")],
        "layout": {"type": kind, **config},
        "inputs": inputs,
    }
    compositor.write_spec(base, spec)


def _output(destination: CompositionDestination) -> dict:
    """What the compositor writes for one destination: RTMP to a channel's ingest, or
    an HLS recording in the storage configuration's bucket."""
    encoder = destination.encoder
    video = {
        "width": encoder.width if encoder else 1280,
        "height": encoder.height if encoder else 720,
        "framerate": encoder.framerate if encoder else 30,
        "bitrate": encoder.bitrate if encoder else 2_500_000,
    }
    if destination.channel_arn:
        return {"kind": "rtmp", "url": _ingest_url(destination), **video}
    if destination.storage is None:
        raise CompositionError("The storage configuration of a destination was deleted")
    hls = destination.configuration.get("s3", {}).get("recordingConfiguration", {}).get("hlsConfiguration", {})
    return {
        "kind": "hls",
        "dir": str(recording_folder(destination) / "media" / "hls"),
        "segment": hls.get("targetSegmentDurationSeconds", 6),
        **video,
    }


def recording_folder(destination: CompositionDestination) -> Path:
    return settings.STORAGE_DIR / destination.storage.bucket_name / destination.recording_prefix


def _ingest_url(destination: CompositionDestination) -> str:
    channel = IvsChannel.objects.filter(arn=destination.channel_arn).first()
    if channel is None:
        raise CompositionError(f"The channel {destination.channel_arn} no longer exists")
    key = IvsStreamKey.objects.filter(channel=channel).first()
    if key is None:
        raise CompositionError("The channel has no stream key to publish with")
    # The loopback RTMP server: the plane's own publish counts as secure (insecureIngest off).
    return f"rtmp://127.0.0.1:{settings.RTMP_INTERNAL_PORT}/app/{key.value}"


# --- Ending ----------------------------------------------------------------------------------


def _end(composition: Composition, state: str) -> None:
    compositor.stop(composition.pid, folder(composition))
    stage = composition.stage
    for participant_id, entry in (compositor.read_json(folder(composition) / "forwarders.json") or {}).items():
        for stream_id in entry["stream_ids"]:
            with contextlib.suppress(janus.JanusError):
                janus.stop_rtp_forward(
                    room=stage.resource_id, secret=stage.room_secret, publisher_id=participant_id, stream_id=stream_id
                )
    with contextlib.suppress(FileNotFoundError):
        (folder(composition) / "forwarders.json").unlink()
    now = timezone.now()
    for destination in composition.destinations.filter(storage__isnull=False).select_related("storage"):
        _write_recording_ended(composition, destination, ended_at=now, failed=state != CompositionState.STOPPED)
    composition.state, composition.end_time, composition.pid = state, now, None
    composition.save(update_fields=["state", "end_time", "pid"])
    composition.destinations.exclude(state=DestinationState.FAILED).update(
        state=DestinationState.STOPPED if state == CompositionState.STOPPED else DestinationState.FAILED, end_time=now
    )


def _fail(composition: Composition, reason: str) -> None:
    log.error("composition %s failed: %s", composition.resource_id, reason)
    composition.failure_reason = reason[:300]
    composition.save(update_fields=["failure_reason"])
    _end(composition, CompositionState.FAILED)


def _write_recording_ended(composition, destination, *, ended_at, failed: bool) -> None:
    """events/recording-ended.json beside the recording, as IVS writes it."""
    folder = recording_folder(destination)
    playlist = folder / "media" / "hls" / "playlist.m3u8"
    try:
        lines = playlist.read_text().splitlines()
    except OSError:
        return  # nothing was recorded
    seconds = sum(float(line.split(":", 1)[1].split(",")[0]) for line in lines if line.startswith("#EXTINF:"))
    (folder / "events").mkdir(parents=True, exist_ok=True)
    compositor.write_json(
        folder / "events" / "recording-ended.json",
        {
            "version": "v1",
            "stage_arn": composition.stage.arn,
            "composition_arn": composition.arn,
            "recording_started_at": (destination.start_time or composition.created_at).isoformat(),
            "recording_ended_at": ended_at.isoformat(),
            "recording_status": "RECORDING_ENDED_WITH_FAILURE" if failed else "RECORDING_ENDED",
            "recording_duration_ms": round(seconds * 1000),
            "media": {"hls": {"path": "media/hls", "playlist": "playlist.m3u8"}},
        },
    )
    storage.publish(bucket=destination.storage.bucket_name, prefix=destination.recording_prefix, folder=folder)
