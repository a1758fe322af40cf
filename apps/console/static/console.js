// The console's only script of its own (served from /console/static; the CSP allows no inline
// script). Pages work without it; it adds the copy button and the confirmation of destructive forms.
(() => {
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    const field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    const done = () => {
      button.textContent = "Copied";
    };
    if (navigator.clipboard?.writeText) {
      navigator.clipboard.writeText(field.value).then(done, () => {
        field.select();
      });
    } else {
      field.select();
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // a page holding a one-time secret is never shown again from the back/forward cache
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && document.getElementById("secret")) window.location.reload();
  });
})();
