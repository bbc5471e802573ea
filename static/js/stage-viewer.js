// Stage viewer page: every publishing host in a grid, in real time.
import { createChat } from "./chat.js";
import { createGrid } from "./stage-grid.js";
import { createStageClient, tokenFetcher } from "./stage-client.js";
import { viewerGuestControls } from "./stage-guests.js";

const root = document.getElementById("viewer");
const empty = document.getElementById("stage-empty");
const count = document.getElementById("on-stage-count");
const errorBox = document.getElementById("studio-error");

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

const stage = createStageClient(root.dataset.driver, {
  fetchToken: tokenFetcher(root.dataset.tokenUrl),
  onParticipants: (participants) => grid.update(participants),
  onRemoved: () => showError("You were removed from this stage."),
  onError: showError,
});
const grid = createGrid(document.getElementById("stage-grid"), stage, {
  onCount: (n) => {
    empty.hidden = n > 0;
    count.hidden = n === 0;
    count.textContent = `${n} ON STAGE`;
  },
});
const chat = createChat(document.getElementById("chat"), {
  onEvent: viewerGuestControls((action) => chat.send(action)),
});
await stage.join();
window.addEventListener("pagehide", () => stage.leave());
