from django.urls import path

from chat import views

urlpatterns = [
    path("dashboard/chat/", views.chat_settings, name="chat_settings"),
    path("dashboard/chat/blocked-words/", views.blocked_words_save, name="chat_blocked_words"),
    path("dashboard/chat/moderators/", views.moderator_add, name="chat_moderator_add"),
    path("dashboard/chat/moderators/<int:user_id>/remove/", views.moderator_remove, name="chat_moderator_remove"),
]
