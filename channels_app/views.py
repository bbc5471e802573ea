from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from channels_app import broadcast, selectors, services
from channels_app.forms import ChannelForm
from channels_app.models import Channel, StreamSession
from chat.services import room_for_channel
from streamcat import video


def home(request):
    return render(
        request,
        "channels_app/home.html",
        {"live": selectors.live_channels(), "recent": selectors.recently_live_channels()},
    )


def channel_page(request, slug):
    channel = get_object_or_404(Channel.objects.select_related("owner"), slug=slug)
    context = {"channel": channel, "room": room_for_channel(channel), "videos": selectors.past_broadcasts(channel)}
    return render(request, "channels_app/channel.html", context)


def replay_page(request, slug, pk):
    """A past broadcast, played from its recording."""
    session = get_object_or_404(
        StreamSession.objects.select_related("channel__owner").exclude(recording_url=""), pk=pk, channel__slug=slug
    )
    more = [video for video in selectors.past_broadcasts(session.channel, limit=7) if video.pk != session.pk][:6]
    return render(request, "channels_app/replay.html", {"session": session, "channel": session.channel, "videos": more})


@login_required
@require_POST
def recording_toggle(request):
    channel = _own_channel(request)
    enabled = request.POST.get("enabled") == "on"
    try:
        services.recording_set(channel=channel, enabled=enabled)
    except services.ChannelError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Your broadcasts are recorded from now on." if enabled else "Recording is off.")
    return redirect("dashboard")


@login_required
def dashboard(request):
    channel = Channel.objects.filter(owner=request.user).first()
    context = {"channel": channel, "form": ChannelForm(initial={"title": channel.title} if channel else None)}
    if channel:
        context["sessions"] = selectors.channel_sessions(channel)
        context["stages"] = request.user.stages.all()[:10]
        context["ingest_server"] = video.ingest_server_url(channel.ingest_endpoint)
    return render(request, "channels_app/dashboard.html", context)


@login_required
@require_POST
def channel_create(request):
    form = ChannelForm(request.POST)
    if form.is_valid():
        try:
            services.channel_create(user=request.user, title=form.cleaned_data["title"])
        except services.ChannelError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Your channel is ready. Paste the server and stream key into OBS to go live.")
        return redirect("dashboard")
    return render(request, "channels_app/dashboard.html", {"channel": None, "form": form}, status=400)


@login_required
@require_POST
def channel_update(request):
    channel = get_object_or_404(Channel, owner=request.user)
    form = ChannelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(form.errors["title"]))
        return redirect("dashboard")
    services.channel_update(channel=channel, title=form.cleaned_data["title"])
    messages.success(request, "Title saved.")
    return redirect("dashboard")


@login_required
@require_GET
@never_cache
def stream_key(request):
    """The secret key, fetched only when its owner reveals or copies it.

    htmx gets the key row back (revealed, or masked again with ?hide=1); a plain
    request (the Copy button) gets the bare key as text.
    """
    channel = get_object_or_404(Channel, owner=request.user)
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
@require_POST
def stream_key_reset(request):
    channel = get_object_or_404(Channel, owner=request.user)
    try:
        services.stream_key_reset(channel=channel)
    except (services.ChannelError, video.VideoError) as exc:
        messages.error(request, f"The stream key was not reset: {exc}")
    else:
        messages.success(request, "New stream key created. Update it in OBS; the old key no longer works.")
    return redirect("dashboard")


@login_required
def session_page(request, pk):
    session = get_object_or_404(StreamSession.objects.select_related("channel__owner"), pk=pk)
    if session.channel.owner_id != request.user.pk and not request.user.has_perm("channels_app.view_streamsession"):
        raise Http404
    samples = [
        {
            "t": s.time.isoformat(),
            "kbps": round(s.video_bitrate / 1000) if s.video_bitrate is not None else None,
            "fps": s.framerate,
        }
        for s in session.health_samples.all()[:5000]
    ]
    return render(
        request,
        "channels_app/session.html",
        {"session": session, "samples": samples, "events": session.events.all()},
    )


# --- Going live from the browser ------------------------------------------------------


def _own_channel(request) -> Channel:
    return get_object_or_404(Channel, owner=request.user)


@login_required
def go_live_page(request):
    """The studio (camera, microphone, screen, guests) plus the broadcast controls."""
    channel = _own_channel(request)
    try:
        studio = broadcast.studio_for(channel=channel)
    except services.ChannelError as exc:
        messages.error(request, str(exc))
        return redirect("dashboard")
    context = {
        "stage": studio,
        "room": room_for_channel(channel),
        "is_host": True,
        "is_guest": False,
        "broadcast": {
            "channel": channel,
            "presets": broadcast.PRESETS,
            "layouts": list(broadcast.LAYOUTS),
        },
    }
    return render(request, "stages/host.html", context)


@login_required
@require_POST
def go_live_start(request):
    channel = _own_channel(request)
    try:
        state = broadcast.go_live(
            channel=channel,
            preset=request.POST.get("preset", ""),
            layout=request.POST.get("layout", ""),
            request_token=request.POST.get("token", ""),
        )
    except services.ChannelError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(state)


@login_required
@never_cache
@require_GET
def go_live_status(request):
    return JsonResponse(broadcast.broadcast_state(channel=_own_channel(request)))


@login_required
@require_POST
def go_live_stop(request):
    try:
        broadcast.end_broadcast(channel=_own_channel(request))
    except services.ChannelError as exc:
        return JsonResponse({"error": str(exc)}, status=502)
    return JsonResponse({"state": "STOPPING"})


@login_required
@require_POST
def metadata_send(request):
    """The dashboard's "send to viewers" box (htmx): the answer replaces its status line."""
    try:
        services.metadata_send(channel=_own_channel(request), text=request.POST.get("text", ""))
    except services.ChannelError as exc:
        return HttpResponse(f'<p class="error" id="metadata-status">{escape(str(exc))}</p>', status=400)
    return HttpResponse('<p class="muted" id="metadata-status">Sent: viewers see it with the video.</p>')
