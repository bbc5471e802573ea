"""HTTPS for the open internet, tested end to end.

A whole StreamCat runs in its own processes with `STREAMCAT_PUBLIC_HOST=stream.test
STREAMCAT_TLS=acme`, started with the README's `manage.py runstack`. Its ACME CA is
Pebble (Let's Encrypt's test CA, a Debian package) with a DNS server that sends
stream.test to this machine: certbot gets a real certificate through nginx's HTTP
challenge, renews it, and nginx serves it on HTTPS and RTMPS. Chromium trusts the CA's
root (imported into its certificate store, as browsers carry Let's Encrypt's), opens
https://stream.test (a non-loopback address inside scripts/test.sh's network
namespace), and a streamer goes live from the studio while a viewer watches and chats.
The same studio over plain HTTP says why the camera cannot be used.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import urllib3
from cryptography import x509
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from playwright.sync_api import expect, sync_playwright

from core import processes
from streamcat import certificates, tls
from streamcat.stack import Stack
from tests.conftest import CHROMIUM_ARGS, SCREENSHOTS, wait_for

# The site under test keeps its own SQLite database: the engine of the suite changes nothing.
pytestmark = [pytest.mark.browser, pytest.mark.engine_independent]

HOST = "stream.test"
PASSWORD = "a-very-good-password-1"
BASE = int(os.environ.get("STREAMCAT_TEST_TLS_PORT_BASE", "27000"))
PORTS = {
    "STREAMCAT_HTTP_PORT": BASE + 80,
    "STREAMCAT_HTTPS_PORT": BASE + 443,
    "STREAMCAT_APP_PORT": BASE + 1,
    "STREAMCAT_NGINX_CONTROL_PORT": BASE + 2,
    "STREAMCAT_JANUS_API_PORT": BASE + 3,
    "STREAMCAT_JANUS_ADMIN_PORT": BASE + 4,
    "STREAMCAT_PLAYBACK_AUTH_PORT": BASE + 5,
    "STREAMCAT_RTMP_PORT": BASE + 935,
    "STREAMCAT_RTMPS_PORT": BASE + 936,
    "STREAMCAT_RTMP_INTERNAL_PORT": BASE + 937,
    "STREAMCAT_REDIS_PORT": BASE + 391,
    "STREAMCAT_SRT_PORT": BASE + 900,
}
PEBBLE_PORT, PEBBLE_MANAGEMENT_PORT, DNS_PORT, DNS_MANAGEMENT_PORT = BASE + 14, BASE + 15, BASE + 53, BASE + 55
# The address stream.test stands for: the namespace's own interface when there is one.
ADDRESS = os.environ.get("STREAMCAT_TEST_ICE_ADDRESS", "127.0.0.1")


# --- The certificate files (no processes) ---------------------------------------------


def test_the_local_ca_issues_one_file_for_the_host_and_loopback(tmp_path):
    cert, key = tls.site_certificate(var_dir=tmp_path, host=HOST, mode="self-signed", cert="", key="")
    assert cert == key == tmp_path / "tls" / "site.pem"
    assert oct(cert.stat().st_mode & 0o777) == "0o600"
    leaf = tls.read_chain(cert)[0]
    assert set(tls.subject_names(leaf)) == {HOST, "localhost", "127.0.0.1", "::1"}
    ca = x509.load_pem_x509_certificate((tmp_path / "tls" / "ca.crt").read_bytes())
    leaf.verify_directly_issued_by(ca)
    # The CA signs for this host and loopback only: a device that imports it trusts nothing more.
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical and x509.DNSName(HOST) in constraints.value.permitted_subtrees
    # Python's own verifier accepts it for the host with the CA as the only root.
    context = ssl.create_default_context(cafile=tmp_path / "tls" / "ca.crt")
    context.load_cert_chain(cert)  # the key and chain in one file load together

    first = cert.read_bytes()
    tls.site_certificate(var_dir=tmp_path, host=HOST, mode="self-signed", cert="", key="")
    assert cert.read_bytes() == first  # kept while good
    tls.site_certificate(var_dir=tmp_path, host="10.0.0.7", mode="self-signed", cert="", key="")
    assert "10.0.0.7" in tls.subject_names(tls.read_chain(cert)[0])  # another host: issued again
    renamed = x509.load_pem_x509_certificate((tmp_path / "tls" / "ca.crt").read_bytes())
    assert renamed.subject != ca.subject  # by a CA constrained to the new host
    (tmp_path / "tls" / "ca.key").unlink()  # a lost CA key: a new CA, and a leaf it signed
    tls.site_certificate(var_dir=tmp_path, host="10.0.0.7", mode="self-signed", cert="", key="")
    new_ca = x509.load_pem_x509_certificate((tmp_path / "tls" / "ca.crt").read_bytes())
    assert new_ca.subject != renamed.subject
    tls.read_chain(cert)[0].verify_directly_issued_by(new_ca)


def test_acme_mode_needs_a_dns_name_and_its_own_certificate(tmp_path):
    for host in ("127.0.0.1", "localhost", "2001:db8::1"):
        with pytest.raises(ImproperlyConfigured, match="DNS name"):
            tls.site_certificate(var_dir=tmp_path, host=host, mode="acme", cert="", key="")
    own = tls.site_certificate(var_dir=tmp_path / "own", host="x", mode="self-signed", cert="", key="")
    with pytest.raises(ImproperlyConfigured, match="acme"):
        tls.site_certificate(var_dir=tmp_path, host=HOST, mode="acme", cert=str(own[0]), key=str(own[1]))
    # Until certbot has one, a placeholder lets nginx start and answer the challenge.
    placeholder, _ = tls.site_certificate(var_dir=tmp_path, host=HOST, mode="acme", cert="", key="")
    assert HOST in tls.subject_names(tls.read_chain(placeholder)[0])


def test_self_signed_mode_serves_the_local_ca_certificate_and_hands_out_the_ca(tmp_path):
    """nginx alone, configured for a LAN: HTTPS and RTMPS verify against the local CA,
    which plain HTTP hands out for devices to import; everything else moves to HTTPS."""
    ports = {"HTTP_PORT": BASE + 180, "HTTPS_PORT": BASE + 543, "NGINX_CONTROL_PORT": BASE + 102}
    ports |= {"RTMP_PORT": BASE + 195, "RTMPS_PORT": BASE + 196, "RTMP_INTERNAL_PORT": BASE + 197}
    lan_url = f"https://lan.test:{ports['HTTPS_PORT']}"
    listen = "0.0.0.0" if ADDRESS != "127.0.0.1" else "127.0.0.1"  # noqa: S104 - inside the test namespace
    with override_settings(
        TLS="self-signed", PUBLIC_HOST="lan.test", PUBLIC_URL=lan_url, LISTEN_ADDRESS=listen, **ports
    ):
        stack = Stack(var_dir=tmp_path, label="self-signed")
        stack.start(parts=("nginx",))
        try:
            ca = tmp_path / "tls" / "ca.crt"
            context = ssl.create_default_context(cafile=ca)
            for port in (ports["HTTPS_PORT"], ports["RTMPS_PORT"]):
                with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                    context.wrap_socket(raw, server_hostname="lan.test").close()  # verified
            # From outside (ADDRESS, when the test namespace has one); loopback is served.
            http = urllib3.HTTPConnectionPool(ADDRESS, ports["HTTP_PORT"], retries=False, timeout=10)
            handed_out = http.request("GET", "/streamcat-ca.crt", headers={"Host": "lan.test"})
            assert handed_out.status == 200 and handed_out.data == ca.read_bytes()
            assert handed_out.headers["Content-Type"] == "application/x-x509-ca-cert"
            moved = http.request("GET", "/c/x/", headers={"Host": "lan.test"}, redirect=False)
            assert (moved.status, moved.headers["Location"]) == (301, f"{lan_url}/c/x/")
            if ADDRESS != "127.0.0.1":
                # From another address, claiming to be loopback gets the redirect all the same.
                remote = urllib3.HTTPConnectionPool(ADDRESS, ports["HTTP_PORT"], retries=False, timeout=10)
                claimed = remote.request("GET", "/c/x/", headers={"Host": "localhost"}, redirect=False)
                assert claimed.status == 301
        finally:
            stack.stop()


# --- A whole site with TLS=acme -----------------------------------------------------------


def _wait_listening(port: int, process: subprocess.Popen, what: str, timeout: float = 30) -> None:
    def up():
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(up, timeout=timeout, message=f"{what} to listen on {port}")


@pytest.fixture(scope="module")
def acme_ca(tmp_path_factory):
    """Pebble on loopback, with pebble-challtestsrv answering every name with ADDRESS."""
    folder = tmp_path_factory.mktemp("pebble")
    # Pebble's own HTTPS listener needs a certificate certbot trusts: one from a local CA.
    listener, _ = tls.site_certificate(var_dir=folder, host="127.0.0.1", mode="self-signed", cert="", key="")
    config = folder / "pebble.json"
    config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"127.0.0.1:{PEBBLE_PORT}",
                    "managementListenAddress": f"127.0.0.1:{PEBBLE_MANAGEMENT_PORT}",
                    "certificate": str(listener),
                    "privateKey": str(listener),
                    "httpPort": PORTS["STREAMCAT_HTTP_PORT"],
                    "tlsPort": PORTS["STREAMCAT_HTTPS_PORT"],
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            }
        )
    )
    logs = open(folder / "pebble.log", "wb")  # noqa: SIM115 - closed below
    dns = subprocess.Popen(
        [
            "pebble-challtestsrv",
            f"-defaultIPv4={ADDRESS}",
            "-defaultIPv6=",
            f"-dns01=127.0.0.1:{DNS_PORT}",
            "-http01=",
            "-https01=",
            "-tlsalpn01=",
            f"-management=127.0.0.1:{DNS_MANAGEMENT_PORT}",
        ],
        stdout=logs,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # No waiting between validation attempts, and no nonces refused at random (certbot
    # would retry them, but the test would be slower and less repeatable).
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    pebble = subprocess.Popen(
        ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{DNS_PORT}"],
        stdout=logs,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_listening(PEBBLE_PORT, pebble, "pebble")
        _wait_listening(DNS_MANAGEMENT_PORT, dns, "pebble-challtestsrv")
        yield {"directory": f"https://127.0.0.1:{PEBBLE_PORT}/dir", "trust": folder / "tls" / "ca.crt"}
    finally:
        processes.stop(pebble, 10, group=True)
        processes.stop(dns, 10, group=True)
        logs.close()


def pebble_root(acme_ca) -> bytes:
    """The root of the chains Pebble issues (it makes a new one at every start)."""
    context = ssl.create_default_context(cafile=acme_ca["trust"])
    with urllib.request.urlopen(
        f"https://127.0.0.1:{PEBBLE_MANAGEMENT_PORT}/roots/0", context=context, timeout=10
    ) as response:
        return response.read()


@pytest.fixture(scope="module")
def site(acme_ca, tmp_path_factory):
    """The README's run command with HTTPS on: migrate, then `manage.py runstack`."""
    var_dir = tmp_path_factory.mktemp("tls-site")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("STREAMCAT_") or key.startswith("STREAMCAT_TEST_") or "ICE" in key
    }
    env.update({key: str(port) for key, port in PORTS.items()})
    env.update(
        {
            "STREAMCAT_VAR_DIR": str(var_dir),
            "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
            "STREAMCAT_PUBLIC_HOST": HOST,
            "STREAMCAT_TLS": "acme",
            "STREAMCAT_ACME_SERVER": acme_ca["directory"],
            "STREAMCAT_ACME_RENEW_INTERVAL": "2",
            # certbot talks to Pebble over HTTPS with Pebble's listener certificate.
            "REQUESTS_CA_BUNDLE": str(acme_ca["trust"]),
            # Everything the main test stack uses is taken: ports of its own.
            "STREAMCAT_JANUS_RTP_PORTS": "47000-47499",
            "STREAMCAT_COMPOSITOR_RTP_PORTS": "47500-47999",
            "STREAMCAT_TURN": "0",
            "STREAMCAT_TRANSCODE_CPU_BUDGET": "0",
            "STREAMCAT_MEDIA_PLANE": "local",
            "STREAMCAT_STREAM_SYNC_INTERVAL": "1",
            "STREAMCAT_COMPOSITION_WATCH_INTERVAL": "1",
        }
    )
    # Inside the namespace stream.test is its interface's address: listen there too.
    env["STREAMCAT_LISTEN"] = "0.0.0.0" if ADDRESS != "127.0.0.1" else "127.0.0.1"  # noqa: S104

    def manage(*args: str, **kwargs):
        return subprocess.run(
            [sys.executable, "manage.py", *args], env=env, cwd=settings.BASE_DIR, check=True, timeout=300, **kwargs
        )

    manage("migrate", "--noinput", "-v", "0")
    manage("collectstatic", "--noinput", "-v", "0")
    log = open(var_dir / "runstack.log", "wb")  # noqa: SIM115 - closed below
    runstack = subprocess.Popen(
        [sys.executable, "manage.py", "runstack"],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_listening(PORTS["STREAMCAT_HTTPS_PORT"], runstack, "runstack", timeout=120)
        yield {"var_dir": var_dir, "env": env, "manage": manage, "process": runstack}
    finally:
        processes.stop(runstack, 90, group=True)
        log.close()


def issuer_of_served_certificate(port: int) -> tuple[x509.Certificate, bytes]:
    """The certificate the server presents for stream.test (not verified here)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection((ADDRESS, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as secured,
    ):
        der = secured.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der), der


@pytest.fixture(scope="module")
def issued(site, acme_ca):
    """Waits until certbot's certificate (not the placeholder) is what nginx serves."""
    root = pebble_root(acme_ca)

    def from_pebble():
        served, _ = issuer_of_served_certificate(PORTS["STREAMCAT_HTTPS_PORT"])
        return "Pebble" in served.issuer.rfc4514_string()

    wait_for(from_pebble, timeout=120, interval=1, message="certbot's certificate to be served")
    trust = site["var_dir"] / "pebble-root.pem"
    trust.write_bytes(root)
    return trust


def https(path: str, trust: Path, *, port: int | None = None, **kwargs) -> urllib3.BaseHTTPResponse:
    """A request to https://stream.test:<port><path>, verified against `trust`."""
    pool = urllib3.HTTPSConnectionPool(
        ADDRESS,
        port or PORTS["STREAMCAT_HTTPS_PORT"],
        server_hostname=HOST,
        assert_hostname=HOST,
        ca_certs=str(trust),
        cert_reqs="CERT_REQUIRED",
        retries=False,
        timeout=15,
    )
    headers = {"Host": f"{HOST}:{port or PORTS['STREAMCAT_HTTPS_PORT']}", **kwargs.pop("headers", {})}
    return pool.request(kwargs.pop("method", "GET"), path, headers=headers, redirect=False, **kwargs)


def plain(path: str, host: str, address: str = ADDRESS) -> urllib3.BaseHTTPResponse:
    pool = urllib3.HTTPConnectionPool(address, PORTS["STREAMCAT_HTTP_PORT"], retries=False, timeout=15)
    return pool.request("GET", path, headers={"Host": host}, redirect=False)


def test_https_serves_the_acme_certificate_and_http_redirects(site, issued):
    response = https("/", issued)
    assert response.status == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    # Plain HTTP to the public name goes to HTTPS, path and query kept...
    moved = plain("/search/?q=cats", f"{HOST}:{PORTS['STREAMCAT_HTTP_PORT']}")
    assert moved.status == 301
    assert moved.headers["Location"] == f"https://{HOST}:{PORTS['STREAMCAT_HTTPS_PORT']}/search/?q=cats"
    # ...while this machine's own calls (the site to its media plane) stay on loopback HTTP.
    assert plain("/health", f"127.0.0.1:{PORTS['STREAMCAT_HTTP_PORT']}", address="127.0.0.1").status == 200
    # The same certificate ends TLS for RTMPS ingest.
    served_https = issuer_of_served_certificate(PORTS["STREAMCAT_HTTPS_PORT"])[1]
    assert issuer_of_served_certificate(PORTS["STREAMCAT_RTMPS_PORT"])[1] == served_https
    context = ssl.create_default_context(cafile=issued)
    with socket.create_connection((ADDRESS, PORTS["STREAMCAT_RTMPS_PORT"]), timeout=10) as raw:
        context.wrap_socket(raw, server_hostname=HOST).close()  # verifies for stream.test


def test_the_certificate_is_renewed_without_a_restart(site, issued):
    """certbot renews within its window (here made larger than the certificate's life),
    and nginx serves the new one at the next handshake; nginx keeps running."""
    nginx_pid = (site["var_dir"] / "run" / "nginx.pid").read_text().strip()
    before = issuer_of_served_certificate(PORTS["STREAMCAT_HTTPS_PORT"])[0].serial_number
    renewal = site["var_dir"] / "acme" / "config" / "renewal" / f"{certificates.CERT_NAME}.conf"
    # certbot renews a certificate this close to its end: now.
    window = "renew_before_expiry = 100 years\n"
    renewal.write_text(renewal.read_text().replace("[renewalparams]", window + "[renewalparams]"))
    try:
        wait_for(
            lambda: issuer_of_served_certificate(PORTS["STREAMCAT_HTTPS_PORT"])[0].serial_number != before,
            timeout=90,
            interval=1,
            message="a renewed certificate",
        )
    finally:
        renewal.write_text(renewal.read_text().replace(window, ""))
    assert (site["var_dir"] / "run" / "nginx.pid").read_text().strip() == nginx_pid
    assert https("/", issued).status == 200


def test_secure_cookies_csrf_and_public_urls(site, issued):
    site["manage"]("shell", "-c", CREATE_CHANNEL.format(username="cookie_owner"), capture_output=True)
    login_page = https("/accounts/login/", issued)
    assert "Secure" in login_page.headers["Set-Cookie"]
    csrf = login_page.headers["Set-Cookie"].split("csrftoken=")[1].split(";")[0]

    def log_in(origin: str):
        return https(
            "/accounts/login/",
            issued,
            method="POST",
            fields={"username": "cookie_owner", "password": PASSWORD, "csrfmiddlewaretoken": csrf},
            encode_multipart=False,
            headers={"Cookie": f"csrftoken={csrf}", "Origin": origin},
        )

    logged_in = log_in(f"https://{HOST}:{PORTS['STREAMCAT_HTTPS_PORT']}")
    assert logged_in.status == 302, logged_in.data[:500]
    session_cookie = [c for c in logged_in.headers.getlist("Set-Cookie") if c.startswith("sessionid=")][0]
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie
    # A form posted from another origin is refused (CSRF trusted origins: the site's only).
    forged = log_in("https://evil.example")
    assert forged.status == 403
    # Every URL the site hands out is on https / rtmps / wss.
    cookie = session_cookie.split(";")[0]
    dashboard = https("/dashboard/", issued, headers={"Cookie": cookie}).data.decode()
    assert f"rtmps://{HOST}:{PORTS['STREAMCAT_RTMPS_PORT']}/app/" in dashboard
    assert f"http://{HOST}" not in dashboard and "rtmp://" not in dashboard.replace("rtmps://", "")
    channel_page = https("/c/cookie_owner/", issued).data.decode()
    assert f'data-playback-url="https://{HOST}:{PORTS["STREAMCAT_HTTPS_PORT"]}/hls/' in channel_page
    policy = https("/", issued).headers["Content-Security-Policy"]
    assert f"wss://{HOST}:{PORTS['STREAMCAT_HTTPS_PORT']}" in policy


CREATE_CHANNEL = """
from django.contrib.auth.models import User
from channels_app import services
user = User.objects.create_user("{username}", password="a-very-good-password-1")
services.create_channel(user=user, title="Live over HTTPS")
"""


def _chromium(playwright, home: Path, root: bytes):
    """Debian's Chromium trusting `root` (in its own NSS store under `home`), with
    stream.test resolving to ADDRESS."""
    store = home / ".pki" / "nssdb"
    store.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{store}", "--empty-password"], check=True)
    (home / "root.pem").write_bytes(root)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{store}", "-t", "C,,", "-n", "streamcat test CA", "-i", str(home / "root.pem")],
        check=True,
    )
    return playwright.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} {ADDRESS}"],
        env={**os.environ, "HOME": str(home)},
    )


