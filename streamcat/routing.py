"""WebSocket routes of every app."""

from channels_app.routing import websocket_urlpatterns as channel_sockets
from chat.routing import websocket_urlpatterns as chat_sockets
from mediaplane.routing import websocket_urlpatterns as plane_sockets

websocket_urlpatterns = [*channel_sockets, *chat_sockets, *plane_sockets]
