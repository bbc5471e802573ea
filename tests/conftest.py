"""Fixtures that start the real processes: Redis for every test, and the whole
stack (nginx-rtmp, the ASGI server, Celery worker and beat) for the tests that
go through the local media plane."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time

import boto3
import botocore.config
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import TransactionTestCase
from playwright.sync_api import sync_playwright

from channels_app.models import Channel
from chat import realtime as chat_realtime
from chat import services as chat_services
from core import processes, video
from mediaplane.models import Composition
from mediaplane.services import compositions
from streamcat.stack import Stack

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
    # Real host candidates (no mDNS names) on the test network.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
# Kept after the run (var/ is ignored by git) so people can look at the pages.
SCREENSHOTS = settings.BASE_DIR / "var" / "test-screenshots"


def _deadlocked(error: BaseException | None) -> bool:
    while error is not None:
        if "deadlock detected" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


_flush_tables = TransactionTestCase._fixture_teardown


def _flush_tables_again_after_a_deadlock(self):
    """A transactional test ends by emptying every table (TRUNCATE on PostgreSQL) while
    the running stack (Celery beat, the app) may be reading them: PostgreSQL can then
    pick the TRUNCATE as a deadlock's victim. The reader's transaction is short; the
    flush is tried again instead of leaving the rows to the next test."""
    for attempt in range(1, 6):
        try:
            return _flush_tables(self)
        except Exception as exc:  # noqa: BLE001 - only a deadlock is retried; the rest re-raised
            if attempt == 5 or not _deadlocked(exc):
                raise
            time.sleep(0.2 * attempt)


TransactionTestCase._fixture_teardown = _flush_tables_again_after_a_deadlock


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the
    # tests make between browser steps are plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def login(browser, plane):
    """Log a new browser context in (creating the user if needed); returns its page."""
    contexts = []

    def as_user(username: str):
        context = browser.new_context(base_url=settings.PUBLIC_URL, viewport={"width": 1280, "height": 800})
        contexts.append(context)
        if not User.objects.filter(username=username).exists():
            User.objects.create_user(username, password="a-very-good-password-1")
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "a-very-good-password-1")
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard/")
        return page

    yield as_user
    for context in contexts:
        context.close()


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db.get("PASSWORD") else f"{db['USER']}@"
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def redis_server():
    stack = Stack(var_dir=settings.VAR_DIR, label="redis")
    stack.start(parts=("redis",))
    yield stack
    stack.stop()


@pytest.fixture(autouse=True)
def _redis(redis_server):
    """Every test has the real Redis (Channels layer, cache, Celery broker), and starts
    with an empty cache: throttle counters in it outlive a test's database."""
    cache.clear()


@pytest.fixture
def fresh_chat(transactional_db):
    """Chat tests: no rate limits, presence or slow mode left from an earlier test.
    Transactional, because consumers reach the database from other threads."""
    chat_realtime.flush()


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def channel(alice):
    """A channel row only, for tests that need no video plane."""
    return Channel.objects.create(
        owner=alice, slug="alice", title="Alice live", arn="arn:aws:ivs:us-west-2:000000000000:channel/alice"
    )


@pytest.fixture
def room(channel):
    return chat_services.room_for_channel(channel)


@pytest.fixture(scope="session")
def stack(django_db_setup, django_db_blocker, redis_server):
    """Janus, coturn, nginx-rtmp, the SRT gateway, uvicorn, Celery worker and beat, on the test database."""
    with django_db_blocker.unblock():
        call_command("collectstatic", "--noinput", verbosity=0)
        database_url = _database_url()
    running = Stack(var_dir=settings.VAR_DIR, env={"DATABASE_URL": database_url})
    running.start(parts=("janus", "turn", "playback_auth", "nginx", "srt", "transcode", "app", "worker", "beat"))
    yield running
    running.stop()


@pytest.fixture
def plane(stack, transactional_db):
    """The local plane, ready for boto3; rows the test writes are visible to it. A
    composition a failed test left running is ended, so its compositor does not load
    the machine for the tests after it."""
    video.client.cache_clear()
    yield stack
    for composition in Composition.objects.filter(state__in=["STARTING", "ACTIVE", "STOPPING"]):
        compositions.stop_now(composition)


def unvalidated_client(service: str, **config):
    """A boto3 client that sends bad input as is, so the plane itself must refuse it."""
    key_id, secret = next(iter(settings.LOCAL_PLANE_ACCESS_KEYS.items()))
    return boto3.client(
        service,
        region_name=settings.AWS_REGION,
        endpoint_url=video.local_endpoint(service),
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=botocore.config.Config(parameter_validation=False, **config),
    )


def wait_for(condition, *, timeout: float = 20.0, interval: float = 0.2, message: str = "condition"):
    """Poll until `condition()` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@contextlib.contextmanager
def held_down(stack, part: str):
    """The stack's `part` stopped and kept down inside the block, brought back up after."""
    stack.hold_down(part)
    try:
        yield
    finally:
        stack.bring_up(part)


class Publisher:
    """An ffmpeg process publishing a synthetic source (testsrc2 + sine) over RTMPS, as
    streamers are told to (ffmpeg does not check the generated certificate); `url`
    publishes elsewhere, e.g. plain RTMP, or SRT with container="mpegts"."""

    def __init__(
        self,
        stream_key: str = "",
        *,
        url: str = "",
        seconds: int = 60,
        size: str = "640x360",
        fps: int = 30,
        container: str = "flv",
        bitrate: str = "800k",
    ):
        url = url or f"rtmps://127.0.0.1:{settings.RTMPS_PORT}/app/{stream_key}"
        self.seconds = seconds
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={size}:rate={fps}",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=44100",
                "-t",
                str(seconds),
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-tune",
                "zerolatency",
                "-g",
                str(fps),
                "-b:v",
                bitrate,
                "-c:a",
                "aac",
                "-b:a",
                "96k",
                "-f",
                container,
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait(self, timeout: float = 15) -> int:
        return self.process.wait(timeout=timeout)

    def was_refused(self) -> bool:
        """True when nginx cut the publisher off at once. A refused ffmpeg usually exits
        non-zero, but not always (a closed socket during the handshake may end it
        "cleanly"), so the test is that it ended long before its source ran out. Refusal
        tests give their source 20 s: the key check may wait on a busy SQLite database."""
        self.process.wait(timeout=self.seconds + 10)
        return time.monotonic() - self.started < self.seconds - 3

    def stop(self) -> None:
        processes.stop(self.process)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture
def publisher():
    started: list[Publisher] = []

    def start(stream_key: str = "", **kwargs) -> Publisher:
        started.append(Publisher(stream_key, **kwargs))
        return started[-1]

    yield start
    for p in started:
        p.stop()
