// Channel page: follows the stream's live state over a WebSocket and starts or
// stops the player by itself. (The viewer count comes with the chat, chat.js.)
import { createChat } from "./chat.js";
import { createPlayer } from "./player.js";

const root = document.getElementById("watch");
const video = document.getElementById("player");
const offline = document.getElementById("offline");
const badge = document.getElementById("live-badge");
const player = createPlayer(video, root.dataset.driver, {
  onState: (state, detail) => console.debug("player", state, detail),
});
let live = false;

function show(isLive, playbackUrl) {
  if (isLive === live) return;
  live = isLive;
  offline.hidden = isLive;
  video.hidden = !isLive;
  badge.hidden = !isLive;
  root.dataset.live = String(isLive);
  if (isLive) player.load(playbackUrl);
  else player.destroy();
}

function connect(attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${root.dataset.stateUrl}`);
  socket.onopen = () => (attempt = 0);
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type !== "stream.state") return;
    show(event.live, event.playbackUrl);
  };
  socket.onclose = (event) => {
    if (event.code === 4404) return; // channel gone
    // Reconnect with capped exponential back-off and jitter.
    const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    setTimeout(() => connect(attempt + 1), delay);
  };
}

if (root.dataset.live === "true") show(true, root.dataset.playbackUrl);
connect();
createChat(document.getElementById("chat"));
