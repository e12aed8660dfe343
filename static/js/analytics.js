// Analytics page enhancements; the page works without them (times then show in UTC).
(function () {
  // Fill the hidden time zone field with the browser's zone. If the page was drawn in
  // another zone (a first visit, or a shared link without one), ask for it again.
  function detectTimeZone() {
    const field = document.querySelector("input[data-detect-tz]");
    if (!field || field.value) return;
    let zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (err) {
      return;
    }
    if (!zone) return;
    field.value = zone;
    if (zone !== "UTC" && field.form) field.form.requestSubmit();
  }

  // Editing a date of the custom range selects "Custom range" (applied with Apply).
  document.addEventListener("change", (event) => {
    const input = event.target.closest("input[data-custom-range]");
    if (!input || !input.form) return;
    const range = input.form.querySelector("select[name=range]");
    if (range) range.value = "custom";
  });

  // After htmx has set up the form (it does so on DOMContentLoaded, and its listener was
  // added first), so that the new request is an htmx one.
  if (document.readyState === "complete") {
    detectTimeZone();
  } else {
    document.addEventListener("DOMContentLoaded", detectTimeZone);
  }
})();
