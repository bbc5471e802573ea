from django.urls import path

from follows import views

urlpatterns = [
    path("following/", views.following_page, name="following"),
    path("c/<slug:slug>/follow/", views.follow, {"following": True}, name="follow"),
    path("c/<slug:slug>/unfollow/", views.follow, {"following": False}, name="unfollow"),
]
