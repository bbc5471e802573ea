// Session page: ingest health, and how the audience watched (one point per minute,
// folded by Celery from the players' reports).
const AXIS = { ticks: { color: "#aab" } };
const LEGEND = { legend: { labels: { color: "#dde" } } };

function chart(canvas, labels, datasets, scales) {
  new window.Chart(canvas, {
    type: "line",
    data: { labels, datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: { ...scales, x: { ticks: { color: "#aab", maxTicksLimit: 10 } } },
      plugins: LEGEND,
    },
  });
}

function axis(position, text, extra = {}) {
  return { position, beginAtZero: true, title: { display: true, text }, ...AXIS, ...extra };
}

// Points are drawn only while there are few, so a short broadcast still shows its figures.
const line = (label, data, yAxisID, color, fill = false) => ({
  label, data, yAxisID, borderColor: color, backgroundColor: `${color}33`, fill, tension: 0.25,
  pointRadius: data.length < 20 ? 3 : 0,
});

const samples = JSON.parse(document.getElementById("health-samples").textContent);
const health = document.getElementById("health-chart");
if (health && samples.length) {
  chart(
    health,
    samples.map((s) => new Date(s.t).toLocaleTimeString()),
    [line("Video bitrate (kbps)", samples.map((s) => s.kbps), "kbps", "#9b5cff", true),
     line("Frame rate (fps)", samples.map((s) => s.fps), "fps", "#2ee6a6")],
    { kbps: axis("left", "kbps"), fps: axis("right", "fps", { grid: { drawOnChartArea: false } }) },
  );
}

const minutes = JSON.parse(document.getElementById("audience-minutes").textContent);
if (minutes.length) {
  const labels = minutes.map((m) => new Date(m.t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  chart(
    document.getElementById("audience-chart"),
    labels,
    [line("Concurrent viewers", minutes.map((m) => m.viewers), "viewers", "#9b5cff", true),
     { ...line("Chat messages / min", minutes.map((m) => m.chat), "chat", "#ffb347"), type: "bar" }],
    { viewers: axis("left", "viewers"), chat: axis("right", "messages", { grid: { drawOnChartArea: false } }) },
  );
  chart(
    document.getElementById("quality-chart"),
    labels,
    [line("Bitrate played (kbps)", minutes.map((m) => m.kbps), "kbps", "#2ee6a6", true),
     line("Latency (s, median)", minutes.map((m) => m.latency), "seconds", "#5ab0ff"),
     line("Buffer (s, mean)", minutes.map((m) => m.buffer), "seconds", "#dde"),
     { ...line("Stalls", minutes.map((m) => m.stalls), "seconds", "#ff5c7a"), type: "bar" }],
    { kbps: axis("left", "kbps"), seconds: axis("right", "seconds / stalls", { grid: { drawOnChartArea: false } }) },
  );
}