def _log_in(browser, base_url: str, username: str):
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/")
    return page


def test_studio_goes_live_over_https_from_a_non_loopback_origin(site, issued, acme_ca, tmp_path):
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop in this thread
    site["manage"]("shell", "-c", CREATE_CHANNEL.format(username="secure_caster"), capture_output=True)
    site["manage"](
        "shell",
        "-c",
        f"from django.contrib.auth.models import User; User.objects.create_user('secure_fan', password='{PASSWORD}')",
    )
    base_url = f"https://{HOST}:{PORTS['STREAMCAT_HTTPS_PORT']}"
    with sync_playwright() as playwright:
        browser = _chromium(playwright, tmp_path, issued.read_bytes())
        try:
            studio = _log_in(browser, base_url, "secure_caster")
            assert studio.evaluate("window.isSecureContext && location.protocol") == "https:"
            studio.get_by_test_id("go-live-link").click()
            studio.wait_for_function("() => document.getElementById('preview')?.videoWidth > 0")
            expect(studio.get_by_test_id("insecure-origin")).to_be_hidden()
            studio.select_option("#broadcast-preset", "480p30")
            studio.get_by_test_id("broadcast-start").click()
            expect(studio.get_by_test_id("stage-state")).to_have_text("ON STAGE", timeout=30_000)
            expect(studio.get_by_test_id("broadcast-state")).to_have_text("LIVE", timeout=60_000)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            studio.screenshot(path=SCREENSHOTS / "https-studio.png")

            viewer = _log_in(browser, base_url, "secure_fan")
            viewer.goto("/c/secure_caster/")
            viewer.wait_for_function("() => document.getElementById('player')?.currentTime > 1", timeout=60_000)
            # HLS came over HTTPS from the same origin, and chat over wss.
            playback_url = viewer.locator("[data-playback-url]").first.get_attribute("data-playback-url")
            assert playback_url.startswith(f"{base_url}/hls/")
            streamer_chat = studio.context.new_page()
            streamer_chat.goto("/c/secure_caster/")
            for page in (viewer, streamer_chat):
                expect(page.locator(".chat[data-connected]")).to_have_count(1, timeout=20_000)
            viewer.fill(".chat-input", "hello over wss")
            viewer.press(".chat-input", "Enter")
            line = streamer_chat.locator(".chat-line").filter(has_text="hello over wss")
            expect(line).to_have_count(1, timeout=20_000)
            # Still playing over HTTPS (segments keep coming), not stalled after the start.
            played = viewer.evaluate("document.getElementById('player').currentTime")
            viewer.wait_for_function(
                f"() => document.getElementById('player')?.currentTime > {played + 3}", timeout=30_000
            )
            viewer.screenshot(path=SCREENSHOTS / "https-viewer.png")

            studio.get_by_test_id("broadcast-stop").click()
            expect(studio.get_by_test_id("broadcast-state")).to_have_text("OFFLINE", timeout=30_000)
        finally:
            browser.close()


