// Django's CSRF token for the site's own POSTs from scripts. base.html puts it on
// <body hx-headers> for htmx, so scripts read it from there too (no inline script, no
// cookie parsing).
export function csrfHeaders() {
  const headers = document.body.getAttribute("hx-headers");
  return headers ? JSON.parse(headers) : {};
}

export function postWithCsrf(url, body) {
  return fetch(url, { method: "POST", body, headers: csrfHeaders(), credentials: "same-origin" });
}
