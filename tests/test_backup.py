"""Backup and restore (`manage.py backup` / `manage.py restore`): a backup taken while the
stack runs, restored into a fresh runtime folder and database, serves the same accounts,
log-in sessions, channels, stream keys, private playback, profile pictures and
recordings; a damaged or tampered archive is refused with a clear message and changes
nothing."""

from __future__ import annotations

import hashlib
import io
import os
import re
import socket
import subprocess
import sys
import tarfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import urllib3
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from PIL import Image

from accounts import avatars
from channels_app import services
from channels_app.models import PlaybackAccess, StreamSession
from core import video
from core.env import load_local_secrets
from streamcat.stack import wait_for_port
from tests.conftest import _database_url, wait_for

PASSWORD = "a-very-good-password-1"
http = urllib3.PoolManager(retries=False, timeout=30)  # no retries: redirects come back as they are


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`manage.py` in its own process, as a person would run it."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` and its digest."""
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def backup_now(output: Path) -> None:
    """Back up the test database and runtime folder, as `scripts/backup.sh` would."""
    made = manage("backup", "--output", str(output), env={"DATABASE_URL": _database_url()})
    assert made.returncode == 0, made.stderr
    assert output.stat().st_mode & 0o777 == 0o600  # it holds the secrets


@pytest.fixture
def fresh_database(tmp_path, transactional_db):
    """The URL of an empty database of the engine the suite runs on."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name = connection.ops.quote_name(connection.settings_dict["NAME"] + "_restored")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    yield _database_url() + "_restored"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def site_processes(env: dict[str, str], log_dir: Path):
    """The restored copy's own Redis, ASGI app and playback-auth server (no nginx: the
    app answers on its port, which is also where its plane API is reached)."""
    python = sys.executable
    parts = {
        "redis": (
            ["redis-server", "--port", env["STREAMCAT_REDIS_PORT"], "--bind", "127.0.0.1", "--save", ""],
            env["STREAMCAT_REDIS_PORT"],
        ),
        "app": (
            [python, "-m", "uvicorn", "streamcat.asgi:application", "--port", env["STREAMCAT_APP_PORT"]],
            env["STREAMCAT_APP_PORT"],
        ),
        "playback_auth": (
            [python, "-m", "uvicorn", "mediaplane.playback_server:app", "--port", env["STREAMCAT_PLAYBACK_AUTH_PORT"]],
            env["STREAMCAT_PLAYBACK_AUTH_PORT"],
        ),
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    running = []
    try:
        for name, (command, port) in parts.items():
            with (log_dir / f"{name}.log").open("w") as log:
                process = subprocess.Popen(
                    command, cwd=settings.BASE_DIR, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
                )
            running.append(process)
            wait_for_port(int(port), timeout=60, process=process)
        yield
    finally:
        for process in reversed(running):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def log_in(base: str, username: str, password: str) -> urllib3.BaseHTTPResponse:
    """The site's log-in form, as a browser fills it."""
    page = http.request("GET", f"{base}/accounts/login/")
    csrf_cookie = re.search(r"csrftoken=([^;]+)", page.headers["Set-Cookie"]).group(1)
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.data.decode()).group(1)
    return http.request(
        "POST",
        f"{base}/accounts/login/",
        fields={"username": username, "password": password, "csrfmiddlewaretoken": form_token},
        encode_multipart=False,
        headers={"Cookie": f"csrftoken={csrf_cookie}"},
    )


