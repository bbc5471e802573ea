// Channel page: follows the stream's live state over a WebSocket and starts or
// stops the player by itself. (The viewer count comes with the chat, chat.js.)
import { createChat } from "./chat.js";
import { reportPlayback } from "./playback-report.js";
import { createPlayer, qualityMenu } from "./player.js";
import { playerControls } from "./player-controls.js";
import { keepOpen } from "./socket.js";
import { viewerGuestControls } from "./stage-guests.js";

const root = document.getElementById("watch");
const video = document.getElementById("player");
const offline = document.getElementById("offline");
const badge = document.getElementById("live-badge");
const metadataCard = document.getElementById("metadata-card");
let hideCard = null;

// Timed metadata from the streamer (a poll, a product): shown over the video.
function showMetadata(text) {
  let shown = text;
  try {
    const data = JSON.parse(text);
    shown = data.question || data.title || data.text || text;
  } catch {
    // plain text
  }
  metadataCard.textContent = shown;
  metadataCard.hidden = false;
  clearTimeout(hideCard);
  hideCard = setTimeout(() => (metadataCard.hidden = true), 10000);
}

// A private channel plays with a playback token from the site, renewed before it expires.
let token = null;
async function renewToken() {
  const response = await fetch(root.dataset.tokenUrl, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`playback token refused: ${response.status}`);
  const answer = await response.json();
  token = answer.token;
  const renewIn = Math.max(10_000, new Date(answer.expiresAt) - Date.now() - 60_000);
  setTimeout(() => renewToken().catch(() => setTimeout(renewToken, 5000)), renewIn);
}

const player = createPlayer(video, root.dataset.driver, {
  onState: (state, detail) => console.debug("player", state, detail),
  onMetadata: showMetadata,
  onQualities: qualityMenu(document.getElementById("quality"), (id) => player.setQuality(id)),
  getToken: () => token,
});
reportPlayback(video, player, root.dataset.reportUrl);
video.controls = false; // the site's own controls take over from the browser's
const controls = playerControls(document.getElementById("player-frame"), video, player, { live: true });
let live = false;

async function show(isLive) {
  if (isLive === live) return;
  live = isLive;
  offline.hidden = isLive;
  video.hidden = !isLive;
  badge.hidden = !isLive;
  controls.show(isLive);
  root.dataset.live = String(isLive);
  if (isLive && root.dataset.tokenUrl && !token) {
    try {
      await renewToken();
    } catch (error) {
      console.warn(error);
      return;
    }
    if (!live) return; // went offline meanwhile
  }
  if (isLive) player.load(root.dataset.playbackUrl);
  else player.destroy();
}

if (root.dataset.live === "true") show(true);
keepOpen(root.dataset.stateUrl, {
  onEvent: (event) => {
    if (event.type === "stream.state") show(event.live);
  },
});
// A channel that goes live from the browser has guest spots: its viewers can be invited.
const guests = document.getElementById("invite") ? viewerGuestControls((action) => chat.send(action)) : undefined;
const chat = createChat(document.getElementById("chat"), { onEvent: guests });
