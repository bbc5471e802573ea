from django.urls import path

from mediaplane.consumers import StageEventsConsumer

websocket_urlpatterns = [
    path("_plane/stage-events", StageEventsConsumer.as_asgi()),
]
