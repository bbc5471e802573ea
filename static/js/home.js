// Home page: viewer counts change in place; when a channel goes live or offline the
// lists are fetched again (htmx swaps just that part of the page).
import { keepOpen } from "./socket.js";

const lists = document.getElementById("home-lists");

keepOpen(lists.dataset.socketUrl, {
  onEvent: (event) => {
    if (event.type === "live.viewers") {
      for (const [slug, count] of Object.entries(event.viewers)) {
        const node = document.querySelector(`[data-live-viewers="${CSS.escape(slug)}"]`);
        if (node) node.textContent = `${count} watching`;
      }
    } else if (event.type === "live.changed") {
      htmx.ajax("GET", location.pathname, { target: "#home-lists", select: "#home-lists", swap: "outerHTML" });
    }
  },
});

// Live thumbnails: refreshed every 10 s; until the first exists, the initial shows.
function watchThumbnails() {
  for (const image of document.querySelectorAll("[data-live-thumbnail]")) {
    image.onerror = () => (image.style.visibility = "hidden");
    image.onload = () => (image.style.visibility = "visible");
  }
}
watchThumbnails();
document.body.addEventListener("htmx:afterSwap", watchThumbnails);
setInterval(() => {
  for (const image of document.querySelectorAll("[data-live-thumbnail]")) {
    image.src = `${image.src.split("?")[0]}?t=${Date.now()}`;
  }
}, 10000);
