"""State of the local media plane: the IVS resources it serves."""

from mediaplane.models.common import arn, key_digest, new_resource_id, random_id
from mediaplane.models.composition import (
    Composition,
    CompositionDestination,
    CompositionState,
    DestinationState,
    EncoderConfiguration,
    StorageConfiguration,
)
from mediaplane.models.ingest import (
    IngestSample,
    IvsChannel,
    IvsRecordingConfiguration,
    IvsStreamEvent,
    IvsStreamKey,
    IvsStreamSession,
    PlaybackKeyPair,
    ViewerSessionRevocation,
    new_stream_id,
)
from mediaplane.models.realtime import (
    Participant,
    ParticipantEvent,
    PublicKey,
    Stage,
    StageSession,
    WebRtcConnection,
)

__all__ = [
    "Composition",
    "CompositionDestination",
    "CompositionState",
    "DestinationState",
    "EncoderConfiguration",
    "StorageConfiguration",
    "IngestSample",
    "IvsChannel",
    "IvsRecordingConfiguration",
    "IvsStreamEvent",
    "IvsStreamKey",
    "IvsStreamSession",
    "Participant",
    "PlaybackKeyPair",
    "ViewerSessionRevocation",
    "ParticipantEvent",
    "PublicKey",
    "Stage",
    "StageSession",
    "WebRtcConnection",
    "arn",
    "key_digest",
    "new_stream_id",
    "new_resource_id",
    "random_id",
]
