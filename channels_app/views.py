from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from channels_app import access, selectors, services
from channels_app.forms import ChannelForm, ChannelSettingsForm
from channels_app.models import Channel


def _own_channel(request) -> Channel:
    return get_object_or_404(Channel, owner=request.user)


@require_GET
@never_cache
def playback_token(request, slug):
    """A playback token for the private channel's player (it asks again before expiry)."""
    channel = get_object_or_404(Channel.objects.select_related("owner"), slug=slug)
    if not channel.is_private:
        return JsonResponse({"error": "This channel is public: it plays without a token."}, status=400)
    refused = access.refusal(channel, request.user)
    if refused:
        return JsonResponse({"error": refused}, status=403)
    token, expires = access.playback_token(channel, request.user)  # signed here: no IVS call
    return JsonResponse({"token": token, "expiresAt": expires.isoformat()})


@login_required
@require_POST
def recording_toggle(request):
    channel = _own_channel(request)
    enabled = request.POST.get("enabled") == "on"
    try:
        services.set_recording(channel=channel, enabled=enabled)
    except services.ChannelError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Your broadcasts are recorded from now on." if enabled else "Recording is off.")
    return redirect("dashboard")


@login_required
@require_POST
def insecure_ingest_toggle(request):
    channel = _own_channel(request)
    allowed = request.POST.get("allowed") == "on"
    try:
        services.set_insecure_ingest(channel=channel, allowed=allowed)
    except services.ChannelError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            "Plain RTMP is accepted too: your stream key crosses the network unencrypted."
            if allowed
            else "Only RTMPS is accepted now.",
        )
    return redirect("dashboard")


@login_required
@require_POST
def channel_create(request):
    form = ChannelForm(request.POST)
    if form.is_valid():
        try:
            services.create_channel(user=request.user, title=form.cleaned_data["title"])
        except services.ChannelError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Your channel is ready. Paste the server and stream key into OBS to go live.")
        return redirect("dashboard")
    return render(request, "web/dashboard.html", {"channel": None, "form": form}, status=400)


@login_required
@require_POST
def channel_update(request):
    channel = _own_channel(request)
    # Validated on a copy: the row itself changes only through the service.
    form = ChannelSettingsForm(request.POST, instance=Channel.objects.get(pk=channel.pk))
    if not form.is_valid():
        messages.error(request, " ".join(f"{form[name].label}: {', '.join(e)}" for name, e in form.errors.items()))
        return redirect("dashboard")
    try:
        services.update_channel(channel=channel, **form.cleaned_data)
    except services.ChannelError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Channel settings saved.")
    return redirect("dashboard")


@login_required
@require_GET
@never_cache
def stream_key(request):
    """The secret key, fetched only when its owner reveals or copies it.

    htmx gets the key row back (revealed, or masked again with ?hide=1); a plain
    request (the Copy button) gets the bare key as text.
    """
    channel = _own_channel(request)
    if request.htmx and request.GET.get("hide"):
        return render(request, "partials/stream_key.html", {"revealed": False})
    try:
        value = services.stream_key_value(channel=channel)
    except services.ChannelError as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    if request.htmx:
        return render(request, "partials/stream_key.html", {"revealed": True, "value": value})
    return HttpResponse(value, content_type="text/plain")


@login_required
@never_cache
def srt_url(request):
    """The SRT URL (it carries the stream key and the passphrase), for the Copy button."""
    channel = _own_channel(request)
    try:
        value = selectors.srt_ingest_url(channel)
    except services.ChannelError as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    return HttpResponse(value, content_type="text/plain")


@login_required
@require_POST
def stream_key_reset(request):
    channel = _own_channel(request)
    try:
        services.reset_stream_key(channel=channel)
    except services.ChannelError as exc:
        messages.error(request, f"The stream key was not reset: {exc}")
    else:
        messages.success(request, "New stream key created. Update it in OBS; the old key no longer works.")
    return redirect("dashboard")


@login_required
@require_POST
def metadata_send(request):
    """The dashboard's "send to viewers" box (htmx): the answer replaces its status line."""
    try:
        services.send_metadata(channel=_own_channel(request), text=request.POST.get("text", ""))
    except services.ChannelError as exc:
        return HttpResponse(f'<p class="error" id="metadata-status">{escape(str(exc))}</p>', status=400)
    return HttpResponse('<p class="muted" id="metadata-status">Sent: viewers see it with the video.</p>')
