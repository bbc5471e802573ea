from django.urls import path

from stages import views

urlpatterns = [
    path("", views.stage_list, name="stage_list"),
    path("<int:pk>/", views.stage_page, name="stage"),
    path("<int:pk>/token/", views.stage_token, name="stage_token"),
    path("<int:pk>/access/", views.stage_access, name="stage_access"),
    path("<int:pk>/participants/", views.participant_list, name="stage_participants"),
    path(
        "<int:pk>/participants/<str:participant_id>/remove/", views.participant_remove, name="stage_participant_remove"
    ),
    path("<int:pk>/delete/", views.stage_delete, name="stage_delete"),
]

# Going live from the browser, under the dashboard (streamcat/urls.py).
go_live_urlpatterns = [
    path("start/", views.go_live_start, name="go_live_start"),
    path("status/", views.go_live_status, name="go_live_status"),
    path("stop/", views.go_live_stop, name="go_live_stop"),
]
