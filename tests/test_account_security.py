"""Attacks on accounts, each tried against the real views: guessing passwords, flooding
password-reset mails, pixel-flood and script-carrying profile pictures, racing picture
replacements, and files left behind by a closed account."""

import http.client
import io
import re
import resource
import threading
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from PIL import Image, PngImagePlugin

from accounts.models import Profile

PASSWORD = "a-long-password-1"
ATTACKER = "198.51.100.7"
ALICE_AT_HOME = "203.0.113.20"


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", email="alice@example.com", password=PASSWORD)


@pytest.fixture
def media(settings, tmp_path):
    """Uploads go to a folder of the test's own, so 'nothing was written' can be checked."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def log_in(client: Client, url: str, password: str):
    return client.post(url, {"username": "alice", "password": password})


def files_under(folder) -> list:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def png(size, mode: str = "RGB", **save) -> io.BytesIO:
    data = io.BytesIO()
    Image.new(mode, size).save(data, "PNG", **save)
    data.seek(0)
    data.name = "me.png"
    return data


# --- Guessing passwords.


@pytest.mark.parametrize("url", [reverse("login"), reverse("admin:login")])
def test_forty_wrong_passwords_lock_the_account_out_even_for_the_right_one(alice, url):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    answers = [log_in(attacker, url, f"guess-{n}").status_code for n in range(40)]
    # The fifth failure locks out; every later try is refused without checking the password.
    assert answers[:4] == [200] * 4 and set(answers[4:]) == {429}
    locked = log_in(attacker, url, PASSWORD)
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content and b"Try again in 15 minutes" in locked.content
    assert "_auth_user_id" not in attacker.session
    assert attacker.get(reverse("profile")).status_code == 302  # still a stranger


def test_a_forged_x_forwarded_for_does_not_dodge_the_lock_out(alice):
    # Behind nginx, uvicorn sets REMOTE_ADDR from the X-Forwarded-For our own nginx
    # writes; whatever the client adds to that header must not count as its address.
    attacker = Client(REMOTE_ADDR=ATTACKER)
    answers = [
        attacker.post(
            reverse("login"), {"username": "alice", "password": "guess"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        ).status_code
        for n in range(6)
    ]
    assert answers[-2:] == [429, 429]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def log_in_through_nginx(source: str, password: str, forged: str) -> http.client.HTTPResponse:
    """Log in as alice on the real login page from `source` (a loopback address), with a
    forged X-Forwarded-For; returns the answer to the POST, body read."""
    nginx = http.client.HTTPConnection("127.0.0.1", settings.HTTP_PORT, source_address=(source, 0), timeout=30)
    nginx.request("GET", "/accounts/login/")
    page = nginx.getresponse()
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.read()).group(1).decode()
    cookie = next(c.split(";")[0] for c in page.headers.get_all("Set-Cookie") if c.startswith("csrftoken="))
    form = {"csrfmiddlewaretoken": token, "username": "alice", "password": password}
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": forged}
    nginx.request("POST", "/accounts/login/", body=urlencode(form), headers=headers)
    answer = nginx.getresponse()
    answer.body = answer.read()
    nginx.close()
    return answer


def test_through_nginx_the_address_is_the_one_nginx_saw(plane):
    # The production path: nginx appends the peer's address to X-Forwarded-For, uvicorn
    # trusts that header from our nginx only, and Django's async middleware answers.
    User.objects.create_user("alice", password=PASSWORD)
    answers = [log_in_through_nginx("127.0.0.2", f"guess-{n}", forged=f"10.0.0.{n}").status for n in range(5)]
    assert answers == [200] * 4 + [429]
    locked = log_in_through_nginx("127.0.0.2", PASSWORD, forged="10.0.0.99")
    assert locked.status == 429 and b"Try again in 15 minutes" in locked.body
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.2"}
    assert log_in_through_nginx("127.0.0.3", PASSWORD, forged="127.0.0.2").status == 302


def test_a_stranger_cannot_lock_the_owner_out(alice):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for n in range(6):
        log_in(attacker, reverse("login"), f"guess-{n}")
    assert log_in(attacker, reverse("login"), PASSWORD).status_code == 429
    # Alice, from her own address, logs in at once.
    assert log_in(Client(REMOTE_ADDR=ALICE_AT_HOME), reverse("login"), PASSWORD).status_code == 302
    # And the lock-out lifts after the cool-off, even for the address that caused it.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert log_in(attacker, reverse("login"), PASSWORD).status_code == 302


def test_a_successful_log_in_forgets_earlier_typos(alice):
    client = Client(REMOTE_ADDR=ALICE_AT_HOME)
    for n in range(4):
        log_in(client, reverse("login"), f"typo-{n}")
    assert log_in(client, reverse("login"), PASSWORD).status_code == 302
    assert not AccessAttempt.objects.exists()


def test_lock_outs_are_listed_in_the_admin(alice):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for n in range(5):
        log_in(attacker, reverse("login"), f"guess-{n}")
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", password=PASSWORD))
    assert b"Access attempts" in admin.get(reverse("admin:index")).content
    listing = admin.get(reverse("admin:axes_accessattempt_changelist"), {"locked_out": "yes"})
    assert listing.status_code == 200 and b"alice" in listing.content and ATTACKER.encode() in listing.content


# --- Password-reset mails.


def test_password_reset_requests_are_throttled_per_address(alice):
    client = Client(REMOTE_ADDR=ATTACKER)
    answers = [client.post(reverse("password_reset"), {"email": f"u{n}@example.com"}) for n in range(11)]
    assert [a.status_code for a in answers] == [302] * 10 + [429]
    assert b"Too many reset requests" in answers[-1].content
    # Another address is not affected.
    elsewhere = Client(REMOTE_ADDR=ALICE_AT_HOME).post(reverse("password_reset"), {"email": "alice@example.com"})
    assert elsewhere.status_code == 302 and len(mail.outbox) == 1


def test_one_inbox_gets_at_most_three_reset_mails_an_hour(alice):
    for n, email in enumerate(["alice@example.com", "Alice@Example.com", "alice@example.com ", "ALICE@example.com"]):
        response = Client(REMOTE_ADDR=f"198.51.100.{n + 1}").post(reverse("password_reset"), {"email": email})
        assert response.status_code == 302 and response.url == reverse("password_reset_done")  # always the same answer
    assert len(mail.outbox) == 3 and {m.to[0] for m in mail.outbox} == {"alice@example.com"}


# --- Profile pictures.


@pytest.mark.parametrize("size", [(12000, 12000), (5000, 5000)])
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's own notice at open
def test_a_pixel_flood_picture_is_refused_before_decoding(alice, client, media, size):
    flood = png(size, mode="L")  # 12000x12000: ~140 KB on the wire, 432 MB once decoded as RGB
    client.force_login(alice)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    response = client.post(reverse("profile"), {"bio": "", "email": "", "avatar": flood})
    assert time.monotonic() - started < 1.0
    assert response.status_code == 400 and b"The picture is too large" in response.content
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 100 * 1024  # KiB: not decoded
    assert files_under(media) == [] and not Profile.objects.get(user=alice).avatar


def noise_png() -> bytes:
    data = io.BytesIO()
    Image.effect_noise((128, 128), 64).save(data, "PNG")
    return data.getvalue()


def corrupt_png() -> bytes:
    """A PNG whose compressed pixel data is garbage (its header is fine)."""
    data = bytearray(noise_png())
    pixels = data.index(b"IDAT") + 4
    data[pixels : pixels + 400] = b"\x5a" * 400
    return bytes(data)


@pytest.mark.parametrize(
    "upload",
    [
        b"<svg onload=alert(1)></svg>",
        noise_png()[:300],  # truncated: the header reads, the pixels do not
        corrupt_png(),
        b"GIF89a" + b"\xff" * 40,
        b"II*\0" + b"\0" * 100,  # TIFF: not a format we take
    ],
    ids=["svg", "truncated-png", "corrupt-png", "garbage-gif", "tiff"],
)
def test_a_broken_picture_is_a_form_error_not_a_crash(alice, client, media, upload):
    client.force_login(alice)
    file = io.BytesIO(upload)
    file.name = "me.png"
    response = client.post(reverse("profile"), {"bio": "", "email": "", "avatar": file})
    assert response.status_code == 400 and b"not a picture we can read" in response.content
    assert files_under(media) == []


def jpeg_with_metadata() -> io.BytesIO:
    data = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = "<script>alert('exif')</script>"  # ImageDescription
    Image.new("RGB", (400, 300), (10, 120, 200)).save(
        data,
        "JPEG",
        comment=b"<script>alert(1)</script>" + b" " * 30_000,
        exif=exif.tobytes(),
        icc_profile=b"ICC-<script>alert('icc')</script>",
        xmp=b"<x:xmpmeta><script>alert('xmp')</script></x:xmpmeta>",
    )
    data.seek(0)
    data.name = "me.jpg"
    return data


def png_with_text() -> io.BytesIO:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "<script>alert('text')</script>")
    text.add_text("XML:com.adobe.xmp", "<script>alert('itxt')</script>", zip=True)
    return png((300, 300), pnginfo=text)


@pytest.mark.parametrize("make", [jpeg_with_metadata, png_with_text], ids=["jpeg", "png"])
def test_only_pixels_are_stored(alice, client, media, make):
    upload = make()
    assert b"<script>" in upload.getvalue()
    client.force_login(alice)
    assert client.post(reverse("profile"), {"bio": "", "email": "", "avatar": upload}).status_code == 302
    stored = Profile.objects.get(user=alice).avatar.read()
    assert b"<script" not in stored
    for marker in (b"Exif", b"ICC_PROFILE", b"http://ns.adobe.com/xap"):
        assert marker not in stored
    with Image.open(io.BytesIO(stored)) as picture:
        assert (picture.format, picture.size) == ("JPEG", (256, 256))
        # Nothing but the JFIF header: no comment, EXIF, ICC or XMP segment.
        assert [marker for marker, _ in picture.applist] == ["APP0"] and "comment" not in picture.info


@pytest.mark.django_db(transaction=True)
def test_racing_replacements_leave_exactly_one_file(media):
    alice = User.objects.create_user("alice", password=PASSWORD)
    first = Client()
    first.force_login(alice)
    first.post(reverse("profile"), {"bio": "", "email": "", "avatar": png((500, 500))})
    racers = 4
    start = threading.Barrier(racers)
    answers = []

    def replace(colour):
        client = Client()
        client.force_login(alice)
        picture = io.BytesIO()
        Image.new("RGB", (1500, 1500), colour).save(picture, "PNG")
        picture.seek(0)
        picture.name = "me.png"
        start.wait()
        try:
            answers.append(client.post(reverse("profile"), {"bio": "", "email": "", "avatar": picture}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=replace, args=((60 * n, 0, 0),)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [302] * racers
    profile = Profile.objects.get(user=alice)
    assert files_under(media) == [media / profile.avatar.name]


@pytest.mark.django_db(transaction=True)
def test_closing_the_account_removes_every_picture(media):
    alice = User.objects.create_user("alice", password=PASSWORD)
    client = Client()
    client.force_login(alice)
    client.post(reverse("profile"), {"bio": "", "email": "", "avatar": png((300, 300))})
    # A picture an earlier version left behind in the folder (a lost replacement race).
    stray = media / Profile.objects.get(user=alice).avatar.name
    stray.with_name("orphan.jpg").write_bytes(stray.read_bytes())
    assert len(files_under(media)) == 2
    response = client.post(reverse("delete_account"), {"password": PASSWORD, "recordings": "remove"})
    assert response.status_code == 302 and not User.objects.filter(username="alice").exists()
    assert files_under(media) == []
