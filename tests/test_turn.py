"""TURN relays (coturn, started with the stack): browsers that may use nothing but a
relay still publish to and watch a stage; credentials are minted per participant, expire,
and nothing is relayed without them."""

import asyncio
import base64
import concurrent.futures
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.test import override_settings
from playwright.sync_api import expect

from core import turn
from mediaplane.drivers import coturn
from stages import services
from stages.models import Visibility
from tests.conftest import held_down, wait_for
from tests.turn_client import allocate
from tests.webrtc_clients import http, whip_publish

# Relays and credentials: the database engine changes nothing (run on SQLite only).
pytestmark = pytest.mark.engine_independent

# What a browser behind a firewall that lets no UDP through to Janus can do: only relay
# candidates (a test stand-in; the site never asks for this itself).
RELAY_ONLY = """(() => {
  const Native = window.RTCPeerConnection;
  window.peerConnections = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config = {}, ...rest) {
      super({ ...config, iceTransportPolicy: "relay" }, ...rest);
      window.peerConnections.push(this);
    }
  };
})();"""
# For each connected peer connection: the type of the local candidate of its selected
# pair, frames decoded and sent, and whether Janus offered a relay candidate of its own.
MEDIA_PATHS = """async () => {
  const paths = [];
  for (const pc of window.peerConnections || []) {
    if (pc.connectionState !== "connected") continue;
    const byId = new Map();
    (await pc.getStats()).forEach((report) => byId.set(report.id, report));
    const reports = [...byId.values()];
    const transport = reports.find((r) => r.type === "transport" && r.selectedCandidatePairId);
    const pair = transport && byId.get(transport.selectedCandidatePairId);
    const local = pair && byId.get(pair.localCandidateId);
    const video = (type) => reports.filter((r) => r.type === type && r.kind === "video");
    paths.push({
      local: local ? local.candidateType : null,
      decoded: video("inbound-rtp").reduce((sum, r) => sum + (r.framesDecoded || 0), 0),
      sent: video("outbound-rtp").reduce((sum, r) => sum + (r.framesEncoded || 0), 0),
      janusRelay: (pc.remoteDescription?.sdp || "").includes("typ relay"),
    });
  }
  return paths;
}"""


def test_relays_open_on_the_public_addresses_never_on_loopback_beside_them():
    with override_settings(TURN_LISTEN="127.0.0.1,192.0.2.10"):
        assert coturn.listening_ips() == ["127.0.0.1", "192.0.2.10"]
        assert coturn.relay_ips() == ["192.0.2.10"]
        config = coturn.render_config(var_dir=settings.VAR_DIR, tls_cert="c.pem", tls_key="c.pem")
        assert "relay-ip=192.0.2.10\n" in config and "relay-ip=127.0.0.1" not in config
    with override_settings(TURN_LISTEN="127.0.0.1"):
        assert coturn.relay_ips() == ["127.0.0.1"]  # a machine that serves only itself


def _credentials(ttl: int = 600, label: str = "test") -> turn.TurnCredentials:
    return turn.credentials(secret=settings.TURN_SECRET, label=label, ttl=ttl)


# --- Minting (no stack needed)


def test_credentials_name_their_expiry_and_label_and_sign_the_username():
    issued = turn.credentials(secret="s3cret", label="participant-1", ttl=3600, now=1_800_000_000.7)
    assert issued.username == "1800003600:participant-1"
    assert issued.expires_at == 1_800_003_600
    expected = hmac.new(b"s3cret", b"1800003600:participant-1", hashlib.sha1).digest()
    assert base64.b64decode(issued.password) == expected


def test_a_colon_in_the_label_cannot_move_the_expiry():
    issued = turn.credentials(secret="s", label="a:99999999999", ttl=60, now=100)
    assert issued.username == "160:a-99999999999"
    assert issued.username.split(":")[0] == "160"


def test_another_secret_gives_another_password():
    one = turn.credentials(secret="one", label="x", ttl=60, now=0)
    other = turn.credentials(secret="other", label="x", ttl=60, now=0)
    assert one.username == other.username and one.password != other.password


def test_ice_servers_offer_udp_tcp_and_tls():
    servers = turn.ice_servers(secret="s", label="p", ttl=60, host="turn.example.org", port=3478, tls_port=5349)
    assert servers[0]["urls"] == [
        "turn:turn.example.org:3478?transport=udp",
        "turn:turn.example.org:3478?transport=tcp",
        "turns:turn.example.org:5349?transport=tcp",
    ]
    assert servers[0]["username"].endswith(":p") and servers[0]["credential"]
    assert turn.uris(host="2001:db8::1", port=3478, tls_port=5349)[0] == "turn:[2001:db8::1]:3478?transport=udp"


# --- coturn itself


@pytest.mark.parametrize(("transport", "port"), [("udp", "TURN_PORT"), ("tcp", "TURN_PORT"), ("tls", "TURNS_PORT")])
def test_valid_credentials_get_a_relay_over_udp_tcp_and_tls(plane, transport, port):
    issued = _credentials()
    answer = allocate(
        settings.TURN_HOST,
        getattr(settings, port),
        username=issued.username,
        password=issued.password,
        transport=transport,
    )
    assert answer.status == 200, answer
    low, high = (int(p) for p in settings.TURN_RELAY_PORTS.split("-"))
    assert answer.relayed is not None and low <= answer.relayed[1] <= high


def test_expired_credentials_get_no_relay(plane):
    expired = _credentials(ttl=-5)
    answer = allocate(settings.TURN_HOST, settings.TURN_PORT, username=expired.username, password=expired.password)
    assert answer.status == 401 and answer.relayed is None