def test_a_restored_backup_serves_the_same_accounts_channels_keys_and_recordings(
    plane, publisher, fresh_database, tmp_path
):
    # What a user would lose: accounts, a log-in session, a recording channel with a
    # past broadcast, a private channel with a playback token out, a profile picture.
    alice = User.objects.create_user("alice", password=PASSWORD)
    channel = services.create_channel(user=alice, title="Alice live")
    services.set_recording(channel=channel, enabled=True)
    key = services.stream_key_value(channel=channel)
    assert publisher(key, seconds=5).wait(timeout=30) == 0
    session = wait_for(
        lambda: StreamSession.objects.filter(channel=channel).exclude(recording_url="").first(),
        timeout=60,
        message="the recording to be attached to the broadcast",
    )
    recording = settings.STORAGE_DIR / session.recording_url.split("/recordings/", 1)[1]
    thumbnail = settings.STORAGE_DIR / session.thumbnail_url.split("/recordings/", 1)[1]

    bob = User.objects.create_user("bob", password=PASSWORD)
    private = services.create_channel(user=bob, title="Members only")
    services.update_channel(
        channel=private, title="Members only", category=None, playback_access=PlaybackAccess.MEMBERS
    )
    token, _ = video.playback_token(channel_arn=private.arn, viewer_id=str(alice.pk), origin=settings.PUBLIC_URL)
    private_playlist = urlsplit(private.playback_url).path

    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "orange").save(picture, "JPEG")
    avatars.avatar_replace(user=alice, picture=ContentFile(picture.getvalue(), name="me.jpg"))
    avatar = Path(User.objects.get(pk=alice.pk).profile.avatar.path)

    browser = Client()
    browser.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    bobs_session = browser.cookies[settings.SESSION_COOKIE_NAME].value

    archive = tmp_path / "backup.tar.gz"
    backup_now(archive)  # while the whole stack runs

    # A fresh checkout: its own runtime folder, database and ports.
    var = tmp_path / "restored-var"
    app_port = str(free_port())
    restored = {
        "STREAMCAT_VAR_DIR": str(var),
        "DATABASE_URL": fresh_database,
        "STREAMCAT_HTTP_PORT": app_port,
        "STREAMCAT_APP_PORT": app_port,
        "STREAMCAT_REDIS_PORT": str(free_port()),
        "STREAMCAT_PLAYBACK_AUTH_PORT": str(free_port()),
        "STREAMCAT_NGINX_CONTROL_PORT": str(free_port()),
        "STREAMCAT_JANUS_API_PORT": str(free_port()),
        "STREAMCAT_JANUS_ADMIN_PORT": str(free_port()),
    }
    done = manage("restore", str(archive), env=restored)
    assert done.returncode == 0, done.stderr
    again = manage("restore", str(archive), env=restored)
    assert again.returncode == 1 and "user account(s)" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.stderr

    # The same secrets, keys, picture and recording files, byte for byte.
    assert (var / "secrets.json").read_bytes() == (settings.VAR_DIR / "secrets.json").read_bytes()
    assert digest(var / "keys" / "playback-signing.pem") == digest(settings.PLAYBACK_KEY_FILE)
    assert digest(var / avatar.relative_to(settings.VAR_DIR)) == digest(avatar)
    for original in (recording, thumbnail):
        assert digest(var / original.relative_to(settings.VAR_DIR)) == digest(original)

    base = f"http://127.0.0.1:{app_port}"
    with site_processes(restored, tmp_path / "restored-logs"):
        # Passwords: alice logs in with hers; bob's session from before is still valid
        # (the session row and the secret key that signs it came back).
        assert log_in(base, "alice", PASSWORD).headers["Location"] == "/dashboard/"
        assert log_in(base, "alice", "not-her-password").status == 200  # the form again
        bobs_dashboard = http.request("GET", f"{base}/dashboard/", headers={"Cookie": f"sessionid={bobs_session}"})
        assert bobs_dashboard.status == 200 and "bob" in bobs_dashboard.data.decode()

        # The stream key: the dashboard shows the same one (through the restored plane's
        # API), and the plane's ingest check accepts it and nothing else.
        shown = http.request(
            "GET", f"{base}/dashboard/stream-key/", headers={"Cookie": f"sessionid={browser_session(base, 'alice')}"}
        )
        assert shown.status == 200 and shown.data.decode() == key
        for name, accepted in ((key, True), (key[:-1] + "x", False)):
            check = http.request(
                "POST",
                f"{base}/_plane/rtmp/on_publish?secret={settings.MEDIA_CALLBACK_SECRET}&secure=1",
                fields={"name": name, "app": "app", "clientid": "1", "addr": "127.0.0.1"},
                encode_multipart=False,
            )
            assert check.status == (302 if accepted else 403), check.data

        # The past broadcast is listed and its replay page plays the restored file.
        page = http.request("GET", f"{base}{channel.get_absolute_url()}").data.decode()
        assert f"/videos/{session.pk}/" in page
        replay = http.request("GET", f"{base}{channel.get_absolute_url()}videos/{session.pk}/").data.decode()
        assert recording.name in replay

        # The playback token issued before the backup still opens the private channel.
        def playback(args: str) -> int:
            headers = {"X-Playback-Path": private_playlist, "X-Playback-Args": args}
            url = f"http://127.0.0.1:{restored['STREAMCAT_PLAYBACK_AUTH_PORT']}/auth"
            return http.request("GET", url, headers=headers).status

        assert playback(f"token={token}") == 204
        assert playback("") == 403


