"""Private channels: the playback-token checks (unit), the plane's key pair and
revocation operations through boto3, and the site's side of it (Stubber in AWS mode)."""

import asyncio
import time

import jwt
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth.models import User

from channels_app import access, services
from channels_app.models import PlaybackAccess
from core import video
from follows import services as follows
from mediaplane.playback_auth import Denied, Snapshot, check
from tests.conftest import unvalidated_client

CHANNEL = "arn:aws:ivs:us-west-2:000000000000:channel/abcdEFGH1234"
OTHER = "arn:aws:ivs:us-west-2:000000000000:channel/zzzzZZZZ9999"
PLAYLIST = "/hls/abcdEFGH1234/index.m3u8"
SEGMENT = "/hls/abcdEFGH1234/7.ts"
ORIGIN = "https://streamcat.example"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


KEY = new_key()


def token(key=KEY, **claims) -> str:
    payload = {"aws:channel-arn": CHANNEL, "exp": int(time.time()) + 300, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm="ES384")


def snapshot(revocations=None) -> Snapshot:
    return Snapshot.build({"abcdEFGH1234": CHANNEL}, [public_pem(new_key()), public_pem(KEY)], revocations or {})


def refused(uri: str, origin: str | None = None, state: Snapshot | None = None) -> str | None:
    try:
        check(state or snapshot(), uri, origin)
    except Denied as exc:
        return str(exc)
    return None


def test_a_valid_token_plays_the_playlist_and_every_segment():
    good = token()
    assert refused(f"{PLAYLIST}?token={good}") is None
    assert refused(f"{SEGMENT}?token={good}") is None
    assert refused("/hls/abcdEFGH1234/thumb.jpg?token=" + good) is None


def test_public_channels_and_other_paths_need_no_token():
    assert refused("/hls/publicChannel1/index.m3u8") is None
    assert refused("/static/css/site.css") is None


@pytest.mark.parametrize(
    ("make_uri", "reason"),
    [
        (lambda: PLAYLIST, "token missing"),
        (lambda: SEGMENT, "token missing"),
        (lambda: f"{SEGMENT}?token=not.a.jwt", "malformed token"),
        (lambda: f"{SEGMENT}?token={token(exp=int(time.time()) - 1)}", "token expired"),
        (lambda: f"{SEGMENT}?token={token(exp=None)}", "no exp"),
        (lambda: f"{SEGMENT}?token={token(**{'aws:channel-arn': OTHER})}", "another channel"),
        (lambda: f"{SEGMENT}?token={token(key=new_key())}", "not signed by an imported"),
    ],
)
def test_refused_tokens(make_uri, reason):
    # Tokens are made when the test runs: made at collection, they could expire first.
    assert reason in (refused(make_uri()) or "accepted")


def test_a_token_signed_with_another_algorithm_is_refused():
    hs = jwt.encode(
        {"aws:channel-arn": CHANNEL, "exp": int(time.time()) + 60},
        "a-shared-secret-of-at-least-32-bytes!",
        algorithm="HS256",
    )
    assert refused(f"{SEGMENT}?token={hs}")


def test_origin_restrictions():
    restricted = token(**{"aws:access-control-allow-origin": f"{ORIGIN},https://*.partner.example"})
    assert refused(f"{PLAYLIST}?token={restricted}", ORIGIN) is None
    assert refused(f"{PLAYLIST}?token={restricted}", "https://tv.partner.example") is None
    assert "not allowed" in refused(f"{PLAYLIST}?token={restricted}", "https://evil.example")
    # Like IVS without strict enforcement: only the playlist is checked, and a client
    # that sends no Origin (not a browser) is not restricted.
    assert refused(f"{SEGMENT}?token={restricted}", "https://evil.example") is None
    assert refused(f"{PLAYLIST}?token={restricted}") is None
    strict = token(**{"aws:access-control-allow-origin": ORIGIN, "aws:strict-origin-enforcement": True})
    assert "not allowed" in refused(f"{SEGMENT}?token={strict}", "https://evil.example")
    assert "(none)" in refused(f"{SEGMENT}?token={strict}")
    assert refused(f"{SEGMENT}?token={strict}", ORIGIN) is None