@pytest.mark.parametrize("wrong", ["no credentials", "wrong password", "another secret"])
def test_a_client_without_valid_credentials_gets_no_relay(plane, wrong):
    issued = _credentials()
    username, password = {
        "no credentials": (None, None),
        "wrong password": (issued.username, "guessed"),
        "another secret": (issued.username, turn.credentials(secret="not-ours", label="test", ttl=600).password),
    }[wrong]
    answer = allocate(settings.TURN_HOST, settings.TURN_PORT, username=username, password=password)
    assert answer.status == 401 and answer.relayed is None


def test_the_health_endpoint_sees_turn(plane):
    with urllib.request.urlopen(f"{settings.PUBLIC_URL}/health", timeout=10) as response:
        assert json.load(response)["parts"]["turn"] == "up"


# --- Who gets credentials


def test_stage_tokens_carry_working_turn_credentials_for_those_let_in(plane):
    host = User.objects.create_user("turnhost", password="pw-turnhost-1")
    stage = services.create_stage(user=host, title="Relayed")
    issued = services.token_for(stage=stage, user=AnonymousUser(), session_key="anonymous-session")
    (server,) = issued["iceServers"]
    assert server["username"].endswith(":" + issued["participantId"])
    expiry = int(server["username"].split(":")[0])
    assert 0 < expiry - time.time() <= settings.TURN_CREDENTIAL_TTL
    username, password = server["username"], server["credential"]
    answer = allocate(settings.TURN_HOST, settings.TURN_PORT, username=username, password=password)
    assert answer.status == 200, answer

    services.set_access(stage=stage, host=host, visibility=Visibility.INVITED, invited=[])
    with pytest.raises(services.StageError):
        services.token_for(stage=stage, user=AnonymousUser(), session_key="anonymous-session")


def test_janus_gets_credentials_from_the_plane_and_no_one_else_does(plane):
    url = f"http://127.0.0.1:{settings.APP_PORT}/_plane/janus/turn"

    def post(key: str):
        request = urllib.request.Request(f"{url}?service=turn&key={key}&username=janus", data=b"service=turn")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, None

    status, body = post(settings.MEDIA_CALLBACK_SECRET)
    assert status == 200
    assert body["uris"] == [f"turn:{settings.TURN_HOST}:{settings.TURN_PORT}?transport=udp"]
    answer = allocate(settings.TURN_HOST, settings.TURN_PORT, username=body["username"], password=body["password"])
    assert answer.status == 200, answer
    assert post("guessed")[0] == 403
    # Never through nginx, whatever the key.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(
            urllib.request.Request(
                f"{settings.PUBLIC_URL}/_plane/janus/turn?key={settings.MEDIA_CALLBACK_SECRET}", data=b""
            ),
            timeout=10,
        )
    assert refused.value.code == 404


# --- Browsers that may only relay


@pytest.mark.browser
def test_relay_only_browsers_publish_and_watch_a_stage(login):
    host_page = login("relayhost")
    stage = services.create_stage(user=User.objects.get(username="relayhost"), title="Behind a firewall")
    host_page.context.add_init_script(RELAY_ONLY)
    host_page.goto(stage.get_absolute_url())
    host_page.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
    host_page.get_by_test_id("join").click()
    expect(host_page.get_by_test_id("stage-state")).to_have_text("ON STAGE", timeout=30_000)

    viewer = login("relayviewer")
    viewer.context.add_init_script(RELAY_ONLY)
    viewer.goto(f"{stage.get_absolute_url()}?view=viewer")
    tile = viewer.get_by_test_id("stage-grid").locator(".tile").first
    tile.wait_for(timeout=30_000)
    viewer.wait_for_function(
        "(figure) => { const v = figure.querySelector('video'); return v && v.videoWidth > 0 && v.currentTime > 1; }",
        arg=tile.element_handle(),
        timeout=45_000,
    )

    def relayed(page, counter: str):
        paths = page.evaluate(MEDIA_PATHS)
        return [p for p in paths if p["local"] == "relay" and p[counter] > 0] and paths

    published = wait_for(lambda: relayed(host_page, "sent"), timeout=30, message="the host's media through a relay")
    watched = wait_for(lambda: relayed(viewer, "decoded"), timeout=30, message="the viewer's media through a relay")
    # Only relay candidates were allowed, so every connected path is a relay.
    assert all(p["local"] == "relay" for p in published + watched), (published, watched)
    # Janus asked the plane for credentials and offers a relay candidate of its own.
    assert any(p["janusRelay"] for p in watched), watched


def test_with_coturn_down_janus_goes_on_without_a_relay(plane):
    """The plane tells Janus there is no TURN while coturn is down (503), so Janus does
    not wait on a dead relay, and stages keep publishing."""
    url = f"http://127.0.0.1:{settings.APP_PORT}/_plane/janus/turn?key={settings.MEDIA_CALLBACK_SECRET}"
    host = User.objects.create_user("turnless", password="pw-turnless-1")
    stage = services.create_stage(user=host, title="No relay today")
    with held_down(plane, "turn"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=b""), timeout=10)
        assert refused.value.code == 503
        issued = services.token_for(stage=stage, user=host, session_key="turnless-session")

        async def publish():
            peer, result = await whip_publish(issued["token"])
            assert result.status == 201, result
            await peer.close()
            http("DELETE", peer.location, token=issued["token"])

        # In a thread of its own: Playwright's sync API keeps an event loop in this one.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, publish()).result(timeout=60)
    with urllib.request.urlopen(urllib.request.Request(url, data=b""), timeout=10) as response:
        assert response.status == 200  # back with coturn
