"""RTMPS ingest and insecureIngest, as on IVS: every channel takes RTMPS at its ingest
endpoint; plain RTMP only where the channel allows insecure ingest. ffmpeg publishes to
the real nginx (TLS in its stream module, nginx-rtmp behind it). The good, wrong and
deleted key cases over RTMPS are tests/test_ingest.py's: its Publisher uses RTMPS."""

import os
import socket
import ssl
import stat

import pytest
from cryptography import x509
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from channels_app import services
from core import video
from mediaplane.models import IvsStreamSession
from streamcat import tls
from tests.conftest import SCREENSHOTS, wait_for

# Media and browser behaviour: the database engine changes nothing here, so it runs
# on SQLite only (scripts/test.sh), to keep the suite's time down.
pytestmark = pytest.mark.engine_independent


@pytest.fixture
def ivs(plane):
    return video.client("ivs")


def plain_url(key: str) -> str:
    return f"rtmp://127.0.0.1:{settings.RTMP_PORT}/app/{key}"


def live(ivs, arn: str) -> dict | None:
    try:
        return ivs.get_stream(channelArn=arn)["stream"]
    except ivs.exceptions.ChannelNotBroadcasting:
        return None


def has_segments(playback_url: str) -> bool:
    """At least two segments in the channel's playlist, read from disk (a fetch through
    nginx would count as a viewer)."""
    folder = settings.HLS_DIR / playback_url.rsplit("/", 2)[-2]
    return len(list(folder.glob("*.ts"))) >= 2


def subject_names(certificate: x509.Certificate) -> list[str]:
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] + names.get_values_for_type(x509.DNSName)


def test_a_new_channel_takes_rtmps_and_refuses_plain_rtmp(ivs, publisher):
    created = ivs.create_channel(name="secure")
    channel, key = created["channel"], created["streamKey"]["value"]
    assert channel["insecureIngest"] is False
    assert channel["ingestEndpoint"] == settings.PUBLIC_HOST  # the host only, as on IVS

    assert publisher(url=plain_url(key), seconds=20).was_refused()
    assert not IvsStreamSession.objects.exists()

    publisher(key)  # RTMPS
    stream = wait_for(lambda: live(ivs, channel["arn"]), message="the RTMPS stream to be live")
    assert stream["state"] == "LIVE"
    wait_for(lambda: has_segments(channel["playbackUrl"]), timeout=30, message="HLS segments")
    assert IvsStreamSession.objects.filter(stream_id=stream["streamId"], end_time__isnull=True).exists()


def test_a_publisher_cannot_claim_to_be_secure(ivs, publisher):
    """The secure marker is on nginx's callback URL; a plain publisher's own arguments
    (?secure=1 after the key) reach the plane in the body and change nothing."""
    created = ivs.create_channel(name="spoof")
    key = created["streamKey"]["value"]
    assert publisher(url=plain_url(key) + "?secure=1", seconds=20).was_refused()
    assert not IvsStreamSession.objects.exists()


def test_insecure_ingest_lets_plain_rtmp_in_until_it_is_turned_off(ivs, publisher):
    created = ivs.create_channel(name="legacy-encoder", insecureIngest=True)
    arn, key = created["channel"]["arn"], created["streamKey"]["value"]
    assert ivs.get_channel(arn=arn)["channel"]["insecureIngest"] is True

    plain = publisher(url=plain_url(key))
    wait_for(lambda: live(ivs, arn), message="the plain RTMP stream to be live")
    wait_for(lambda: has_segments(created["channel"]["playbackUrl"]), timeout=30, message="HLS segments")
    plain.stop()
    wait_for(lambda: live(ivs, arn) is None, message="the stream to end")

    updated = ivs.update_channel(arn=arn, insecureIngest=False)["channel"]
    assert updated["insecureIngest"] is False
    assert publisher(url=plain_url(key), seconds=20).was_refused()
    publisher(key)  # RTMPS still goes live
    wait_for(lambda: live(ivs, arn), message="the RTMPS stream to be live")


def test_the_rtmps_port_presents_the_generated_certificate(plane):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # self-signed
    raw = socket.create_connection(("127.0.0.1", settings.RTMPS_PORT), timeout=10)
    with context.wrap_socket(raw, server_hostname=settings.PUBLIC_HOST) as secured:
        presented = x509.load_der_x509_certificate(secured.getpeercert(binary_form=True))
    assert settings.PUBLIC_HOST in subject_names(presented)
    key_file = settings.VAR_DIR / "tls" / "site.pem"  # the key and its chain
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # The RTMP server behind TLS, where every publish counts as secure, is loopback only.
    config = (settings.VAR_DIR / "nginx" / "nginx.conf").read_text()
    assert f"listen 127.0.0.1:{settings.RTMP_INTERNAL_PORT};" in config