def test_the_studio_over_plain_http_says_why_the_camera_is_off(plane):
    """The test site (TLS off) opened by a name that is not loopback: not a secure
    origin, so the browser hides the camera. The studio says so instead of a dead button."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from channels_app import services

    user = User.objects.create_user("plain_caster", password=PASSWORD)
    services.create_channel(user=user, title="Plain")
    port = settings.HTTP_PORT
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP plain.test 127.0.0.1"],
        )
        try:
            page = _log_in(chromium, f"http://plain.test:{port}", "plain_caster")
            assert page.evaluate("window.isSecureContext") is False
            page.get_by_test_id("go-live-link").click()
            notice = page.get_by_test_id("insecure-origin")
            expect(notice).to_be_visible(timeout=15_000)
            expect(notice).to_contain_text("plain HTTP")
            expect(page.locator("#camera-select")).to_be_disabled()
            expect(page.get_by_test_id("join")).to_be_disabled()
            page.get_by_test_id("broadcast-start").click()
            expect(page.get_by_test_id("broadcast-state")).not_to_have_text("LIVE")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "studio-plain-http.png")
        finally:
            chromium.close()


def test_urls_stored_before_https_follow_the_new_address(plane):
    """A site that turns HTTPS on (or is renamed) after channels and recordings exist:
    their stored URLs follow the new public address instead of staying on the old one."""
    from django.core.cache import cache

    from channels_app import services
    from channels_app.models import Channel
    from core import video

    user = User.objects.create_user("early_bird", password=PASSWORD)
    channel = services.create_channel(user=user, title="Before HTTPS")
    current = channel.playback_url
    Channel.objects.filter(pk=channel.pk).update(
        playback_url=current.replace(settings.PUBLIC_URL, "http://old.example:8000"), ingest_endpoint="old.example"
    )
    cache.delete(services.ENDPOINTS_KEY)
    services.sync_live_streams()
    channel.refresh_from_db()
    assert channel.playback_url == current
    assert channel.ingest_endpoint == video.get_channel(channel_arn=channel.arn)["ingestEndpoint"]

    old_recording = "http://old.example:8000/recordings/bucket/ivs/v1/x/media/hls/recording.mp4"
    assert video.recording_link(old_recording, token="t", seconds=60) == (
        f"{settings.PUBLIC_URL}/recordings/bucket/ivs/v1/x/media/hls/recording.mp4?token=t"
    )