def browser_session(base: str, username: str) -> str:
    response = log_in(base, username, PASSWORD)
    return re.search(r"sessionid=([^;]+)", response.headers["Set-Cookie"]).group(1)


# --- Damaged and tampered archives ------------------------------------------------------------


def rewritten(archive: Path, into: Path, *, change=None, extra: tarfile.TarInfo | None = None, data=b"") -> Path:
    """A copy of `archive` with one member's bytes changed (manifest untouched) or one
    member added at the end."""
    with tarfile.open(archive, "r:gz") as source, tarfile.open(into, "w:gz") as copy:
        for member in source:
            content = source.extractfile(member).read()
            if change and member.name == change:
                content = content.replace(b"{", b"{ ", 1)
                member.size = len(content)
            copy.addfile(member, io.BytesIO(content))
        if extra is not None:
            extra.size = len(data)
            copy.addfile(extra, io.BytesIO(data))
    return into


def link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


# How each archive is spoiled (given the test's folder) and the refusal it must get.
TAMPERED = {
    "a changed member": (lambda _: dict(change="files/secrets.json"), "does not match its checksum"),
    "a member climbing out with ..": (lambda _: dict(extra=tarfile.TarInfo("files/../../evil.txt")), "points outside"),
    "an absolute member": (lambda folder: dict(extra=tarfile.TarInfo(str(folder / "evil.txt"))), "points outside"),
    "a symbolic link": (lambda _: dict(extra=link("files/media/passwd", "/etc/passwd", tarfile.SYMTYPE)), "is a link"),
    "a hard link": (lambda _: dict(extra=link("files/media/x", "files/secrets.json", tarfile.LNKTYPE)), "is a link"),
    "a member not in the manifest": (lambda _: dict(extra=tarfile.TarInfo("files/media/extra.jpg")), "not listed"),
    "a member of no known place": (lambda _: dict(extra=tarfile.TarInfo("files/nginx/nginx.conf")), "not part of"),
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory, django_db_setup):
    made = tmp_path_factory.mktemp("backup") / "backup.tar.gz"
    backup_now(made)
    return made


@pytest.mark.parametrize("tampering", TAMPERED, ids=list(TAMPERED))
def test_a_tampered_archive_is_refused_and_changes_nothing(archive, tmp_path, tampering):
    how, refusal = TAMPERED[tampering]
    bad = rewritten(archive, tmp_path / "bad.tar.gz", data=b"not yours", **how(tmp_path))
    # A checkout that has run once: its secrets made, a picture uploaded.
    var = tmp_path / "var"
    load_local_secrets(var)
    (var / "media").mkdir()
    (var / "media" / "keep.jpg").write_bytes(b"mine")
    before = tree(tmp_path)

    refused = manage(
        "restore",
        str(bad),
        env={"STREAMCAT_VAR_DIR": str(var), "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}"},
    )
    assert refused.returncode == 1
    assert refusal in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    assert tree(tmp_path) == before  # nothing written, in the checkout or beside it


def test_a_damaged_archive_is_refused(tmp_path):
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(b"\x1f\x8b" + os.urandom(200))
    refused = manage("restore", str(damaged), env={"STREAMCAT_VAR_DIR": str(tmp_path / "var")})
    assert refused.returncode == 1 and "not a readable backup archive" in refused.stderr, refused.stderr
