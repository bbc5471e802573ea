"""The site's pages: each composes what it shows from the domains' doors (their
services and selectors), and none of them is a domain's own job. Endpoints that change
one domain (a channel's settings, a follow, a chat setting) stay in that domain's app."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from analytics import selectors as analytics
from channels_app import access, selectors, services
from channels_app.forms import ChannelForm, ChannelSettingsForm
from channels_app.models import Category, Channel, StreamSession
from chat.selectors import chat_replay
from chat.services import room_for_channel
from follows import selectors as follows
from stages import broadcast


def home(request):
    context = {
        "live": selectors.live_channels(),
        "recent": selectors.recently_live_channels(),
        "categories": Category.objects.all(),
    }
    return render(request, "web/home.html", context)


def category_page(request, slug):
    category = get_object_or_404(Category, slug=slug)
    context = {
        "category": category,
        "live": selectors.live_channels(category=category),
        "recent": selectors.recently_live_channels(category=category),
        "categories": Category.objects.all(),
    }
    return render(request, "web/category.html", context)


def search(request):
    query = request.GET.get("q", "").strip()[:100]
    results = selectors.search_channels(query) if query else []
    return render(request, "web/search.html", {"query": query, "results": results})


def channel_page(request, slug):
    channel = get_object_or_404(selectors.channels_with_followers(), slug=slug)
    videos = list(selectors.past_broadcasts(channel))
    access.recording_links(channel, request.user, videos)
    context = {
        "channel": channel,
        "room": room_for_channel(channel),
        "videos": videos,
        "refusal": access.refusal(channel, request.user),
        "following": follows.is_following(request.user, channel),
    }
    return render(request, "web/channel.html", context, status=403 if context["refusal"] else 200)


def replay_page(request, slug, pk):
    """A past broadcast, played from its recording, with its chat replayed beside it."""
    session = get_object_or_404(
        StreamSession.objects.select_related("channel__owner").exclude(recording_url=""), pk=pk, channel__slug=slug
    )
    channel = session.channel
    refused = access.refusal(channel, request.user)
    more = [video for video in selectors.past_broadcasts(channel, limit=7) if video.pk != session.pk][:6]
    access.recording_links(channel, request.user, [session, *more])
    context = {"session": session, "channel": channel, "videos": more, "refusal": refused}
    return render(request, "web/replay.html", context, status=403 if refused else 200)


@require_GET
def replay_chat(request, slug, pk):
    """The broadcast's chat as it happened, with each message's offset into the video;
    deleted messages are left out."""
    session = get_object_or_404(StreamSession.objects.select_related("channel__owner"), pk=pk, channel__slug=slug)
    refused = access.refusal(session.channel, request.user)
    if refused:
        return JsonResponse({"error": refused}, status=403)
    return JsonResponse({"messages": chat_replay(session)})


@login_required
def dashboard(request):
    return _dashboard(request, Channel.objects.filter(owner=request.user).first())


def _dashboard(request, channel: Channel | None, *, status: int = 200):
    context = {"channel": channel, "form": ChannelForm()}
    if channel:
        context["settings_form"] = ChannelSettingsForm(instance=channel)
        context["sessions"] = selectors.channel_sessions(channel)
        context["stages"] = request.user.stages.all()[:10]
        if not channel.is_disabled:
            try:
                context["ingest"] = services.ingest_settings(channel=channel)
            except services.ChannelError as exc:
                context["ingest_error"] = str(exc)
        try:
            context["quality"] = services.video_quality(channel=channel)
        except services.ChannelError as exc:
            context["quality_error"] = str(exc)
        context["channel_types"], context["presets"] = services.CHANNEL_TYPES, services.ADVANCED_PRESETS
        context["advanced_types"] = sorted(services.ADVANCED_TYPES)
    return render(request, "web/dashboard.html", context, status=status)


_REFUSAL_STATUS = {services.ChangeAfterBroadcast: 409, services.NotAnOption: 400}  # else the video service failed


@login_required
@require_POST
def video_quality_update(request):
    """The channel type (and preset) viewers' video is made with. A refusal shows the
    dashboard again with the reason: 409 while live, 400 for a value not offered."""
    channel = get_object_or_404(Channel, owner=request.user)
    try:
        services.set_video_quality(
            channel=channel, channel_type=request.POST.get("type", ""), preset=request.POST.get("preset", "")
        )
    except services.ChannelError as exc:
        messages.error(request, str(exc))
        return _dashboard(request, channel, status=_REFUSAL_STATUS.get(type(exc), 503))
    messages.success(request, "Video quality saved: your next broadcast uses it.")
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
    audience, summary = analytics.session_audience(session)
    context = {
        "session": session,
        "samples": samples,
        "events": session.events.all(),
        "audience": audience,
        "summary": summary,
    }
    return render(request, "web/session.html", context)


@login_required
def go_live_page(request):
    """The studio (camera, microphone, screen, guests) plus the broadcast controls."""
    channel = get_object_or_404(Channel, owner=request.user)
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
