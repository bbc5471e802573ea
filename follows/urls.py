from django.urls import path

from follows import views

urlpatterns = [
    path("following/", views.following_page, name="following"),
    path("c/<slug:slug>/follow/", views.follow, name="follow"),
    path("c/<slug:slug>/unfollow/", views.unfollow, name="unfollow"),
]
