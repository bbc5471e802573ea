// A JSON WebSocket to this site that comes back by itself: capped exponential back-off
// with jitter, so a server restart is not met by every page at the same instant.
// `path` may be a function, evaluated on every (re)connect; closing with one of
// `finalCodes` (or when `shouldStop()` says so) ends the retries.
export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

export function backoffDelay(attempt, cap = 15000) {
  return Math.min(cap, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
}

export function keepOpen(path, { onEvent, onOpen = () => {}, onClose = () => {}, finalCodes = [4404], shouldStop = () => false }) {
  let attempt = 0;
  let socket = null;
  function connect() {
    socket = new WebSocket(socketUrl(typeof path === "function" ? path() : path));
    socket.onopen = () => {
      attempt = 0;
      onOpen(socket);
    };
    socket.onmessage = (message) => onEvent(JSON.parse(message.data));
    socket.onclose = (event) => {
      onClose(event);
      if (finalCodes.includes(event.code) || shouldStop()) return;
      setTimeout(connect, backoffDelay(attempt++));
    };
  }
  connect();
  return { current: () => socket };
}
