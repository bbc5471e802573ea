// Go live from the browser: go on the studio stage if needed, then ask the site to
// composite the stage into the channel; follow the composition's state until it ends.
import { postWithCsrf } from "./csrf.js";

const studio = document.getElementById("studio");
const panel = document.getElementById("go-live");
const badge = document.getElementById("broadcast-state");
const start = document.getElementById("broadcast-start");
const stop = document.getElementById("broadcast-stop");
const errorBox = document.getElementById("broadcast-error");
let onStage = false;
let polling = null;

studio.addEventListener("stagechange", (event) => (onStage = event.detail.onStage));

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

const LABELS = { OFF: "OFFLINE", STARTING: "STARTING…", ACTIVE: "LIVE", STOPPING: "ENDING…", STOPPED: "OFFLINE", FAILED: "FAILED" };

function show(state) {
  badge.textContent = LABELS[state] || state;
  badge.className = state === "ACTIVE" ? "badge live" : "badge off";
  const running = ["STARTING", "ACTIVE", "STOPPING"].includes(state);
  start.hidden = running;
  stop.hidden = !running;
  if (state === "FAILED") showError("The broadcast failed. Try going live again.");
}

async function refresh() {
  const response = await fetch(panel.dataset.statusUrl, { credentials: "same-origin" });
  const body = await response.json();
  show(body.state);
  if (!["STARTING", "ACTIVE", "STOPPING"].includes(body.state)) {
    clearInterval(polling);
    polling = null;
  }
}

function follow() {
  if (!polling) polling = setInterval(refresh, 2000);
  refresh();
}

// The host studio (stage-host.js) goes on stage as its join button would, once ready.
function whenOnStage() {
  if (onStage) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (ok) => (ok ? resolve() : reject(new Error("Go on stage first: see the message above.")));
    studio.dispatchEvent(new CustomEvent("stagerequest", { detail: { done } }));
  });
}

start.addEventListener("click", async () => {
  showError("");
  start.disabled = true;
  try {
    await whenOnStage();
    const form = new FormData();
    form.set("preset", document.getElementById("broadcast-preset").value);
    form.set("layout", document.getElementById("broadcast-layout").value);
    // One token per click: a retried request cannot start a second composition.
    form.set("token", `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
    const response = await postWithCsrf(panel.dataset.startUrl, form);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error);
    show(body.state);
    follow();
  } catch (error) {
    showError(error.message);
  } finally {
    start.disabled = false;
  }
});

stop.addEventListener("click", async () => {
  const response = await postWithCsrf(panel.dataset.stopUrl);
  if (!response.ok) showError((await response.json()).error);
  follow();
});

follow();
