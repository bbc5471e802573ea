"""Going live from the browser: the streamer publishes to their studio stage and a
server-side composition sends the stage (with any guests) to their channel, so it
plays for every viewer exactly like an OBS broadcast."""

from __future__ import annotations

import logging
import secrets

from channels_app.models import Channel
from channels_app.services import ChannelError
from core import video
from stages import services as stage_services

PRESETS = list(video.ENCODER_PRESETS)
LAYOUTS = {
    # The streamer is the featured participant (stages.services.token_for sets the attributes).
    "grid": {"grid": {"featuredParticipantAttribute": "featured", "gridGap": 4, "videoFillMode": "COVER"}},
    "pip": {"pip": {"pipParticipantAttribute": "pip", "pipPosition": "BOTTOM_RIGHT", "pipOffset": 24}},
}
RUNNING = ("STARTING", "ACTIVE")
log = logging.getLogger(__name__)


def studio_for(*, channel: Channel):
    """The streamer's studio stage, created the first time they go live from the browser."""
    if channel.studio_id is None:
        try:
            stage = stage_services.create_stage(user=channel.owner, title=f"{channel.owner.username}'s studio")
        except stage_services.StageError as exc:
            raise ChannelError(str(exc)) from exc
        channel.studio = stage
        channel.save(update_fields=["studio"])
    return channel.studio


def go_live(*, channel: Channel, preset: str, layout: str, request_token: str) -> dict:
    """Start compositing the studio into the channel; a repeated request (same token)
    gets the same composition back."""
    if channel.is_disabled:
        raise ChannelError("A moderator disabled this channel; you cannot go live.")
    if preset not in video.ENCODER_PRESETS or layout not in LAYOUTS:
        raise ChannelError("Choose one of the offered qualities and layouts.")
    current = broadcast_state(channel=channel)
    if current["state"] in RUNNING:
        return current
    with video.failures_as(ChannelError, "start the broadcast"):
        composition = video.start_composition(
            stage_arn=studio_for(channel=channel).arn,
            channel_arn=channel.arn,
            encoder_arn=video.encoder_configuration_arn(preset),
            layout=LAYOUTS[layout],
            token=(request_token or secrets.token_hex(8))[:64],
        )
    channel.composition_arn, channel.broadcast_preset, channel.broadcast_layout = composition["arn"], preset, layout
    channel.save(update_fields=["composition_arn", "broadcast_preset", "broadcast_layout"])
    return {"state": composition["state"]}


def broadcast_state(*, channel: Channel) -> dict:
    """STARTING / ACTIVE / STOPPING / STOPPED / FAILED, or OFF when never started."""
    if not channel.composition_arn:
        return {"state": "OFF"}
    try:
        composition = video.get_composition(composition_arn=channel.composition_arn)
    except video.VideoError:
        return {"state": "OFF"}
    return {"state": composition["state"], "destinations": [d["state"] for d in composition["destinations"]]}


def end_broadcast(*, channel: Channel) -> None:
    if not channel.composition_arn:
        return
    try:
        video.stop_composition(composition_arn=channel.composition_arn)
    except video.VideoError as exc:
        if exc.code != "ResourceNotFoundException":
            log.error("StopComposition for %s failed: %s", channel, exc)
            raise ChannelError(video.could_not("end the broadcast")) from exc
