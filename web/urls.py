from django.urls import path

from web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("categories/<slug:slug>/", views.category_page, name="category"),
    path("search/", views.search, name="search"),
    path("c/<slug:slug>/", views.channel_page, name="channel"),
    path("c/<slug:slug>/videos/<int:pk>/", views.replay_page, name="replay"),
    path("c/<slug:slug>/videos/<int:pk>/chat/", views.replay_chat, name="replay_chat"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/sessions/<int:pk>/", views.session_page, name="session"),
    path("dashboard/video-quality/", views.video_quality_update, name="video_quality"),
    path("dashboard/go-live/", views.go_live_page, name="go_live"),
]
