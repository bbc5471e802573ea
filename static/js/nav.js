// The header's menu button on narrow screens. Loaded as a plain script in <head>, so the
// class below is set before the first paint: the stylesheet folds the menu away only on
// pages where this script runs (without it the links stay open under the brand).
document.documentElement.classList.add("nav-js");

function menuButton() {
  return document.querySelector(".menu-toggle");
}

function setOpen(button, open) {
  button.setAttribute("aria-expanded", String(open));
}

document.addEventListener("click", (event) => {
  const button = menuButton();
  if (!button) return;
  if (event.target.closest?.(".menu-toggle")) {
    setOpen(button, button.getAttribute("aria-expanded") !== "true");
  } else if (button.getAttribute("aria-expanded") === "true" && !event.target.closest?.(".topbar")) {
    // A tap anywhere outside the header puts the menu away.
    setOpen(button, false);
  }
});

document.addEventListener("keydown", (event) => {
  const button = menuButton();
  if (event.key !== "Escape" || button?.getAttribute("aria-expanded") !== "true") return;
  setOpen(button, false);
  button.focus();
});
