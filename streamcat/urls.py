from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from stages import urls as stage_urls
from streamcat import health

urlpatterns = [
    path("health", health.health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("_plane/", include("mediaplane.urls")),
    path("stages/", include("stages.urls")),
    path("dashboard/go-live/", include(stage_urls.go_live_urlpatterns)),
    path("", include("chat.urls")),
    path("", include("follows.urls")),
    path("", include("analytics.urls")),
    path("", include("channels_app.urls")),
    path("", include("web.urls")),
]
# Uploads are nginx's job; this serves them only under runserver with DEBUG.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
