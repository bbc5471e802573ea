"""GET /health on the real stack: every part up, then one part held down at a time."""

import json
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from tests.conftest import held_down, wait_for

PARTS = {"database", "redis", "nginx", "janus", "turn", "playback_auth", "srt", "transcode", "worker", "beat"}
ANSWER_SECONDS = 3  # /health answers within about 2 s, whatever hangs
HEARTBEAT_SECONDS = 40  # heartbeats are fresh within seconds of a start; a stale one takes 15 s


def health(*, base: str = "", method: str = "GET") -> tuple[int, dict, bytes]:
    request = urllib.request.Request((base or settings.PUBLIC_URL) + "/health", method=method)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=ANSWER_SECONDS + 10) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, headers, body = exc.code, exc.headers, exc.read()
    assert time.monotonic() - started < ANSWER_SECONDS, "/health took too long"
    if method == "GET" and status in (200, 503):
        assert headers["Cache-Control"] == "no-store"
        assert headers["Content-Type"] == "application/json"
        answer = json.loads(body)
        # Only the status and one word per part: no error texts, versions or paths.
        assert set(answer) == {"status", "parts"} and set(answer["parts"]) == PARTS
        assert set(answer["parts"].values()) <= {"up", "down"}
        assert b"Traceback" not in body and str(settings.VAR_DIR).encode() not in body
        return status, answer, body
    return status, {}, body


def all_up() -> bool:
    status, answer, _ = health()
    return status == 200 and answer["status"] == "ok"


def part_down(part: str):
    def check():
        status, answer, _ = health()
        return status == 200 and answer["status"] == "degraded" and answer["parts"][part] == "down" and answer

    return check


def test_every_part_up_through_nginx_and_on_the_app_port(plane):
    wait_for(all_up, timeout=HEARTBEAT_SECONDS, message="every part up")
    for base in (settings.PUBLIC_URL, f"http://127.0.0.1:{settings.APP_PORT}"):
        status, answer, _ = health(base=base)
        assert status == 200
        assert answer == {"status": "ok", "parts": dict.fromkeys(PARTS, "up")}


def test_head_answers_and_post_is_refused(plane):
    status, _, body = health(method="HEAD")
    assert status == 200 and body == b""
    status, _, _ = health(method="POST")
    assert status == 405


def test_janus_down_is_degraded(plane):
    wait_for(all_up, timeout=HEARTBEAT_SECONDS, message="every part up")
    with held_down(plane, "janus"):
        answer = wait_for(part_down("janus"), message="janus reported down")
        assert {part for part, state in answer["parts"].items() if state == "down"} == {"janus"}
    wait_for(all_up, timeout=HEARTBEAT_SECONDS, message="every part up again")


def test_redis_down_is_degraded_and_answers_quickly(plane, redis_server):
    wait_for(all_up, timeout=HEARTBEAT_SECONDS, message="every part up")
    with held_down(redis_server, "redis"):
        # The worker cannot work without its broker: its heartbeat may go stale too.
        answer = wait_for(part_down("redis"), message="redis reported down")
        assert answer["parts"]["database"] == answer["parts"]["nginx"] == "up"
    wait_for(all_up, timeout=HEARTBEAT_SECONDS, message="every part up again, the worker reconnected")


@pytest.mark.parametrize("part", ["beat", "transcode"])
def test_a_part_without_a_port_is_down_once_its_heartbeat_is_stale(plane, part):
    wait_for(all_up, timeout=HEARTBEAT_SECONDS, message="every part up")
    with held_down(plane, part):
        answer = wait_for(part_down(part), timeout=HEARTBEAT_SECONDS, message=f"{part} reported down")
        # The worker beats on its own, so a dead beat is told apart from a dead worker.
        assert {name for name, state in answer["parts"].items() if state == "down"} == {part}
    wait_for(all_up, timeout=HEARTBEAT_SECONDS, message="every part up again")
