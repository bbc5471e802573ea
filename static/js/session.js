// Session page: bitrate and frame rate over time.
const samples = JSON.parse(document.getElementById("health-samples").textContent);
const canvas = document.getElementById("health-chart");
if (canvas && samples.length) {
  const labels = samples.map((s) => new Date(s.t).toLocaleTimeString());
  new window.Chart(canvas, {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "Video bitrate (kbps)", data: samples.map((s) => s.kbps), yAxisID: "kbps",
          borderColor: "#9b5cff", backgroundColor: "rgba(155,92,255,.15)", fill: true, tension: 0.25, pointRadius: 0 },
        { label: "Frame rate (fps)", data: samples.map((s) => s.fps), yAxisID: "fps",
          borderColor: "#2ee6a6", tension: 0.25, pointRadius: 0 },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        kbps: { position: "left", beginAtZero: true, title: { display: true, text: "kbps" }, ticks: { color: "#aab" } },
        fps: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "fps" }, ticks: { color: "#aab" } },
        x: { ticks: { color: "#aab", maxTicksLimit: 10 } },
      },
      plugins: { legend: { labels: { color: "#dde" } } },
    },
  });
}
