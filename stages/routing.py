from django.urls import path

from stages.consumers import RoomSocket

# Every chat room's socket: chat's, with stage rooms and guest spots.
websocket_urlpatterns = [path("ws/chat/<int:room_id>/", RoomSocket.as_asgi())]
