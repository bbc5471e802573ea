from django.conf import settings


def media_plane(request):
    """Which player/broadcast driver the pages load: local (hls.js) or aws (IVS SDKs)."""
    return {"media_plane": settings.MEDIA_PLANE}


def secure_url(request):
    """This page on the site's HTTPS address, when it was opened over plain HTTP and the
    site has one (the studio links there: browsers give cameras to secure pages only)."""
    if request.is_secure() or not settings.PUBLIC_URL.startswith("https://"):
        return {"secure_page_url": ""}
    return {"secure_page_url": settings.PUBLIC_URL.rstrip("/") + request.get_full_path()}
