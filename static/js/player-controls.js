// The player's controls (templates/partials/player_controls.html) over a <video>:
// play/pause, mute and volume, full screen, and on a live channel "Go to live" while the
// viewer is behind the live edge; on a replay a seek bar and the time.
//   const controls = playerControls(frame, video, media, { live });
//   controls.show(bool) shows or hides the whole bar (a channel that is offline has none).
// `media` is a player from player.js (or elementMedia(video) for a plain file): play(),
// pause(), setMuted(), setVolume(), liveLag() and goToLive(). The displayed state is read
// back from the video element's own events, which every driver plays through.
// Keys work while focus is anywhere in the player (the frame is a tab stop of its own),
// so the chat's input keeps its keys.

const IDLE_MS = 3000; // the bar fades after this long without a pointer move while playing
const VOLUME_STEP = 0.1;
const SKIP_SECONDS = 5;

function clock(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "0:00";
  const whole = Math.floor(seconds);
  const [h, m, s] = [Math.floor(whole / 3600), Math.floor(whole / 60) % 60, whole % 60];
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

function spoken(seconds) {
  const whole = Math.floor(Number.isFinite(seconds) ? seconds : 0);
  const [m, s] = [Math.floor(whole / 60), whole % 60];
  return m ? `${m} min ${s} s` : `${s} s`;
}

export function playerControls(frame, video, media, { live }) {
  const bar = frame.querySelector("[data-player-controls]");
  const part = (name) => bar.querySelector(`[data-player="${name}"]`);
  const [play, mute, volume, fullscreen] = ["play", "mute", "volume", "fullscreen"].map(part);
  const [goLive, atLive, seek, time] = ["go-live", "at-live", "seek", "time"].map(part);
  let idleTimer = null;
  let seeking = false;

  // Behind the live edge: paused, or further behind than the driver allows (its lag limit);
  // back within half of it before the button goes, so it does not flicker at the limit.
  let behind = false;
  function showLiveEdge() {
    if (!live) return;
    const lag = media.liveLag();
    if (video.paused && video.readyState > 0) behind = true;
    else if (!lag) behind = false;
    else if (lag.behind > lag.limit) behind = true;
    else if (lag.behind < lag.limit / 2) behind = false;
    const moveFocus = goLive.hidden === false && behind === false && document.activeElement === goLive;
    goLive.hidden = !behind;
    atLive.hidden = behind;
    if (moveFocus) frame.focus(); // the button went away under the keyboard: stay in the player
  }

  function showPlaying() {
    const paused = video.paused;
    play.setAttribute("aria-label", paused ? "Play" : "Pause");
    frame.toggleAttribute("data-paused", paused);
    showLiveEdge();
  }

  function showVolume() {
    const muted = video.muted || video.volume === 0;
    mute.setAttribute("aria-label", muted ? "Unmute" : "Mute");
    frame.toggleAttribute("data-muted", muted);
    volume.value = muted ? 0 : video.volume;
    volume.setAttribute("aria-valuetext", muted ? "muted" : `${Math.round(video.volume * 100)}%`);
  }

  function showTime() {
    if (live) return showLiveEdge();
    const duration = Number.isFinite(video.duration) ? video.duration : 0;
    time.textContent = duration ? `${clock(video.currentTime)} / ${clock(duration)}` : clock(video.currentTime);
    seek.max = duration;
    if (!seeking) seek.value = video.currentTime;
    seek.setAttribute("aria-valuetext", `${spoken(video.currentTime)} of ${spoken(duration)}`);
  }

  const fullscreenElement = () => document.fullscreenElement ?? document.webkitFullscreenElement;
  function showFullscreen() {
    const on = fullscreenElement() === frame;
    fullscreen.setAttribute("aria-label", on ? "Exit full screen" : "Full screen");
    frame.toggleAttribute("data-fullscreen", on);
  }

  // The bar shows while the pointer moves over the player, while it is paused and
  // while focus is in it (CSS: [data-awake], [data-paused], :focus-within).
  function wake() {
    frame.toggleAttribute("data-awake", true);
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => frame.removeAttribute("data-awake"), IDLE_MS);
  }

  const togglePlay = () => (video.paused ? media.play() : media.pause());
  const toggleMute = () => {
    // Unmuting a player whose volume was taken down to nothing brings some back.
    if (video.muted || video.volume === 0) {
      if (video.volume === 0) media.setVolume(0.5);
      media.setMuted(false);
    } else media.setMuted(true);
  };
  const changeVolume = (by) => {
    const level = Math.min(1, Math.max(0, (video.muted ? 0 : video.volume) + by));
    media.setVolume(level);
    media.setMuted(level === 0);
  };
  const toggleFullscreen = () => {
    if (fullscreenElement()) (document.exitFullscreen ?? document.webkitExitFullscreen).call(document);
    else if (frame.requestFullscreen) frame.requestFullscreen().catch(() => {});
    else if (frame.webkitRequestFullscreen) frame.webkitRequestFullscreen();
    else video.webkitEnterFullscreen?.(); // an iPhone puts only a video element in full screen
  };
  const skip = (by) => {
    if (Number.isFinite(video.duration)) video.currentTime = Math.min(video.duration, Math.max(0, video.currentTime + by));
  };
  const goToLive = () => {
    media.goToLive();
    behind = false;
    showLiveEdge();
  };

  play.addEventListener("click", togglePlay);
  mute.addEventListener("click", toggleMute);
  fullscreen.addEventListener("click", toggleFullscreen);
  volume.addEventListener("input", () => {
    media.setVolume(Number(volume.value));
    media.setMuted(Number(volume.value) === 0);
  });
  if (live) goLive.addEventListener("click", goToLive);
  else {
    seek.addEventListener("input", () => {
      seeking = true;
      video.currentTime = Number(seek.value);
    });
    seek.addEventListener("change", () => (seeking = false));
  }
  const canFullscreen =
    document.fullscreenEnabled || document.webkitFullscreenEnabled || "webkitEnterFullscreen" in video;
  fullscreen.hidden = !canFullscreen;

  // A click on the picture plays or pauses; a tap on a touch screen shows the bar (its
  // buttons are where a finger plays and pauses).
  video.addEventListener("pointerup", (event) => {
    if (event.pointerType === "mouse") togglePlay();
    wake();
  });
  video.addEventListener("dblclick", toggleFullscreen);
  frame.addEventListener("pointermove", wake);

  // Keys (YouTube's): Space/K play and pause, M mutes, F full screen, L/End go to live;
  // arrows change the volume (left and right skip on a replay). A focused button,
  // slider or menu keeps the keys it has of its own (Space, Enter, arrows, letters in a menu).
  frame.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.target.tagName === "SELECT") return;
    const onButton = event.target.tagName === "BUTTON";
    const onSlider = event.target.tagName === "INPUT";
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const actions = {
      " ": !onButton && !onSlider && togglePlay,
      k: togglePlay,
      m: toggleMute,
      f: toggleFullscreen,
      l: live && goToLive,
      End: live && !onSlider && goToLive,
      ArrowUp: !onSlider && (() => changeVolume(VOLUME_STEP)),
      ArrowDown: !onSlider && (() => changeVolume(-VOLUME_STEP)),
      ArrowRight: !onSlider && (live ? () => changeVolume(VOLUME_STEP) : () => skip(SKIP_SECONDS)),
      ArrowLeft: !onSlider && (live ? () => changeVolume(-VOLUME_STEP) : () => skip(-SKIP_SECONDS)),
    };
    const action = actions[key];
    if (!action) return;
    event.preventDefault(); // no page scroll, no second press of a focused button
    action();
    wake();
  });

  for (const name of ["play", "pause", "playing", "waiting", "emptied"]) video.addEventListener(name, showPlaying);
  video.addEventListener("volumechange", showVolume);
  for (const name of ["timeupdate", "durationchange", "seeked", "loadedmetadata"]) video.addEventListener(name, showTime);
  document.addEventListener("fullscreenchange", showFullscreen);
  document.addEventListener("webkitfullscreenchange", showFullscreen);
  // The live edge moves on while paused, when no timeupdate comes.
  if (live) setInterval(showLiveEdge, 1000);
  showPlaying();
  showVolume();
  showTime();
  showFullscreen();

  return {
    show(shown) {
      bar.hidden = !shown;
      frame.tabIndex = shown ? 0 : -1;
    },
  };
}
