from django.urls import path

from mediaplane.consumers import MetadataConsumer, StageEventsConsumer

websocket_urlpatterns = [
    path("_plane/stage-events", StageEventsConsumer.as_asgi()),
    path("_plane/metadata/<str:channel_id>", MetadataConsumer.as_asgi()),
]
