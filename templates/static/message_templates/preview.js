// The template page's preview (panel and requests: push-preview.js).
// Editable page: the form's fields as they are being typed go to the endpoint (form mode), which renders them with
// the sample context exactly as a send would. Read-only page (view permission only): there are no inputs to read,
// so the endpoint renders the saved template and its saved translations (saved mode).
(function () {
  "use strict";
  const script = document.currentScript;
  const url = script.dataset.previewUrl;
  const templateId = script.dataset.templateId;
  const form = document.getElementById("messagetemplate_form");
  const panel = document.getElementById("push-preview");
  if (!form || !panel || !window.PushcartPreview) return;
  const { render, request } = window.PushcartPreview;
  const localeSelect = panel.querySelector("[data-preview-control=locale]");
  const value = (id) => (document.getElementById(id) || {}).value || "";
  const editable = Boolean(form.querySelector("#id_title:not([readonly]):not([disabled])"));

  function translations() {
    const rows = [];
    form.querySelectorAll("input[name^='translations-'][name$='-locale']").forEach((input) => {
      const prefix = input.name.slice(0, -"locale".length);
      if (prefix.includes("__prefix__")) return; // the empty row the "Add another" button copies
      const deleted = form.querySelector(`input[name='${prefix}DELETE']`);
      if (!input.value || (deleted && deleted.checked)) return;
      const field = (name) => (form.querySelector(`[name='${prefix}${name}']`) || {}).value || "";
      rows.push({ locale: input.value, title: field("title"), body: field("body"), image: field("image"), deep_link: field("deep_link") });
    });
    return rows;
  }

  function requestBody() {
    if (!editable) return { template_id: Number(templateId), locale: localeSelect.value };
    return {
      title: value("id_title"), body: value("id_body"), image: value("id_image"), deep_link: value("id_deep_link"),
      data: value("id_data"), collapse_key: value("id_collapse_key"), category: value("id_category"),
      priority: value("id_priority"), ttl_seconds: value("id_ttl_seconds"), sample_context: value("id_sample_context"),
      default_locale: value("id_default_locale"), translations: translations(), locale: localeSelect.value,
    };
  }

  // A form whose title and body are both still empty has nothing to preview yet: an empty card, not an error.
  const blank = (body) => ({
    ok: true, title: "", body: "", image: "", deep_link: "", data: {}, sizes: {}, locale: "default",
    locales: [body.default_locale || "en", ...body.translations.map((row) => row.locale)],
  });

  let sequence = 0;
  async function update() {
    const mine = ++sequence;
    const body = requestBody();
    const result = editable && !body.title.trim() && !body.body.trim() ? blank(body) : await request(url, body);
    if (mine === sequence) render(panel, result); // a newer edit's answer wins
  }

  if (!editable) {
    if (!templateId) return;
    localeSelect.addEventListener("change", update);
    update();
    return;
  }
  let pending = null;
  function schedule() {
    clearTimeout(pending);
    pending = setTimeout(update, 250);
  }
  const edited = (event) => { if (!panel.contains(event.target)) schedule(); }; // the panel's own controls aren't edits
  form.addEventListener("input", edited);
  form.addEventListener("change", edited);
  localeSelect.addEventListener("change", update);
  document.addEventListener("formset:added", schedule);
  document.addEventListener("formset:removed", schedule);
  update();
})();
