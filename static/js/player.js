// One small player interface with two drivers: hls.js for the local media plane,
// the IVS Player SDK when the channel is on Amazon IVS.
//   const player = createPlayer(videoElement, driverName, { onState, onMetadata, onQualities, getToken, live })
//   player.load(url); player.stats(); player.qualities(); player.setQuality(id | "auto"); player.destroy();
//   player.play(); player.pause(); player.setMuted(bool); player.setVolume(0..1);
//   player.liveLag(); player.goToLive();
// onMetadata(text) fires when the video reaches a PutMetadata entry. getToken() returns
// the playback token of a private channel (or nothing); it is read at every request,
// so a refreshed token takes effect without reloading. onQualities(qualities()) fires
// when the renditions or the one playing change: { list: [{ id, label }] highest first,
// selected: "auto" while the player picks by itself or the id pinned, active: the label
// playing now }.
// live: false (a replay) skips the live metadata feed, the live-edge settings and autoplay.
// liveLag() is { behind, limit } in seconds: how far playback is behind where the player
// would play live, and how far counts as "behind" (the controls then offer Go to live);
// null for a replay or before the stream is known. goToLive() jumps there and plays.

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

// A rendition's short name: the playlist's NAME ("720p30", "source"), else height and
// frame rate; "" while unknown (a single media playlist lists neither).
function levelLabel(level) {
  if (!level) return "";
  if (level.name) return level.name;
  if (!level.height) return "";
  return `${level.height}p${level.frameRate ? Math.round(level.frameRate) : ""}`;
}

// What the controls need, done on the <video> element itself: hls.js and Safari's native
// HLS play through it, and so does a replay that is a plain file.
export function elementMedia(video) {
  return {
    play: () => video.play().catch(() => {}),
    pause: () => video.pause(),
    setMuted: (muted) => (video.muted = muted),
    setVolume: (volume) => (video.volume = volume),
    liveLag: () => null,
    goToLive: () => {},
  };
}

// Safari plays live HLS natively about three segments from the end of what it can seek to
// and says nothing of the segment length: further back than this counts as behind.
const NATIVE_LIVE_LIMIT_SECONDS = 6;

function hlsDriver(video, { onState, onMetadata, onQualities, getToken, live }) {
  let hls = null;
  let stopMetadata = null;
  let bitrate = null; // measured from the segments loaded: nginx-rtmp lists no BANDWIDTH
  const qualities = () => {
    const levels = hls?.levels ?? [];
    const list = levels
      .map((level, id) => ({ id: String(id), level }))
      .sort((a, b) => b.level.height - a.level.height || b.level.bitrate - a.level.bitrate)
      .map(({ id, level }) => ({ id, label: levelLabel(level) || `${Math.round(level.bitrate / 1000)} kbps` }));
    const selected = !hls || hls.autoLevelEnabled ? "auto" : String(hls.manualLevel);
    return { list, selected, active: levelLabel(levels[hls?.currentLevel]) };
  };
  // Where playing live means: hls.js's live sync position (liveSyncDurationCount segments
  // from the end), or for Safari a little short of the end of the seekable range.
  const livePosition = () => {
    if (hls) return hls.liveSyncPosition;
    const { seekable } = video;
    return seekable.length ? Math.max(0, seekable.end(seekable.length - 1) - NATIVE_LIVE_LIMIT_SECONDS / 2) : null;
  };
  return {
    ...elementMedia(video),
    liveLag() {
      const position = live ? livePosition() : null;
      if (position == null) return null;
      const target = hls?.latestLevelDetails?.targetduration;
      return { behind: position - video.currentTime, limit: target ? 2 * target : NATIVE_LIVE_LIMIT_SECONDS };
    },
    goToLive() {
      const position = live ? livePosition() : null;
      if (position != null) video.currentTime = position;
      video.play().catch(() => {});
    },
    load(url) {
      this.destroy();
      if (live) stopMetadata = metadataFeed(url, () => hls, onMetadata, getToken);
      if (window.Hls && window.Hls.isSupported()) {
        const liveEdge = {
          lowLatencyMode: true,
          liveSyncDurationCount: 2, // two 1 s segments behind the live edge
          liveMaxLatencyDurationCount: 5,
          maxLiveSyncPlaybackRate: 1.1, // catch up gently after a stall instead of drifting behind
        };
        hls = new window.Hls({
          ...(live ? liveEdge : {}),
          startLevel: -1, // the first rendition is picked from the measured bandwidth too
          capLevelToPlayerSize: true, // a phone's small player never fetches 1080p
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
        hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
          onQualities(qualities());
          if (live) video.play().catch(() => {});
        });
        hls.on(window.Hls.Events.LEVEL_SWITCHED, () => onQualities(qualities()));
        hls.on(window.Hls.Events.ERROR, (_event, data) => {
          if (!data.fatal) return;
          onState("error", data.details);
          // The playlist may not exist yet right after going live: retry.
          setTimeout(() => hls && hls.loadSource(url), 1500);
        });
        hls.loadSource(url);
        hls.attachMedia(video);
      } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = withToken(url, getToken()); // Safari plays HLS natively (and picks renditions itself)
        if (live) video.play().catch(() => {});
      } else {
        onState("error", "This browser cannot play HLS");
      }
    },
    stats() {
      const level = hls?.levels?.[hls.currentLevel];
      return { bitrate: level?.bitrate || bitrate, latency: hls?.latency ?? null, rendition: levelLabel(level) };
    },
    qualities,
    setQuality(id) {
      if (!hls) return;
      // Auto takes over from the next segment; a chosen rendition replaces the buffer at once.
      if (id === "auto") hls.nextLevel = -1;
      else hls.currentLevel = Number(id);
      onQualities(qualities());
    },
    destroy() {
      if (hls) hls.destroy();
      hls = null;
      stopMetadata?.();
      stopMetadata = null;
      video.removeAttribute("src");
      onQualities(qualities());
    },
  };
}

