from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from analytics import services
from channels_app import access
from channels_app.models import Channel
from core import jsonbody

MIN_REPORT_INTERVAL = 2  # seconds between two reports of one player
MAX_REPORT_BYTES = 8 * 1024  # a report is a few hundred bytes


# Players of anonymous viewers report too, and a report changes nothing a forged
# cross-site request could abuse: no CSRF token needed.
@csrf_exempt
@require_POST
def playback_report(request, slug):
    channel = get_object_or_404(Channel.objects.select_related("owner"), slug=slug)
    if access.refusal(channel, request.user):
        return JsonResponse({"error": "You may not watch this channel."}, status=403)
    try:
        data = jsonbody.loads(request.body or b"{}", max_bytes=MAX_REPORT_BYTES)
    except jsonbody.BadJson as exc:
        return JsonResponse({"error": f"The report must be JSON: {exc}"}, status=400)
    if not isinstance(data, dict):
        return JsonResponse({"error": "The report must be a JSON object."}, status=400)
    if not isinstance(data.get("playbackId"), str):
        return JsonResponse({"error": "playbackId must be a string of 8 to 36 characters"}, status=400)
    if not cache.add(f"playback-report:{data['playbackId'][:36]}", 1, MIN_REPORT_INTERVAL):
        return JsonResponse({"error": "Too many reports from this player."}, status=429)
    try:
        services.record_report(
            channel=channel,
            data=data,
            address=request.META.get("REMOTE_ADDR", ""),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except services.ReportError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return HttpResponse(status=204)
