from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from channels_app.models import Channel, PlaybackAccess
from follows import selectors, services


def _answer(request, channel: Channel, error: str = ""):
    """htmx gets the follow button back; a plain form post goes back to the channel."""
    if not request.htmx:
        return redirect(channel.get_absolute_url())
    context = {
        "channel": channel,
        "following": selectors.is_following(request.user, channel),
        "follower_count": channel.followers.count(),
        "error": error,
    }
    response = render(request, "follows/partials/follow_button.html", context, status=400 if error else 200)
    if channel.playback_access == PlaybackAccess.FOLLOWERS and not error:
        response["HX-Refresh"] = "true"  # following opens (unfollowing closes) the player
    return response


@require_POST
def follow(request, slug, following: bool):
    """Follow (following=True) or unfollow the channel; the URL says which."""
    channel = get_object_or_404(Channel, slug=slug)
    if not request.user.is_authenticated:
        return HttpResponse("Log in to follow channels.", status=401, content_type="text/plain")
    try:
        if following:
            services.follow(user=request.user, channel=channel)
        else:
            services.unfollow(user=request.user, channel=channel)
    except services.FollowError as exc:
        return _answer(request, channel, str(exc))
    return _answer(request, channel)


@login_required
def following_page(request):
    return render(request, "follows/following.html", {"channels": selectors.following(request.user)})
