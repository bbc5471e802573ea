from django.urls import path, re_path

from mediaplane import views

# Mounted at /_plane/. boto3 uses <site>/_plane/ivs as the `ivs` endpoint.
urlpatterns = [
    path("rtmp/on_publish", views.on_publish),
    path("rtmp/on_relay_publish", views.on_relay_publish),
    path("rtmp/on_publish_done", views.on_publish_done),
    path("ivs/_metrics", views.ingest_metrics),
    re_path(r"^(?P<service_name>ivs)/(?P<path>.*)$", views.api),
]
