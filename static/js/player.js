// One small player interface with two drivers: hls.js for the local media plane,
// the IVS Player SDK when the channel is on Amazon IVS.
//   const player = createPlayer(videoElement, driverName, { onState })
//   player.load(url); player.destroy();

function hlsDriver(video, { onState }) {
  let hls = null;
  return {
    load(url) {
      this.destroy();
      if (window.Hls && window.Hls.isSupported()) {
        hls = new window.Hls({
          lowLatencyMode: true,
          liveSyncDurationCount: 2, // two 1 s segments behind the live edge
          liveMaxLatencyDurationCount: 5,
          maxLiveSyncPlaybackRate: 1.1, // catch up gently after a stall instead of drifting behind
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
        video.src = url; // Safari plays HLS natively
        video.play().catch(() => {});
      } else {
        onState("error", "This browser cannot play HLS");
      }
    },
    destroy() {
      if (hls) hls.destroy();
      hls = null;
      video.removeAttribute("src");
    },
  };
}

function ivsDriver(video, { onState }) {
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
      player.setAutoplay(true);
      player.load(url);
    },
    destroy() {
      if (player) player.delete();
      player = null;
    },
  };
}

export function createPlayer(video, driver, options = {}) {
  const onState = options.onState || (() => {});
  return driver === "ivs" ? ivsDriver(video, { onState }) : hlsDriver(video, { onState });
}
