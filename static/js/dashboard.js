// Copy buttons on the creator dashboard. Secrets (the stream key, the SRT URL that
// carries it) are fetched only on demand, from the button's data-url.
async function copyText(text, button) {
  await navigator.clipboard.writeText(text);
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => (button.textContent = label), 1500);
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.copy) {
    await copyText(document.querySelector(button.dataset.copy).value, button);
  } else if (button.dataset.url) {
    const response = await fetch(button.dataset.url, { credentials: "same-origin" });
    if (!response.ok) {
      button.textContent = "Unavailable";
      return;
    }
    await copyText(await response.text(), button);
  }
});

// Video quality: the bandwidth choice is sent only with an Advanced type (a disabled
// fieldset's inputs are left out of the form).
document.addEventListener("change", (event) => {
  if (event.target.name !== "type" || event.target.form?.id !== "video-quality") return;
  document.getElementById("quality-presets").disabled = !event.target.hasAttribute("data-advanced");
});