def test_revoked_viewers_and_their_session_versions():
    first = token(**{"aws:viewer-id": "viewer-7", "aws:viewer-session-version": 100})
    later = token(**{"aws:viewer-id": "viewer-7", "aws:viewer-session-version": 101})
    unversioned = token(**{"aws:viewer-id": "viewer-7"})
    someone_else = token(**{"aws:viewer-id": "viewer-8", "aws:viewer-session-version": 1})
    state = snapshot({(CHANNEL, "viewer-7"): 100})
    assert "revoked" in refused(f"{SEGMENT}?token={first}", state=state)
    assert "revoked" in refused(f"{SEGMENT}?token={unversioned}", state=state)
    assert refused(f"{SEGMENT}?token={later}", state=state) is None
    assert refused(f"{SEGMENT}?token={someone_else}", state=state) is None
    # A revocation on another channel does not touch this one.
    assert refused(f"{SEGMENT}?token={first}", state=snapshot({(OTHER, "viewer-7"): 100})) is None


def test_viewer_tokens_live_at_most_ten_minutes():
    long_lived = token(**{"aws:viewer-id": "v", "exp": int(time.time()) + 3600})
    assert "10 minutes" in refused(f"{SEGMENT}?token={long_lived}")
    assert "1 to 40" in refused(f"{SEGMENT}?token={token(**{'aws:viewer-id': 'x' * 41})}")


def test_playback_key_pair_operations(plane):
    ivs = video.client("ivs")
    pair = ivs.import_playback_key_pair(publicKeyMaterial=public_pem(KEY), name="site", tags={"app": "test"})["keyPair"]
    assert pair["arn"].startswith("arn:aws:ivs:") and ":playback-key/" in pair["arn"] and pair["fingerprint"]
    assert ivs.get_playback_key_pair(arn=pair["arn"])["keyPair"] == pair
    assert [p["arn"] for p in ivs.list_playback_key_pairs()["keyPairs"]] == [pair["arn"]]
    with pytest.raises(ClientError) as twice:
        ivs.import_playback_key_pair(publicKeyMaterial=public_pem(KEY))
    assert twice.value.response["Error"]["Code"] == "ConflictException"
    p256 = ec.generate_private_key(ec.SECP256R1())
    for material in ("not a key", public_pem(p256)):
        with pytest.raises(ClientError) as bad:
            ivs.import_playback_key_pair(publicKeyMaterial=material)
        assert bad.value.response["Error"]["Code"] == "ValidationException"
    for _ in range(2):
        ivs.import_playback_key_pair(publicKeyMaterial=public_pem(new_key()))
    with pytest.raises(ClientError) as quota:
        ivs.import_playback_key_pair(publicKeyMaterial=public_pem(new_key()))
    assert quota.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
    ivs.delete_playback_key_pair(arn=pair["arn"])
    with pytest.raises(ClientError) as gone:
        ivs.get_playback_key_pair(arn=pair["arn"])
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_viewer_session_revocation_operations(plane):
    ivs = video.client("ivs")
    channel = ivs.create_channel(name="private", authorized=True)["channel"]
    assert channel["authorized"] is True
    ivs.start_viewer_session_revocation(
        channelArn=channel["arn"], viewerId="v1", viewerSessionVersionsLessThanOrEqualTo=5
    )
    ivs.start_viewer_session_revocation(
        channelArn=channel["arn"], viewerId="v1", viewerSessionVersionsLessThanOrEqualTo=2
    )
    from mediaplane.models import ViewerSessionRevocation

    assert ViewerSessionRevocation.objects.get(viewer_id="v1").max_version == 5  # never lowered
    missing = channel["arn"].rsplit("/", 1)[0] + "/doesNotExist"
    with pytest.raises(ClientError) as unknown:
        ivs.start_viewer_session_revocation(channelArn=missing, viewerId="v1")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as too_long:
        unvalidated_client("ivs").start_viewer_session_revocation(channelArn=channel["arn"], viewerId="x" * 41)
    assert too_long.value.response["Error"]["Code"] == "ValidationException"
    batch = ivs.batch_start_viewer_session_revocation(
        viewerSessions=[{"channelArn": channel["arn"], "viewerId": "v2"}, {"channelArn": missing, "viewerId": "v3"}]
    )
    assert [(e["viewerId"], e["code"]) for e in batch["errors"]] == [("v3", "ResourceNotFoundException")]