// An IVS low-latency stream plays 2–5 s behind the broadcaster; further than this counts
// as behind (the SDK tells its latency, not where its live edge is).
const IVS_LIVE_LIMIT_SECONDS = 6;

function ivsDriver(video, { onState, onMetadata, onQualities, getToken, live }) {
  let player = null;
  let source = null; // the playback URL loaded, without its token (read again when reloading)
  // IVS names its qualities ("720p60", "source"); the name is the id.
  const qualities = () => {
    const list = (player?.getQualities() ?? [])
      .toSorted((a, b) => b.height - a.height || b.bitrate - a.bitrate)
      .map((quality) => ({ id: quality.name, label: quality.name }));
    const active = player?.getQuality()?.name ?? "";
    return { list, selected: !player || player.isAutoQualityMode() ? "auto" : active, active };
  };
  return {
    play: () => player?.play(),
    pause: () => player?.pause(),
    setMuted: (muted) => player?.setMuted(muted),
    setVolume: (volume) => player?.setVolume(volume),
    liveLag() {
      if (!player || !live || player.isPaused()) return null;
      return { behind: player.getLiveLatency(), limit: IVS_LIVE_LIMIT_SECONDS };
    },
    goToLive() {
      if (!player || !live) return;
      // The SDK keeps no window to seek in on a live stream: playing again after a pause
      // resumes at the live edge, and a player that fell behind while playing loads it afresh.
      if (!player.isPaused() && player.getLiveLatency() > IVS_LIVE_LIMIT_SECONDS) {
        player.load(withToken(source, getToken()));
      }
      player.play();
    },
    load(url) {
      if (!window.IVSPlayer || !window.IVSPlayer.isPlayerSupported) {
        onState("error", "The IVS player is not supported in this browser");
        return;
      }
      if (!player) {
        const { PlayerEventType, PlayerState } = window.IVSPlayer;
        player = window.IVSPlayer.create({
          wasmWorker: "/static/vendor/amazon-ivs-player/amazon-ivs-wasmworker.min.js",
          wasmBinary: "/static/vendor/amazon-ivs-player/amazon-ivs-wasmworker.min.wasm",
        });
        player.attachHTMLVideoElement(video);
        player.addEventListener(PlayerEventType.ERROR, (e) => onState("error", e.message || String(e)));
        player.addEventListener(PlayerEventType.TEXT_METADATA_CUE, (cue) => onMetadata(cue.text));
        player.addEventListener(PlayerState.READY, () => onQualities(qualities()));
        player.addEventListener(PlayerEventType.QUALITY_CHANGED, () => onQualities(qualities()));
      }
      player.setAutoplay(live);
      source = url;
      player.load(withToken(url, getToken()));
    },
    stats() {
      return {
        bitrate: player?.getQuality()?.bitrate ?? null,
        latency: player?.getLiveLatency() ?? null,
        rendition: player?.getQuality()?.name ?? "",
      };
    },
    qualities,
    setQuality(id) {
      if (!player) return;
      const chosen = player.getQualities().find((quality) => quality.name === id);
      if (id === "auto") player.setAutoQualityMode(true);
      else if (chosen) player.setQuality(chosen); // also turns auto mode off
      onQualities(qualities());
    },
    destroy() {
      if (player) player.delete();
      player = null;
      onQualities(qualities());
    },
  };
}

export function createPlayer(video, driver, options = {}) {
  const callbacks = {
    onState: options.onState || (() => {}),
    onMetadata: options.onMetadata || (() => {}),
    onQualities: options.onQualities || (() => {}),
    getToken: options.getToken || (() => null),
    live: options.live ?? true,
  };
  return driver === "ivs" ? ivsDriver(video, callbacks) : hlsDriver(video, callbacks);
}

// A player's quality menu: a <select> with Auto (naming the rendition it plays now) and
// each rendition, highest first; hidden while there is only one. Returns the function
// to give as onQualities; choose(id | "auto") is called when the viewer picks.
export function qualityMenu(select, choose) {
  select.addEventListener("change", () => choose(select.value));
  return ({ list, selected, active }) => {
    select.hidden = list.length < 2;
    const auto = selected === "auto" && active ? `Auto (${active})` : "Auto";
    const entries = [["auto", auto], ...list.map(({ id, label }) => [id, label])];
    // Rebuilt only when the renditions change, so Auto's switches do not reset an open menu.
    const same =
      select.options.length === entries.length &&
      entries.every(([id, label], i) => select.options[i].value === id && (i === 0 || select.options[i].text === label));
    if (same) select.options[0].text = entries[0][1];
    else select.replaceChildren(...entries.map(([id, label]) => new Option(label, id)));
    select.value = selected;
  };
}
