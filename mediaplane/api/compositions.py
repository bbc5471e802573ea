"""`ivs-realtime` operations for server-side composition: encoder and storage
configurations, and compositions (carried out by mediaplane.services.compositions)."""

from __future__ import annotations

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

from mediaplane.api.ivs_realtime import ivs_realtime
from mediaplane.api.paging import listing
from mediaplane.api.protocol import validation_error
from mediaplane.models import (
    Composition,
    CompositionDestination,
    EncoderConfiguration,
    IvsChannel,
    Stage,
    StorageConfiguration,
)
from mediaplane.services import compositions
from mediaplane.services.errors import find

log = logging.getLogger(__name__)


def _on_commit_watch() -> None:
    transaction.on_commit(_watch_now)


def _watch_now() -> None:
    """Start or stop compositions' processes at once. With the broker (Redis) down the
    call has been answered all the same: the periodic watch acts once it is back."""
    from mediaplane.tasks import watch_compositions

    try:
        watch_compositions.delay()
    except OperationalError as exc:
        log.warning("composition watch deferred to its next period: %s", exc)


# --- Encoder configurations ------------------------------------------------------------


def encoder_shape(encoder: EncoderConfiguration) -> dict:
    return {
        "arn": encoder.arn,
        "name": encoder.name,
        "video": {
            "width": encoder.width,
            "height": encoder.height,
            "framerate": encoder.framerate,
            "bitrate": encoder.bitrate,
        },
        "tags": encoder.tags,
    }


@ivs_realtime.operation("CreateEncoderConfiguration")
def create_encoder_configuration(params: dict) -> dict:
    video = params.get("video", {})
    # Ranges come from botocore's model (validated before this runs).
    encoder = compositions.create_encoder_configuration(
        name=params.get("name", ""),
        width=video.get("width", 1280),
        height=video.get("height", 720),
        framerate=video.get("framerate", 30),
        bitrate=video.get("bitrate", 2_500_000),
        tags=params.get("tags", {}),
    )
    return {"encoderConfiguration": encoder_shape(encoder)}


def _encoder(arn: str) -> EncoderConfiguration:
    return find(EncoderConfiguration.objects, "Encoder configuration", arn=arn)


@ivs_realtime.operation("GetEncoderConfiguration")
def get_encoder_configuration(params: dict) -> dict:
    return {"encoderConfiguration": encoder_shape(_encoder(params["arn"]))}


@ivs_realtime.operation("ListEncoderConfigurations")
def list_encoder_configurations(params: dict) -> dict:
    def render(items):
        return [{"arn": e.arn, "name": e.name, "tags": e.tags} for e in items]

    return listing(EncoderConfiguration.objects.order_by("id"), params, "encoderConfigurations", render)


@ivs_realtime.operation("DeleteEncoderConfiguration")
def delete_encoder_configuration(params: dict) -> dict:
    compositions.delete_encoder_configuration(_encoder(params["arn"]))
    return {}


# --- Storage configurations ------------------------------------------------------------


def storage_shape(storage: StorageConfiguration) -> dict:
    return {"arn": storage.arn, "name": storage.name, "s3": {"bucketName": storage.bucket_name}, "tags": storage.tags}


@ivs_realtime.operation("CreateStorageConfiguration")
def create_storage_configuration(params: dict) -> dict:
    storage = compositions.create_storage_configuration(
        name=params.get("name", ""), bucket_name=params["s3"]["bucketName"], tags=params.get("tags", {})
    )
    return {"storageConfiguration": storage_shape(storage)}


def _storage(arn: str) -> StorageConfiguration:
    return find(StorageConfiguration.objects, "Storage configuration", arn=arn)


@ivs_realtime.operation("GetStorageConfiguration")
def get_storage_configuration(params: dict) -> dict:
    return {"storageConfiguration": storage_shape(_storage(params["arn"]))}


@ivs_realtime.operation("ListStorageConfigurations")
def list_storage_configurations(params: dict) -> dict:
    return listing(
        StorageConfiguration.objects.order_by("id"),
        params,
        "storageConfigurations",
        lambda items: [storage_shape(s) for s in items],
    )


@ivs_realtime.operation("DeleteStorageConfiguration")
def delete_storage_configuration(params: dict) -> dict:
    compositions.delete_storage_configuration(_storage(params["arn"]))
    return {}


