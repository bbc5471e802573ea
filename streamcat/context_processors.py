from django.conf import settings


def media_plane(request):
    """Which player/broadcast driver the pages load: local (hls.js) or aws (IVS SDKs)."""
    return {"media_plane": settings.MEDIA_PLANE}