def test_the_site_makes_a_channel_private_and_issues_tokens(plane):
    owner, fan, stranger = (User.objects.create_user(name) for name in ("streamer", "fan", "stranger"))
    channel = services.create_channel(user=owner, title="Members only")
    services.update_channel(channel=channel, title="Fans only", category=None, playback_access=PlaybackAccess.FOLLOWERS)
    assert video.client("ivs").get_channel(arn=channel.arn)["channel"]["authorized"] is True
    assert "Follow to watch" in access.refusal(channel, stranger)
    follows.follow(user=fan, channel=channel)
    assert access.refusal(channel, fan) is None and access.refusal(channel, owner) is None
    issued, expires = access.playback_token(channel, fan)
    claims = jwt.decode(issued, options={"verify_signature": False})
    assert claims["aws:channel-arn"] == channel.arn and claims["aws:viewer-id"] == str(fan.pk)
    assert claims["aws:access-control-allow-origin"] == access.site_origin()
    assert 0 < claims["exp"] - time.time() <= 600 and int(expires.timestamp()) == claims["exp"]
    # The plane checks it with the key pair the site imported.
    from mediaplane.services.playback import load_snapshot

    state = load_snapshot()
    uri = f"/hls/{channel.arn.rsplit('/', 1)[1]}/index.m3u8?token={issued}"
    check(state, uri, access.site_origin())
    # Unfollowing a followers-only channel revokes what was issued.
    follows.unfollow(user=fan, channel=channel)
    with pytest.raises(Denied, match="revoked"):
        check(load_snapshot(), uri, access.site_origin())
    services.update_channel(channel=channel, title="Open", category=None, playback_access=PlaybackAccess.PUBLIC)
    assert video.client("ivs").get_channel(arn=channel.arn)["channel"]["authorized"] is False


def test_aws_mode_private_channel_calls(settings, tmp_path):
    """Against Amazon IVS: the same calls, pinned to botocore's models."""
    settings.MEDIA_PLANE = "aws"
    settings.PLAYBACK_KEY_FILE = tmp_path / "playback.pem"
    video.client.cache_clear()
    video._playback_signing_key.cache_clear()
    ivs = video.client("ivs")
    arn = "arn:aws:ivs:us-west-2:123456789012:channel/abcdEFGH1234"
    key_arn = "arn:aws:ivs:us-west-2:123456789012:playback-key/k3yK3yK3yK3y"
    with Stubber(ivs) as stub:
        stub.add_response("list_playback_key_pairs", {"keyPairs": []}, {"maxResults": 100})
        stub.add_response(
            "import_playback_key_pair",
            {"keyPair": {"arn": key_arn, "name": "n", "fingerprint": "f"}},
            {"publicKeyMaterial": ANY, "name": ANY},
        )
        stub.add_response(
            "update_channel", {"channel": {"arn": arn, "authorized": True}}, {"arn": arn, "authorized": True}
        )
        video.set_channel_authorized(channel_arn=arn, authorized=True)
        stub.add_response(
            "start_viewer_session_revocation",
            {},
            {"channelArn": arn, "viewerId": "42", "viewerSessionVersionsLessThanOrEqualTo": ANY},
        )
        video.revoke_viewer(channel_arn=arn, viewer_id="42")
        stub.assert_no_pending_responses()
    video.client.cache_clear()
    video._playback_signing_key.cache_clear()


def test_a_private_channels_metadata_socket_needs_its_token(plane):
    from channels.testing import WebsocketCommunicator

    from streamcat.asgi import application

    owner, fan = User.objects.create_user("owner2"), User.objects.create_user("fan2")
    channel = services.create_channel(user=owner, title="Secret")
    services.update_channel(channel=channel, title="Secret", category=None, playback_access=PlaybackAccess.MEMBERS)
    issued, _ = access.playback_token(channel, fan)
    path = f"/_plane/metadata/{channel.arn.rsplit('/', 1)[1]}"
    headers = [(b"origin", access.site_origin().encode()), (b"host", b"127.0.0.1")]

    async def outcome(query: str):
        communicator = WebsocketCommunicator(application, path + query, headers=headers)
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    assert asyncio.run(outcome("")) == (False, 4403)
    assert asyncio.run(outcome("?token=forged"))[1] == 4403
    assert asyncio.run(outcome(f"?token={issued}"))[0] is True


def test_a_private_channels_chat_is_for_its_audience(plane):
    from chat.services import room_for_channel
    from tests.chat_sockets import ChatSocket

    owner, fan, stranger = (User.objects.create_user(name) for name in ("owner3", "fan3", "stranger3"))
    channel = services.create_channel(user=owner, title="Club")
    services.update_channel(channel=channel, title="Club", category=None, playback_access=PlaybackAccess.FOLLOWERS)
    follows.follow(user=fan, channel=channel)
    room = room_for_channel(channel)
    for_fan, for_stranger = ChatSocket(room, fan), ChatSocket(room, stranger)

    async def connect(socket):
        from channels.testing import WebsocketCommunicator

        from streamcat.asgi import application

        communicator = WebsocketCommunicator(application, socket.path, headers=socket.headers)
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    assert asyncio.run(connect(for_stranger)) == (False, 4403)
    assert asyncio.run(connect(for_fan))[0] is True


def _metadata_path(channel) -> str:
    return f"/_plane/metadata/{channel.arn.rsplit('/', 1)[1]}"


