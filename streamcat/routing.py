"""WebSocket routes of every app; a path none of them serves is refused (4404)."""

from django.urls import re_path

from channels_app.routing import websocket_urlpatterns as channel_sockets
from core.sockets import NotFoundSocket
from mediaplane.routing import websocket_urlpatterns as plane_sockets
from stages.routing import websocket_urlpatterns as chat_sockets

websocket_urlpatterns = [*channel_sockets, *chat_sockets, *plane_sockets, re_path(r"", NotFoundSocket.as_asgi())]