def test_the_certificate_is_made_once_per_host_and_a_configured_one_wins(tmp_path):
    def certificate(var_dir, host, cert="", key=""):
        return tls.site_certificate(var_dir=var_dir, host=host, mode="off", cert=cert, key=key)

    cert, key = certificate(tmp_path, "stream.example.org")
    first = cert.read_bytes()
    assert certificate(tmp_path, "stream.example.org") == (cert, key)
    assert cert.read_bytes() == first  # reused
    certificate(tmp_path, "10.0.0.7")
    assert "10.0.0.7" in subject_names(x509.load_pem_x509_certificate(cert.read_bytes()))

    own = tmp_path / "own.crt", tmp_path / "own.key"
    own[0].write_bytes(first)
    own[1].write_bytes(first)
    assert certificate(tmp_path, "x", str(own[0]), str(own[1])) == own
    with pytest.raises(ImproperlyConfigured):
        certificate(tmp_path, "x", str(own[0]), str(tmp_path / "missing.key"))
    with pytest.raises(ImproperlyConfigured):
        certificate(tmp_path, "x", str(own[0]))


@pytest.fixture
def streamer_channel(plane):
    user = User.objects.create_user("rtmps_streamer", password="a-very-good-password-1")
    return services.create_channel(user=user, title="Secure stream")


def test_the_dashboard_shows_rtmps_first_and_plain_rtmp_only_when_allowed(streamer_channel, client):
    client.force_login(streamer_channel.owner)
    rtmps = f"rtmps://{settings.PUBLIC_HOST}:{settings.RTMPS_PORT}/app/"
    rtmp = f"rtmp://{settings.PUBLIC_HOST}:{settings.RTMP_PORT}/app/"

    page = client.get(reverse("dashboard")).content.decode()
    assert rtmps in page and rtmp not in page
    assert 'data-testid="rtmps-only-note"' in page

    response = client.post(reverse("insecure_ingest_toggle"), {"allowed": "on"})
    assert response.status_code == 302
    assert video.get_channel(channel_arn=streamer_channel.arn)["insecureIngest"] is True
    page = client.get(reverse("dashboard")).content.decode()
    assert rtmps in page and rtmp in page and page.index(rtmps) < page.index(rtmp)

    client.post(reverse("insecure_ingest_toggle"), {})  # the box unticked
    assert video.get_channel(channel_arn=streamer_channel.arn)["insecureIngest"] is False
    assert rtmp not in client.get(reverse("dashboard")).content.decode()


def test_only_the_owner_changes_insecure_ingest(streamer_channel, client):
    other = User.objects.create_user("someone_else", password="a-very-good-password-1")
    client.force_login(other)
    assert client.post(reverse("insecure_ingest_toggle"), {"allowed": "on"}).status_code == 404
    assert client.get(reverse("insecure_ingest_toggle")).status_code == 405
    assert video.get_channel(channel_arn=streamer_channel.arn)["insecureIngest"] is False


def test_the_dashboard_gives_its_owner_the_srt_url_on_demand(streamer_channel, client):
    key = services.stream_key_value(channel=streamer_channel)
    client.force_login(streamer_channel.owner)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'id="copy-srt"' in page and key not in page  # masked until asked for
    answer = client.get(reverse("srt_url"))
    passphrase = video.get_channel(channel_arn=streamer_channel.arn)["srt"]["passphrase"]
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    assert answer.content.decode() == (
        f"srt://{settings.PUBLIC_HOST}:{settings.SRT_PORT}?streamid={key}&passphrase={passphrase}"
    )
    # Nobody else gets it: another user has no channel, a visitor is sent to log in.
    client.force_login(User.objects.create_user("not_the_owner", password="a-very-good-password-1"))
    assert client.get(reverse("srt_url")).status_code == 404
    client.logout()
    assert client.get(reverse("srt_url")).status_code == 302


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1280])
def test_dashboard_ingest_settings_in_the_browser(streamer_channel, login, width):
    page = login(streamer_channel.owner.username)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/dashboard/")
    server = page.locator("#ingest-server")
    assert server.input_value() == f"rtmps://{settings.PUBLIC_HOST}:{settings.RTMPS_PORT}/app/"
    assert page.locator("#ingest-server-plain").count() == 0
    page.get_by_test_id("allow-plain-rtmp").check()  # submits the form by itself
    page.wait_for_selector("#ingest-server-plain")
    assert page.locator("#ingest-server-plain").input_value().startswith("rtmp://")
    page.locator("#ingest-server").scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / f"dashboard-ingest-{width}.png", full_page=True)
