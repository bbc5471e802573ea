from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from channels_app.models import Channel
from channels_app.services import ChannelError
from stages import access, broadcast, selectors, services
from stages.forms import StageAccessForm, StageForm
from stages.models import Stage


@login_required
def stage_list(request):
    form = StageForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                stage = services.create_stage(user=request.user, title=form.cleaned_data["title"])
            except services.StageError as exc:
                messages.error(request, str(exc))
            else:
                return redirect(stage)
        else:
            return render(request, "stages/list.html", _list_context(request, form), status=400)
    return render(request, "stages/list.html", _list_context(request, form))


def _list_context(request, form):
    return {"stages": Stage.objects.filter(owner=request.user), "form": form}


def stage_page(request, pk):
    """Hosts and their guests get the studio (camera, microphone, screen; hosts also
    get host controls); others watch and chat, if the stage lets them."""
    stage = get_object_or_404(Stage.objects.select_related("owner"), pk=pk)
    refused = access.refusal(stage, request.user)
    if refused:
        return render(request, "stages/locked.html", {"stage": stage, "refusal": refused}, status=403)
    is_host, is_guest = stage.is_host(request.user), stage.is_guest(request.user)
    in_studio = (is_host or is_guest) and request.GET.get("view") != "viewer"
    context = {"stage": stage, "room": services.guest_room(stage), "is_host": is_host, "is_guest": is_guest}
    return render(request, "stages/host.html" if in_studio else "stages/viewer.html", context)


@require_POST
@never_cache
def stage_token(request, pk):
    """A fresh participant token for this page (on load and on every reconnect)."""
    stage = get_object_or_404(Stage, pk=pk)
    if not request.session.session_key:
        request.session.save()
    try:
        issued = services.token_for(stage=stage, user=request.user, session_key=request.session.session_key)
    except services.StageUnavailable as exc:
        return JsonResponse({"error": str(exc)}, status=503)
    except services.StageError as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    return JsonResponse(issued)


@login_required
@require_POST
def stage_access(request, pk):
    """The host sets who can watch; back to the page the form was on (studio or go-live)."""
    stage = _hosted_stage(request, pk)
    form = StageAccessForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose who can watch.")
    else:
        try:
            services.set_access(stage=stage, host=request.user, **form.cleaned_data)
        except services.StageError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Saved who can watch.")
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect(stage)


def _hosted_stage(request, pk) -> Stage:
    stage = get_object_or_404(Stage, pk=pk)
    if not stage.is_host(request.user):
        raise Http404
    return stage


@login_required
@never_cache
def participant_list(request, pk):
    return _participants_panel(request, _hosted_stage(request, pk))


@login_required
@require_POST
def participant_remove(request, pk, participant_id):
    stage = _hosted_stage(request, pk)
    try:
        services.remove_participant(stage=stage, participant_id=participant_id, by=request.user.username)
    except services.StageError as exc:
        return HttpResponse(str(exc), status=409)
    return _participants_panel(request, stage)


def _participants_panel(request, stage: Stage):
    try:
        context = {"stage": stage, "participants": selectors.participants(stage=stage)}
    except services.StageError as exc:
        return HttpResponse(str(exc), status=503)
    return render(request, "stages/partials/participants.html", context)


@login_required
@require_POST
def stage_delete(request, pk):
    stage = _hosted_stage(request, pk)
    try:
        services.delete_stage(stage=stage)
    except services.StageError as exc:
        messages.error(request, str(exc))
        return redirect(stage)
    messages.success(request, "Stage deleted.")
    return redirect("stage_list")


# --- Going live from the browser: the dashboard's studio controls ---------------------


def _own_channel(request) -> Channel:
    return get_object_or_404(Channel, owner=request.user)


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
    except ChannelError as exc:
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
    except ChannelError as exc:
        return JsonResponse({"error": str(exc)}, status=502)
    return JsonResponse({"state": "STOPPING"})
