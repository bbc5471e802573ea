from django.urls import path

from channels_app import views

urlpatterns = [
    path("dashboard/channel/", views.channel_create, name="channel_create"),
    path("dashboard/channel/title/", views.channel_update, name="channel_update"),
    path("dashboard/stream-key/", views.stream_key, name="stream_key"),
    path("dashboard/stream-key/reset/", views.stream_key_reset, name="stream_key_reset"),
    path("dashboard/srt-url/", views.srt_url, name="srt_url"),
    path("dashboard/recording/", views.recording_toggle, name="recording_toggle"),
    path("dashboard/insecure-ingest/", views.insecure_ingest_toggle, name="insecure_ingest_toggle"),
    path("dashboard/metadata/", views.metadata_send, name="metadata_send"),
    path("c/<slug:slug>/playback-token/", views.playback_token, name="playback_token"),
]
