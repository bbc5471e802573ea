// Behaviour every page's forms may ask for with data attributes (the pages carry no
// inline script, so the Content-Security-Policy can forbid it):
//   <form data-confirm="Delete this stage?">  asks before submitting;
//   <input data-autosubmit>                   submits its form when it changes.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset?.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  if (event.target.matches?.("[data-autosubmit]")) event.target.form?.requestSubmit();
});
