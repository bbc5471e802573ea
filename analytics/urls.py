from django.urls import path

from analytics import views

urlpatterns = [
    path("c/<slug:slug>/playback-report/", views.playback_report, name="playback_report"),
]
