"""The shared browser helpers (static/js/socket.js, static/js/csrf.js) in a real browser:
back-off delays, retry limits and stop conditions, reconnects and final close codes,
and the CSRF header the site's own POSTs carry."""

import pytest

# Media and browser behaviour: the database engine changes nothing here, so it runs
# on SQLite only (scripts/test.sh), to keep the suite's time down.
pytestmark = [pytest.mark.browser, pytest.mark.engine_independent]

# A stand-in WebSocket: each instance is recorded, and the test closes it with a code.
FAKE_SOCKETS = """() => {
  window.madeSockets = [];
  window.WebSocket = class {
    constructor(url) { this.url = url; window.madeSockets.push(this); }
    close(code = 1000) { this.onclose({ code }); }
  };
}"""


def test_backoff_delays_and_retries(login):
    page = login("helper")
    result = page.evaluate(
        """async () => {
          const { backoffDelay, retryWithBackoff } = await import('/static/js/socket.js');
          const plain = [0, 1, 5, 6, 10].map((n) => backoffDelay(n, { jitter: false }));
          const uncapped = backoffDelay(5, { cap: Infinity, jitter: false });
          const jittered = Array.from({ length: 50 }, () => backoffDelay(10));
          let tries = 0;
          const gaveUp = await retryWithBackoff(() => { tries++; throw new Error('no'); },
            { retries: 3, backoff: { base: 1 } }).catch((error) => error.message);
          const triesUntilLimit = tries;
          tries = 0;
          const twoFailures = (n) => { tries++; if (n < 2) throw new Error('not yet'); return 'ok'; };
          const succeeded = await retryWithBackoff(twoFailures, { backoff: { base: 1 } });
          const triesUntilSuccess = tries;
          tries = 0;
          let stop = false;
          await retryWithBackoff(() => { tries++; stop = true; throw new Error('no'); },
            { shouldStop: () => stop, backoff: { base: 1 } }).catch(() => {});
          const triesUntilStop = tries;
          return { plain, uncapped, jittered, gaveUp, triesUntilLimit, succeeded, triesUntilSuccess, triesUntilStop };
        }"""
    )
    assert result["plain"] == [500, 1000, 15000, 15000, 15000]
    assert result["uncapped"] == 16000
    assert all(7500 <= d <= 15000 for d in result["jittered"]) and len(set(result["jittered"])) > 1
    assert (result["gaveUp"], result["triesUntilLimit"]) == ("no", 4)
    assert (result["succeeded"], result["triesUntilSuccess"]) == ("ok", 3)
    assert result["triesUntilStop"] == 1


def test_keep_open_reconnects_until_a_final_code_or_close(login):
    page = login("helper")
    page.evaluate(FAKE_SOCKETS)
    result = page.evaluate(
        """async () => {
          const { keepOpen } = await import('/static/js/socket.js');
          const until = async (check) => { while (!check()) await new Promise((r) => setTimeout(r, 5)); };
          const settle = () => new Promise((r) => setTimeout(r, 100));
          const options = { onEvent() {}, finalCodes: [4403], backoff: { base: 1 } };

          // A lost socket comes back (asking for a reconnect URL); a final code ends it.
          let n = 0;
          keepOpen(async (reconnecting) => `wss://plane.example/events?n=${++n}&again=${reconnecting}`, options);
          await until(() => madeSockets.length === 1);
          madeSockets[0].close(1006);
          await until(() => madeSockets.length === 2);
          madeSockets[1].close(4403);
          await settle();
          const final = madeSockets.map((s) => s.url);

          // A site path becomes this site's ws:// URL; close() stops reconnecting.
          madeSockets.length = 0;
          const handle = keepOpen('/ws/example/?after=3', options);
          const path = madeSockets[0].url;
          handle.close();
          await settle();
          return { final, path, afterClose: madeSockets.length, host: location.host };
        }"""
    )
    assert result["final"] == [
        "wss://plane.example/events?n=1&again=false",
        "wss://plane.example/events?n=2&again=true",
    ]
    assert result["path"] == f"ws://{result['host']}/ws/example/?after=3"
    assert result["afterClose"] == 1


def test_csrf_header_is_the_pages_token(login):
    page = login("helper")
    page.goto("/dashboard/")
    headers = page.evaluate("async () => (await import('/static/js/csrf.js')).csrfHeaders()")
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    assert headers == {"X-CSRFToken": token}
