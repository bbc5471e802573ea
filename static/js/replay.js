// Replay page: the recording, with the broadcast's chat shown as it happened: each
// message appears when the video reaches the moment it was sent, also after a seek.
import { messageLine } from "./chat.js";
import { createPlayer, elementMedia, qualityMenu } from "./player.js";
import { playerControls } from "./player-controls.js";

const video = document.getElementById("replay");
const panel = document.getElementById("chat");
const list = panel.querySelector(".chat-messages");
const status = panel.querySelector(".chat-status");
const SHOWN_AT_MOST = 200;
let messages = [];
let next = 0; // index of the first message not shown yet

function render() {
  const now = video.currentTime;
  // Sought back: start over from the beginning of the chat.
  if (next > 0 && messages[next - 1].offset > now) {
    list.replaceChildren();
    next = 0;
  }
  const fresh = [];
  while (next < messages.length && messages[next].offset <= now) fresh.push(messages[next++]);
  if (!fresh.length) return;
  list.append(...fresh.slice(-SHOWN_AT_MOST).map(messageLine));
  while (list.childElementCount > SHOWN_AT_MOST) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

fetch(panel.dataset.chatUrl, { credentials: "same-origin" })
  .then((response) => (response.ok ? response.json() : Promise.reject(new Error(String(response.status)))))
  .then((answer) => {
    messages = answer.messages;
    status.textContent = messages.length ? "" : "Nobody chatted during this broadcast.";
    status.hidden = Boolean(messages.length);
    render();
    video.addEventListener("timeupdate", render);
    video.addEventListener("seeked", render);
  })
  .catch(() => {
    status.textContent = "The chat of this broadcast could not be loaded.";
    status.hidden = false;
  });

// A recording that is an HLS playlist plays with hls.js, which offers its renditions
// in the quality menu; an MP4 file (what recordings are today) plays natively.
// The playlist's token goes on each segment too (a relative link would drop it).
let token = video.dataset.hlsSrc ? new URL(video.dataset.hlsSrc, window.location.href).searchParams.get("token") : null;
let player = null;
if (video.dataset.hlsSrc && window.Hls?.isSupported()) {
  player = createPlayer(video, "hls", {
    live: false,
    getToken: () => token,
    onState: () => video.dataset.tokenUrl && renewSource().catch(console.warn),
    onQualities: qualityMenu(document.getElementById("quality"), (id) => player.setQuality(id)),
  });
  player.load(video.dataset.hlsSrc);
} else if (video.dataset.hlsSrc) {
  video.src = video.dataset.hlsSrc; // Safari plays HLS natively
}
video.controls = false; // the site's own controls take over from the browser's
playerControls(document.getElementById("player-frame"), video, player ?? elementMedia(video), { live: false }).show(true);

// A private channel's recording plays with the viewer's playback token, which lasts
// minutes: when a request fails because it ran out, ask for a new one and carry on
// from the same moment (at most once a minute, so a refusal does not loop).
let renewedAt = 0;
async function renewSource() {
  if (Date.now() - renewedAt < 60_000) return;
  renewedAt = Date.now();
  const response = await fetch(video.dataset.tokenUrl, { credentials: "same-origin" });
  if (!response.ok) return;
  ({ token } = await response.json());
  if (player) return; // hls.js retries with the new token by itself
  const url = new URL(video.currentSrc || video.src);
  url.searchParams.set("token", token);
  const [at, playing] = [video.currentTime, !video.paused];
  video.src = url.href;
  video.addEventListener(
    "loadedmetadata",
    () => {
      video.currentTime = at;
      if (playing) video.play().catch(() => {});
    },
    { once: true },
  );
}
if (video.dataset.tokenUrl) video.addEventListener("error", () => renewSource().catch(console.warn));