async def _put_metadata(channel, text: str) -> None:
    """What the plane's PutMetadata sends to the channel's players once it accepts it."""
    from channels.layers import get_channel_layer

    from mediaplane.models import IvsChannel
    from mediaplane.services import metadata

    ivs_channel = await asyncio.to_thread(IvsChannel.objects.get, arn=channel.arn)
    event = {"type": "metadata", "metadata": text, "at": round(time.time() * 1000)}
    await get_channel_layer().group_send(metadata.group(ivs_channel), {"type": "plane.metadata", "event": event})


async def _metadata_socket(channel, issued: str):
    from channels.testing import WebsocketCommunicator

    from streamcat.asgi import application

    headers = [(b"origin", access.site_origin().encode()), (b"host", b"127.0.0.1")]
    communicator = WebsocketCommunicator(application, f"{_metadata_path(channel)}?token={issued}", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


def test_unfollowing_closes_a_private_channels_metadata_socket(plane):
    """The attack: a follower keeps the metadata socket of a followers-only channel open
    after unfollowing (which revokes their viewer session). The socket must stop
    delivering: the next event after the revocation reaches the plane closes it (4403)."""
    owner, fan = User.objects.create_user("owner4"), User.objects.create_user("fan4")
    channel = services.create_channel(user=owner, title="Fans")
    services.update_channel(channel=channel, title="Fans", category=None, playback_access=PlaybackAccess.FOLLOWERS)
    follows.follow(user=fan, channel=channel)
    issued, _ = access.playback_token(channel, fan)

    async def scenario():
        socket = await _metadata_socket(channel, issued)
        await _put_metadata(channel, "before")
        before = (await socket.receive_json_from(timeout=5))["metadata"]
        await asyncio.to_thread(follows.unfollow, user=fan, channel=channel)
        revoked_at = time.monotonic()
        after = []
        while True:  # the streamer keeps sending; the socket re-checks before each one
            await _put_metadata(channel, f"after {len(after)}")
            output = await socket.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                break
            after.append(output)
            assert time.monotonic() - revoked_at < 10, "still delivering 10 s after the revocation"
            await asyncio.sleep(0.2)
        await socket.disconnect()
        return before, output.get("code"), time.monotonic() - revoked_at

    before, code, took = asyncio.run(scenario())
    assert (before, code) == ("before", 4403)
    assert took < 5  # the shared snapshot is at most a couple of seconds old


def test_an_expired_playback_token_stops_the_metadata_socket(plane, settings):
    owner, fan = User.objects.create_user("owner5"), User.objects.create_user("fan5")
    channel = services.create_channel(user=owner, title="Members")
    services.update_channel(channel=channel, title="Members", category=None, playback_access=PlaybackAccess.MEMBERS)
    settings.PLAYBACK_TOKEN_SECONDS = 2
    issued, expires = access.playback_token(channel, fan)

    async def scenario():
        socket = await _metadata_socket(channel, issued)
        await _put_metadata(channel, "in time")
        delivered = (await socket.receive_json_from(timeout=5))["metadata"]
        await asyncio.sleep(max(0.0, expires.timestamp() - time.time()) + 0.1)  # the token's own clock
        await _put_metadata(channel, "too late")
        output = await socket.receive_output(timeout=5)
        await socket.disconnect()
        return delivered, output

    delivered, output = asyncio.run(scenario())
    assert delivered == "in time"
    assert output == {"type": "websocket.close", "code": 4403}  # closed without "too late"


def test_metadata_sockets_share_one_snapshot(plane, monkeypatch):
    """Connecting does not reload the plane's state nor verify the token's signature
    each time: sockets opened together share one snapshot."""
    from mediaplane import consumers
    from mediaplane.services.playback import load_snapshot

    owner, fan = User.objects.create_user("owner6"), User.objects.create_user("fan6")
    channel = services.create_channel(user=owner, title="Many")
    services.update_channel(channel=channel, title="Many", category=None, playback_access=PlaybackAccess.MEMBERS)
    issued, _ = access.playback_token(channel, fan)
    loads = []
    monkeypatch.setattr(consumers, "load_snapshot", lambda: loads.append(1) or load_snapshot())
    monkeypatch.setattr(consumers, "playback_snapshots", consumers.PlaybackSnapshots(ttl=60))

    async def scenario():
        sockets = [await _metadata_socket(channel, issued) for _ in range(5)]
        await _put_metadata(channel, "to all")
        received = [(await s.receive_json_from(timeout=5))["metadata"] for s in sockets]
        for s in sockets:
            await s.disconnect()
        return received

    assert asyncio.run(scenario()) == ["to all"] * 5
    assert len(loads) == 1
