// Launch acts on the saved campaign: once the form differs from what was loaded, Launch is disabled until saved.
// (The server refuses too: a page whose save failed carries no saved version, a stale page an old one.)
(function () {
  "use strict";
  const form = document.getElementById("campaign_form");
  const launch = document.querySelector("button[data-action=launch]");
  const note = document.querySelector("[data-launch-note]");
  if (!form || !launch || !note || launch.disabled) return; // disabled already: the page of a failed save
  // The composer's own controls (the preview's platform and language) are in the form but are not the campaign.
  const state = () => {
    const data = new FormData(form);
    form.querySelectorAll("[data-composer] [name]").forEach((element) => data.delete(element.name));
    return new URLSearchParams(data).toString();
  };
  let loaded = null; // taken once the admin's own scripts (select2, inlines) have set the form up

  function check() {
    if (loaded === null) return;
    const unsaved = state() !== loaded;
    launch.disabled = unsaved;
    note.hidden = !unsaved;
  }
  window.addEventListener("load", () => {
    loaded = state();
  });
  form.addEventListener("input", check);
  form.addEventListener("change", check);
  // select2 (autocomplete fields) announces its changes through jQuery only; inline rows come and go on clicks.
  if (window.django && window.django.jQuery) window.django.jQuery(form).on("change", check);
  form.addEventListener("click", () => setTimeout(check, 0));
})();
