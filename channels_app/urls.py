from django.urls import path

from channels_app import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/channel/", views.channel_create, name="channel_create"),
    path("dashboard/channel/title/", views.channel_update, name="channel_update"),
    path("dashboard/stream-key/", views.stream_key, name="stream_key"),
    path("dashboard/stream-key/reset/", views.stream_key_reset, name="stream_key_reset"),
    path("dashboard/sessions/<int:pk>/", views.session_page, name="session"),
    path("dashboard/go-live/", views.go_live_page, name="go_live"),
    path("dashboard/go-live/start/", views.go_live_start, name="go_live_start"),
    path("dashboard/go-live/status/", views.go_live_status, name="go_live_status"),
    path("dashboard/go-live/stop/", views.go_live_stop, name="go_live_stop"),
    path("dashboard/recording/", views.recording_toggle, name="recording_toggle"),
    path("dashboard/metadata/", views.metadata_send, name="metadata_send"),
    path("categories/<slug:slug>/", views.category_page, name="category"),
    path("search/", views.search, name="search"),
    path("c/<slug:slug>/", views.channel_page, name="channel"),
    path("c/<slug:slug>/playback-token/", views.playback_token, name="playback_token"),
    path("c/<slug:slug>/videos/<int:pk>/", views.replay_page, name="replay"),
    path("c/<slug:slug>/videos/<int:pk>/chat/", views.replay_chat, name="replay_chat"),
]
