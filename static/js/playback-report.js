// Viewer analytics: every few seconds the player tells the site how playback goes
// (rendition, bitrate, resolution, buffer, latency, stalls). Browser and OS are read from the
// request on the server; no address is stored there in clear.
const REPORT_EVERY_MS = 5000;
// What the site accepts as a rendition's name; another name is sent blank, not refused.
const RENDITION = /^[A-Za-z0-9._-]{1,32}$/;

export function reportPlayback(video, player, url) {
  const playbackId = crypto.randomUUID();
  let stalls = 0;
  let stalledSince = null;
  let stalledSeconds = 0;
  let started = false;
  video.addEventListener("playing", () => {
    started = true;
    if (stalledSince !== null) stalledSeconds += (performance.now() - stalledSince) / 1000;
    stalledSince = null;
  });
  video.addEventListener("waiting", () => {
    if (!started || stalledSince !== null) return; // the start-up buffering is no stall
    stalls += 1;
    stalledSince = performance.now();
  });

  function send() {
    if (video.hidden || video.paused || !started) return;
    const { bitrate, latency, rendition } = player.stats();
    const buffered = video.buffered.length ? video.buffered.end(video.buffered.length - 1) - video.currentTime : 0;
    const stalledNow = stalledSince === null ? 0 : (performance.now() - stalledSince) / 1000;
    const report = {
      playbackId,
      rendition: RENDITION.test(rendition ?? "") ? rendition : "",
      bitrate: bitrate ? Math.min(Math.round(bitrate), 100_000_000) : null,
      width: video.videoWidth || null,
      height: video.videoHeight || null,
      buffer: Math.max(0, Math.min(600, Number(buffered.toFixed(2)))),
      latency: latency == null || latency < 0 ? null : Math.min(3600, Number(latency.toFixed(2))),
      stalls,
      stalledSeconds: Math.min(600, Number((stalledSeconds + stalledNow).toFixed(2))),
    };
    stalls = 0;
    stalledSeconds = 0;
    if (stalledSince !== null) stalledSince = performance.now();
    fetch(url, { method: "POST", body: JSON.stringify(report), headers: { "Content-Type": "application/json" }, keepalive: true })
      .catch(() => {}); // a lost report only thins the figures
  }
  return setInterval(send, REPORT_EVERY_MS);
}
