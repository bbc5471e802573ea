// One small player interface with two drivers: hls.js for the local media plane,
// the IVS Player SDK when the channel is on Amazon IVS.
//   const player = createPlayer(videoElement, driverName, { onState, onMetadata, getToken })
//   player.load(url); player.stats(); player.destroy();
// onMetadata(text) fires when the video reaches a PutMetadata entry. getToken() returns
// the playback token of a private channel (or nothing); it is read at every request,
// so a refreshed token takes effect without reloading.

import { keepOpen } from "./socket.js";

// Between nginx receiving a frame and its segment being listed (bench.hls_latency).
const PACKAGING_DELAY_MS = 600;

// The local plane sends each entry with the time it was put; it is shown once this
// player's own delay behind live has passed, i.e. with the video it belongs to.
function metadataFeed(url, hlsRef, onMetadata, getToken) {
  const channelId = url.split("/").at(-2);
  let closed = false;
  // A private channel's metadata needs its playback token too (read at every reconnect).
  const path = `/_plane/metadata/${channelId}`;
  const socket = keepOpen(() => (getToken() ? `${path}?token=${encodeURIComponent(getToken())}` : path), {
    onEvent: (event) => {
      if (event.type !== "metadata") return;
      const behind = (hlsRef()?.latency ?? 3) * 1000 + PACKAGING_DELAY_MS;
      setTimeout(() => !closed && onMetadata(event.metadata), Math.max(0, event.at + behind - Date.now()));
    },
    shouldStop: () => closed,
  });
  return () => {
    closed = true;
    socket.close();
  };
}

function withToken(url, token) {
  if (!token) return url;
  const withIt = new URL(url, window.location.href);
  withIt.searchParams.set("token", token);
  return withIt.toString();
}

function hlsDriver(video, { onState, onMetadata, getToken }) {
  let hls = null;
  let stopMetadata = null;
  let bitrate = null; // measured from the segments loaded: nginx-rtmp lists no BANDWIDTH
  return {
    load(url) {
      this.destroy();
      stopMetadata = metadataFeed(url, () => hls, onMetadata, getToken);
      if (window.Hls && window.Hls.isSupported()) {
        hls = new window.Hls({
          lowLatencyMode: true,
          liveSyncDurationCount: 2, // two 1 s segments behind the live edge
          liveMaxLatencyDurationCount: 5,
          maxLiveSyncPlaybackRate: 1.1, // catch up gently after a stall instead of drifting behind
          // A private channel's playlist and every segment carry the playback token.
          xhrSetup: (xhr, requestUrl) => {
            const token = getToken();
            if (token) xhr.open("GET", withToken(requestUrl, token), true);
          },
        });
        hls.on(window.Hls.Events.FRAG_LOADED, (_event, data) => {
          const seconds = data.frag.duration;
          if (seconds > 0) bitrate = Math.round((data.frag.stats.total * 8) / seconds);
        });
        hls.on(window.Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
        hls.on(window.Hls.Events.ERROR, (_event, data) => {
          if (!data.fatal) return;
          onState("error", data.details);
          // The playlist may not exist yet right after going live: retry.
          setTimeout(() => hls && hls.loadSource(url), 1500);
        });
        hls.loadSource(url);
        hls.attachMedia(video);
      } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = withToken(url, getToken()); // Safari plays HLS natively
        video.play().catch(() => {});
      } else {
        onState("error", "This browser cannot play HLS");
      }
    },
    stats() {
      const level = hls?.levels?.[hls.currentLevel];
      return { bitrate: level?.bitrate || bitrate, latency: hls?.latency ?? null };
    },
    destroy() {
      if (hls) hls.destroy();
      hls = null;
      stopMetadata?.();
      stopMetadata = null;
      video.removeAttribute("src");
    },
  };
}

function ivsDriver(video, { onState, onMetadata, getToken }) {
  let player = null;
  return {
    load(url) {
      if (!window.IVSPlayer || !window.IVSPlayer.isPlayerSupported) {
        onState("error", "The IVS player is not supported in this browser");
        return;
      }
      player = player || window.IVSPlayer.create({
        wasmWorker: "/static/vendor/amazon-ivs-player/amazon-ivs-wasmworker.min.js",
        wasmBinary: "/static/vendor/amazon-ivs-player/amazon-ivs-wasmworker.min.wasm",
      });
      player.attachHTMLVideoElement(video);
      player.addEventListener(window.IVSPlayer.PlayerEventType.ERROR, (e) => onState("error", e.message || String(e)));
      player.addEventListener(window.IVSPlayer.PlayerEventType.TEXT_METADATA_CUE, (cue) => onMetadata(cue.text));
      player.setAutoplay(true);
      player.load(withToken(url, getToken()));
    },
    stats() {
      return { bitrate: player?.getQuality()?.bitrate ?? null, latency: player?.getLiveLatency() ?? null };
    },
    destroy() {
      if (player) player.delete();
      player = null;
    },
  };
}

export function createPlayer(video, driver, options = {}) {
  const callbacks = {
    onState: options.onState || (() => {}),
    onMetadata: options.onMetadata || (() => {}),
    getToken: options.getToken || (() => null),
  };
  return driver === "ivs" ? ivsDriver(video, callbacks) : hlsDriver(video, callbacks);
}
