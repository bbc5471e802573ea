// The grid of hosts on a stage: one tile per publishing participant, added and
// removed as they come and go, each asking for the simulcast layer its size needs.
import { retryWithBackoff } from "./socket.js";

function layerFor(width) {
  if (width < 360) return "low";
  if (width < 720) return "medium";
  return "high";
}

export function createGrid(container, stage, { onCount = () => {} } = {}) {
  const tiles = new Map(); // participantId -> { figure, video, observer }

  function layout() {
    const count = container.querySelectorAll(".tile").length;
    container.style.setProperty("--cols", String(Math.max(1, Math.ceil(Math.sqrt(count)))));
  }

  function subscribeWithRetry(participantId, video) {
    // 404 right after a host goes on: their media is not flowing yet. Try again, six
    // times at most (0.5 s, 1 s, … 16 s apart), while their tile is still shown.
    retryWithBackoff(() => stage.subscribe(participantId, video, { layer: layerFor(video.clientWidth || 640) }), {
      retries: 6,
      shouldStop: () => !tiles.has(participantId),
      backoff: { cap: Infinity, jitter: false },
    }).catch(() => {});
  }

  function add(participant) {
    const figure = document.createElement("figure");
    figure.className = "tile";
    figure.dataset.participantId = participant.participantId;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // browsers only autoplay muted; a click unmutes
    figure.addEventListener("click", () => (video.muted = !video.muted));
    const caption = document.createElement("figcaption");
    caption.textContent = participant.attributes?.username || participant.userId || "host";
    figure.append(video, caption);
    container.append(figure);
    const observer = new ResizeObserver(() => stage.setLayer(participant.participantId, layerFor(video.clientWidth)));
    observer.observe(video);
    tiles.set(participant.participantId, { figure, video, observer });
    layout();
    subscribeWithRetry(participant.participantId, video);
  }

  function remove(participantId) {
    const tile = tiles.get(participantId);
    if (!tile) return;
    tiles.delete(participantId);
    tile.observer.disconnect();
    tile.figure.remove();
    stage.unsubscribe(participantId);
    layout();
  }

  return {
    update(participants) {
      const publishing = participants.filter((p) => p.published && !stage.isOwn(p.participantId));
      const ids = new Set(publishing.map((p) => p.participantId));
      for (const id of [...tiles.keys()]) if (!ids.has(id)) remove(id);
      for (const p of publishing) if (!tiles.has(p.participantId)) add(p);
      onCount(publishing.length);
    },
  };
}
