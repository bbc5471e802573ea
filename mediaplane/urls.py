from django.urls import path, re_path

from mediaplane import views, webrtc

# Mounted at /_plane/. boto3 uses <site>/_plane/ivs as the `ivs` endpoint.
urlpatterns = [
    path("rtmp/on_publish", views.on_publish),
    path("rtmp/on_relay_publish", views.on_relay_publish),
    path("rtmp/on_publish_done", views.on_publish_done),
    path("rtmp/on_record_done", views.on_record_done),
    path("srt/admission", views.srt_admission),
    path("janus/events", webrtc.janus_events),
    path("janus/turn", webrtc.janus_turn),
    path("whip", webrtc.whip),
    path("whep", webrtc.whep),
    re_path(r"^(?P<kind>whip|whep)/(?P<connection_id>[A-Za-z0-9_-]+)$", webrtc.session_resource),
    path("ivs/_metrics", views.ingest_metrics),
    re_path(r"^(?P<service_name>ivs|ivs-realtime)/(?P<path>.*)$", views.api),
]
