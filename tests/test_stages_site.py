"""The stages pages and endpoints through the real plane: who gets which token,
and that only the host sees and removes participants."""

import jwt
import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from core import video
from mediaplane.models import Participant
from stages import services
from stages.models import Stage


@pytest.fixture
def host(plane):
    return User.objects.create_user("host1", password="a-long-password-1")


@pytest.fixture
def stage(host):
    return services.create_stage(user=host, title="Panel")


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_create_stage_from_the_page(host, client):
    client.force_login(host)
    response = client.post(reverse("stage_list"), {"title": "Friday show"})
    stage = Stage.objects.get(owner=host)
    assert response.status_code == 302 and response.url == stage.get_absolute_url()
    assert video.get_stage(stage_arn=stage.arn)["arn"] == stage.arn
    assert client.post(reverse("stage_list"), {"title": ""}).status_code == 400


def test_host_gets_publish_and_others_subscribe_only(stage, host, client):
    client.force_login(host)
    issued = client.post(reverse("stage_token", args=[stage.pk])).json()
    assert claims(issued["token"])["capabilities"] == {"allow_publish": True, "allow_subscribe": True}
    assert claims(issued["token"])["attributes"] == {
        "username": "host1",
        "avatar": "H",
        "featured": "true",  # how a composition of the stage places them
        "pip": "false",
    }
    other = User.objects.create_user("viewer1", password="a-long-password-2")
    client.force_login(other)
    issued = client.post(reverse("stage_token", args=[stage.pk])).json()
    assert claims(issued["token"])["capabilities"] == {"allow_publish": False, "allow_subscribe": True}
    client.logout()
    anonymous = client.post(reverse("stage_token", args=[stage.pk])).json()
    assert claims(anonymous["token"])["user_id"].startswith("guest-")
    assert client.get(reverse("stage_token", args=[stage.pk])).status_code == 405


def test_pages_by_role(stage, host, client):
    assert b"stage-viewer.js" in client.get(stage.get_absolute_url()).content
    client.force_login(host)
    assert b"stage-host.js" in client.get(stage.get_absolute_url()).content
    assert b"stage-viewer.js" in client.get(stage.get_absolute_url() + "?view=viewer").content
    assert client.get(reverse("stage", args=[9999])).status_code == 404


def test_only_the_host_lists_and_removes_participants(stage, host, client):
    issued = video.create_participant_token(stage_arn=stage.arn, user_id="x", attributes={}, publish=False)
    other = User.objects.create_user("mallory", password="a-long-password-3")
    client.force_login(other)
    assert client.get(reverse("stage_participants", args=[stage.pk])).status_code == 404
    remove = reverse("stage_participant_remove", args=[stage.pk, issued["participantId"]])
    assert client.post(remove).status_code == 404
    client.force_login(host)
    assert client.get(reverse("stage_participants", args=[stage.pk])).status_code == 200
    assert client.post(remove).status_code == 200
    assert Participant.objects.get(participant_id=issued["participantId"]).revoked_at is not None


def test_delete_stage(stage, host, client):
    client.force_login(host)
    response = client.post(reverse("stage_delete", args=[stage.pk]))
    assert response.status_code == 302
    assert not Stage.objects.exists()
    assert video.client("ivs-realtime").list_stages()["stages"] == []
