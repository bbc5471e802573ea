// Retrying with back-off, written once: JSON WebSockets that come back by themselves
// (keepOpen) and any other operation that may fail for a while (retryWithBackoff).
// Delays grow exponentially up to a cap; jitter spreads them so a server restart is
// not met by every page at the same instant.

export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // A path is on this site; an absolute ws(s):// URL (a stage token's events_url) is kept.
  return new URL(path, `${scheme}://${location.host}`).href;
}

export function backoffDelay(attempt, { base = 500, cap = 15000, jitter = true } = {}) {
  const delay = Math.min(cap, base * 2 ** attempt);
  return jitter ? delay * (0.5 + Math.random() / 2) : delay;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs `task` until it resolves. After a failure it waits backoffDelay(attempt, backoff)
// and tries again, unless `retries` are used up or `shouldStop()`; then the last error
// is thrown.
export async function retryWithBackoff(task, { retries = Infinity, shouldStop = () => false, backoff } = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await task(attempt);
    } catch (error) {
      if (attempt >= retries || shouldStop()) throw error;
      await sleep(backoffDelay(attempt, backoff));
      if (shouldStop()) throw error;
    }
  }
}

// A JSON WebSocket that reconnects after every close, except one with a code in
// `finalCodes`, or once `shouldStop()` says so or close() was called.
// `url` is a path on this site or a ws(s):// URL, or a function returning either (or a
// promise of it), called on every (re)connect with `true` when reconnecting, so a query
// (a resume point, a fresh token) can change between connections.
// The attempt count starts again when a socket opens, unless `resetOnOpen` is false (for
// servers that accept a socket only to close it with the reason).
export function keepOpen(
  url,
  { onEvent, onOpen = () => {}, onClose = () => {}, finalCodes = [4404], shouldStop = () => false, backoff, resetOnOpen = true },
) {
  let attempt = 0;
  let socket = null;
  let closed = false;
  const stopped = () => closed || shouldStop();

  async function connect(reconnecting) {
    let target = typeof url === "function" ? url(reconnecting) : url;
    if (target instanceof Promise) target = await target; // a plain URL connects at once
    if (stopped()) return;
    socket = new WebSocket(socketUrl(target));
    socket.onopen = () => {
      if (resetOnOpen) attempt = 0;
      onOpen(socket);
    };
    socket.onmessage = (message) => onEvent(JSON.parse(message.data));
    socket.onclose = (event) => {
      onClose(event);
      if (finalCodes.includes(event.code) || stopped()) return;
      setTimeout(() => stopped() || connect(true), backoffDelay(attempt++, backoff));
    };
  }
  connect(false);
  return {
    current: () => socket,
    close() {
      closed = true;
      socket?.close();
    },
  };
}