# --- Compositions ----------------------------------------------------------------------


def _destination_shape(destination: CompositionDestination, *, summary: bool = False) -> dict:
    shape = {"id": destination.destination_id, "state": destination.state}
    if destination.start_time:
        shape["startTime"] = destination.start_time
    if destination.end_time:
        shape["endTime"] = destination.end_time
    if not summary:
        shape["configuration"] = destination.configuration
        if destination.recording_prefix:
            shape["detail"] = {"s3": {"recordingPrefix": destination.recording_prefix}}
    return shape


def composition_shape(composition: Composition, *, summary: bool = False) -> dict:
    shape = {
        "arn": composition.arn,
        "stageArn": composition.stage.arn,
        "state": composition.state,
        "destinations": [_destination_shape(d, summary=summary) for d in composition.destinations.all()],
        "tags": composition.tags,
    }
    if not summary:
        shape["layout"] = composition.layout
    if composition.start_time:
        shape["startTime"] = composition.start_time
    if composition.end_time:
        shape["endTime"] = composition.end_time
    return shape


def _layout(params: dict) -> dict:
    layout = params.get("layout") or {"grid": {}}
    if "grid" in layout and "pip" in layout:
        raise validation_error("layout: give either grid or pip, not both")
    defaults = {"grid": {"videoFillMode": "COVER", "gridGap": 2}, "pip": {"videoFillMode": "COVER", "gridGap": 0}}
    kind = "pip" if "pip" in layout else "grid"
    return {kind: {**defaults[kind], **layout.get(kind, {})}}


def _destinations(params: dict) -> list[dict]:
    prepared = []
    for index, config in enumerate(params["destinations"]):
        if ("channel" in config) == ("s3" in config):
            raise validation_error(f"destinations[{index}]: give exactly one of channel or s3")
        if "channel" in config:
            channel_arn = config["channel"]["channelArn"]
            find(IvsChannel.objects, "Channel", arn=channel_arn)
            encoder_arn = config["channel"].get("encoderConfigurationArn")
            prepared.append(
                {
                    "config": config,
                    "channel_arn": channel_arn,
                    "encoder": _encoder(encoder_arn) if encoder_arn else None,
                }
            )
        else:
            s3 = config["s3"]
            prepared.append(
                {
                    "config": config,
                    "storage": _storage(s3["storageConfigurationArn"]),
                    "encoder": _encoder(s3["encoderConfigurationArns"][0]),
                }
            )
    return prepared


@ivs_realtime.operation("StartComposition")
def start_composition(params: dict) -> dict:
    stage = find(Stage.objects, "Stage", arn=params["stageArn"])
    token = params.get("idempotencyToken", "")
    earlier = compositions.started_with(stage=stage, idempotency_token=token)
    if earlier is not None:
        return {"composition": composition_shape(earlier)}
    compositions.refuse_if_running(stage)
    layout, destinations = _layout(params), _destinations(params)
    composition, created = compositions.start(
        stage=stage, layout=layout, destinations=destinations, tags=params.get("tags", {}), idempotency_token=token
    )
    if created:
        _on_commit_watch()
    return {"composition": composition_shape(composition)}


def _composition(arn: str) -> Composition:
    return find(Composition.objects.select_related("stage"), "Composition", arn=arn)


@ivs_realtime.operation("GetComposition")
def get_composition(params: dict) -> dict:
    return {"composition": composition_shape(_composition(params["arn"]))}


@ivs_realtime.operation("ListCompositions")
def list_compositions(params: dict) -> dict:
    items = Composition.objects.select_related("stage").prefetch_related("destinations").order_by("-id")
    if params.get("filterByStageArn"):
        items = items.filter(stage__arn=params["filterByStageArn"])
    if params.get("filterByEncoderConfigurationArn"):
        items = items.filter(destinations__encoder__arn=params["filterByEncoderConfigurationArn"]).distinct()
    return listing(items, params, "compositions", lambda page: [composition_shape(c, summary=True) for c in page])


@ivs_realtime.operation("StopComposition")
def stop_composition(params: dict) -> dict:
    composition = _composition(params["arn"])
    if composition.state in compositions.RUNNING:
        compositions.stop(composition)
        _on_commit_watch()
    return {}
