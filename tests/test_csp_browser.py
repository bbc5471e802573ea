"""Every kind of page runs under its Content-Security-Policy in Chromium without a
violation or a script error: the policy forbids inline script and style, so a page
that relied on either would break here first."""

import pytest
from django.contrib.auth.models import User

from channels_app import services
from channels_app.models import StreamSession
from stages import services as stage_services

# Media and browser behaviour: the database engine changes nothing here, so it runs
# on SQLite only (scripts/test.sh), to keep the suite's time down.
pytestmark = [pytest.mark.browser, pytest.mark.engine_independent]


def test_pages_run_under_their_policy(login):
    page = login("policed")
    user = User.objects.get(username="policed")
    user.is_staff = user.is_superuser = True
    user.save()
    channel = services.create_channel(user=user, title="Policy check")
    session = StreamSession.objects.create(
        channel=channel, stream_id="st-policy-1", started_at="2026-11-29T10:00:00Z", ended_at="2026-11-29T10:05:00Z"
    )
    stage = stage_services.create_stage(user=user, title="Policy stage")
    problems = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    pages = [
        "/",
        "/search/?q=policy",
        "/following/",
        "/dashboard/",
        f"/dashboard/sessions/{session.pk}/",
        "/dashboard/go-live/",
        channel.get_absolute_url(),
        "/stages/",
        f"/stages/{stage.pk}/",
        "/accounts/profile/",
        "/admin/",
        "/admin/channels_app/channel/",
        f"/admin/channels_app/channel/{channel.pk}/change/",
    ]
    for url in pages:
        response = page.goto(url)
        assert response.status == 200, url
        assert "script-src 'self'" in response.headers["content-security-policy"], url
        page.wait_for_load_state("networkidle")
    assert problems == []
