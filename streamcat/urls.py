from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("_plane/", include("mediaplane.urls")),
    path("stages/", include("stages.urls")),
    path("", include("chat.urls")),
    path("", include("channels_app.urls")),
]
