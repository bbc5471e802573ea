// Home page: viewer counts change in place; when a channel goes live or offline the
// lists are fetched again (htmx swaps just that part of the page).
const lists = document.getElementById("home-lists");

function connect(attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${lists.dataset.socketUrl}`);
  socket.onopen = () => (attempt = 0);
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "live.viewers") {
      for (const [slug, count] of Object.entries(event.viewers)) {
        const node = document.querySelector(`[data-live-viewers="${CSS.escape(slug)}"]`);
        if (node) node.textContent = `${count} watching`;
      }
    } else if (event.type === "live.changed") {
      htmx.ajax("GET", location.pathname, { target: "#home-lists", select: "#home-lists", swap: "outerHTML" });
    }
  };
  socket.onclose = () => {
    const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    setTimeout(() => connect(attempt + 1), delay);
  };
}

connect();
