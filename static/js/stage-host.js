// Host studio: pick devices, preview, go on stage (WHIP or the IVS SDK), mute,
// camera off, share screen, leave; other hosts appear in the grid beside you.
import { createChat } from "./chat.js";
import { createGrid } from "./stage-grid.js";
import { createStageClient, isUnavailable, tokenFetcher } from "./stage-client.js";
import { guestStudioControls, hostGuestControls } from "./stage-guests.js";
import { retryWithBackoff } from "./socket.js";

const root = document.getElementById("studio");
const preview = document.getElementById("preview");
const cameraSelect = document.getElementById("camera-select");
const micSelect = document.getElementById("mic-select");
const joinButton = document.getElementById("join");
const leaveButton = document.getElementById("leave");
const micButton = document.getElementById("toggle-mic");
const cameraButton = document.getElementById("toggle-camera");
const shareButton = document.getElementById("share-screen");
const state = document.getElementById("stage-state");
const errorBox = document.getElementById("studio-error");

let local = null; // MediaStream from camera + microphone
let screen = null;
let onStage = false;

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

const stage = createStageClient(root.dataset.driver, {
  fetchToken: tokenFetcher(root.dataset.tokenUrl),
  onParticipants: (participants) => grid.update(participants),
  onRemoved: (why) => {
    setOnStage(false);
    showError(`You were removed from the stage (${why}).`);
  },
  onError: showError,
});
const grid = createGrid(document.getElementById("stage-grid"), stage);

async function openDevices() {
  const constraints = {
    audio: micSelect.value ? { deviceId: { exact: micSelect.value } } : true,
    video: cameraSelect.value
      ? { deviceId: { exact: cameraSelect.value }, width: 1280, height: 720 }
      : { width: 1280, height: 720 },
  };
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  local?.getTracks().forEach((t) => t.stop());
  local = stream;
  preview.srcObject = local;
  await listDevices();
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [select, kind] of [[cameraSelect, "videoinput"], [micSelect, "audioinput"]]) {
    const current = select.value || local?.getTracks().find((t) => t.kind === kind.slice(0, 5))?.getSettings().deviceId;
    select.replaceChildren(
      ...devices.filter((d) => d.kind === kind).map((d, i) => new Option(d.label || `${kind} ${i + 1}`, d.deviceId)),
    );
    if (current) select.value = current;
  }
}

function setOnStage(value) {
  onStage = value;
  root.dispatchEvent(new CustomEvent("stagechange", { detail: { onStage: value } }));
  joinButton.hidden = value;
  leaveButton.hidden = !value;
  state.textContent = value ? "ON STAGE" : "OFF STAGE";
  state.className = value ? "badge live" : "badge off";
}

// Go on stage once the page is ready (devices open, stage connection made); true if on
// stage after. The join button and the go-live panel ("stagerequest") both come here,
// and share one attempt: a second click while it runs never publishes twice.
let joining = null;
function goOnStage() {
  joining ??= publishOnStage().finally(() => (joining = null));
  return joining;
}

async function publishOnStage() {
  if (!(await ready)) return false;
  if (onStage) return true;
  joinButton.disabled = true;
  showError("");
  // While the media server is down (503) the page says so and keeps trying, so the host
  // goes on stage by themselves once it is back; any other refusal is final.
  let lastError = null;
  try {
    await retryWithBackoff(
      () =>
        stage.publish(local).catch((error) => {
          lastError = error;
          if (isUnavailable(error)) showError(`Stage video is unavailable right now (${error.message}). Trying again…`);
          throw error;
        }),
      { shouldStop: () => !isUnavailable(lastError), backoff: { cap: 5000 } },
    );
    showError("");
    setOnStage(true);
  } catch (error) {
    showError(`Could not go on stage: ${error.message}`);
  } finally {
    joinButton.disabled = false;
  }
  return onStage;
}
joinButton.addEventListener("click", goOnStage);
root.addEventListener("stagerequest", (event) => goOnStage().then(event.detail.done));

leaveButton.addEventListener("click", async () => {
  await stage.unpublish();
  setOnStage(false);
});

micButton.addEventListener("click", () => {
  const track = local.getAudioTracks()[0];
  track.enabled = !track.enabled;
  micButton.textContent = track.enabled ? "Mute" : "Unmute";
});

cameraButton.addEventListener("click", () => {
  const track = local.getVideoTracks()[0];
  track.enabled = !track.enabled;
  cameraButton.textContent = track.enabled ? "Camera off" : "Camera on";
});

shareButton.addEventListener("click", async () => {
  if (screen) return stopSharing();
  try {
    screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
  } catch {
    return; // the user cancelled
  }
  const track = screen.getVideoTracks()[0];
  track.addEventListener("ended", stopSharing);
  preview.srcObject = screen;
  if (onStage) await stage.replaceTrack(track);
  shareButton.textContent = "Stop sharing";
});

async function stopSharing() {
  screen?.getTracks().forEach((t) => t.stop());
  screen = null;
  preview.srcObject = local;
  if (onStage) await stage.replaceTrack(local.getVideoTracks()[0]);
  shareButton.textContent = "Share screen";
}

async function switchDevices() {
  await openDevices();
  if (!onStage) return;
  await stage.replaceTrack(local.getAudioTracks()[0]);
  if (!screen) await stage.replaceTrack(local.getVideoTracks()[0]);
}
cameraSelect.addEventListener("change", switchDevices);
micSelect.addEventListener("change", switchDevices);

const guestControls = root.dataset.role === "host" ? hostGuestControls : guestStudioControls;
const chat = createChat(document.getElementById("chat"), { onEvent: guestControls((action) => chat.send(action)) });

// "Go on stage" waits for the devices and the stage connection: publishing needs both.
joinButton.disabled = true;
// Resolves to whether this page can publish; the stage is joined either way (the grid).
const ready = (async () => {
  // Browsers give camera and microphone only to secure origins: say so plainly rather
  // than leave a button that does nothing.
  if (!window.isSecureContext || !navigator.mediaDevices) {
    document.getElementById("insecure-origin").hidden = false;
    for (const control of [cameraSelect, micSelect, micButton, cameraButton, shareButton]) control.disabled = true;
    await stage.join().catch(() => {}); // others on stage still show in the grid
    return false;
  }
  let devicesOpen = false;
  try {
    await openDevices();
    devicesOpen = true;
  } catch (error) {
    showError(`Camera or microphone unavailable: ${error.message}`);
  }
  try {
    await stage.join();
  } catch (error) {
    showError(`Could not connect to the stage: ${error.message}`);
    return false;
  }
  joinButton.disabled = !devicesOpen;
  return devicesOpen;
})();
window.addEventListener("pagehide", () => stage.leave());
