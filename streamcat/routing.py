"""WebSocket routes of every app."""

from channels_app.routing import websocket_urlpatterns as channel_sockets

websocket_urlpatterns = [*channel_sockets]
