"""The streamer's chat settings on the dashboard (an htmx panel): blocked words and
the moderators they appoint."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from channels_app.models import Channel
from chat import services
from chat.forms import BlockedWordsForm, ModeratorForm
from chat.models import ChatModerator


def _panel(request, *, words_form=None, moderator_form=None, saved="", status=200):
    room = services.room_for_channel(get_object_or_404(Channel, owner=request.user))
    context = {
        "words_form": words_form or BlockedWordsForm(initial={"words": room.blocked_words}),
        "moderator_form": moderator_form or ModeratorForm(),
        "moderators": ChatModerator.objects.filter(streamer=request.user).select_related("moderator"),
        "saved": saved,
    }
    return render(request, "chat/partials/settings.html", context, status=status)


@login_required
def chat_settings(request):
    return _panel(request)


@login_required
@require_POST
def blocked_words_save(request):
    form = BlockedWordsForm(request.POST)
    room = services.room_for_channel(get_object_or_404(Channel, owner=request.user))
    if form.is_valid():
        try:
            services.set_blocked_words(room=room, moderator=request.user, words=form.cleaned_data["words"])
            return _panel(request, saved="Blocked words saved.")
        except services.ChatError as exc:
            form.add_error("words", exc.message)
    return _panel(request, words_form=form, status=400)


@login_required
@require_POST
def moderator_add(request):
    form = ModeratorForm(request.POST)
    if form.is_valid():
        try:
            appointment = services.appoint_moderator(streamer=request.user, username=form.cleaned_data["username"])
            return _panel(request, saved=f"{appointment.moderator.username} now moderates your chats.")
        except services.ChatError as exc:
            form.add_error("username", exc.message)
    return _panel(request, moderator_form=form, status=400)


@login_required
@require_POST
def moderator_remove(request, user_id):
    services.dismiss_moderator(streamer=request.user, user_id=user_id)
    return _panel(request, saved="Moderator removed.")
