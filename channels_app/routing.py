from django.urls import path

from channels_app.consumers import LiveListConsumer, StreamStateConsumer

websocket_urlpatterns = [
    path("ws/channels/<slug:slug>/state/", StreamStateConsumer.as_asgi()),
    path("ws/live/", LiveListConsumer.as_asgi()),
]
