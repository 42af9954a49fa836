// Live preview of a message template while it is edited: the form's fields go to
// the preview endpoint, which renders them with the sample context exactly as a
// send would. Results are shown with textContent only, never as HTML.
(function () {
  "use strict";
  const script = document.currentScript;
  const url = script.dataset.previewUrl;
  const form = document.getElementById("messagetemplate_form");
  const panel = document.getElementById("push-preview");
  const localeSelect = document.getElementById("push-preview-locale");
  if (!form || !panel) return;
  const show = (name) => panel.querySelector(`[data-preview="${name}"]`);
  const value = (id) => (document.getElementById(id) || {}).value || "";
  const csrf = () => (form.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

  function translations() {
    const rows = [];
    form.querySelectorAll("input[name^='translations-'][name$='-locale']").forEach((input) => {
      const prefix = input.name.slice(0, -"locale".length);
      const deleted = form.querySelector(`input[name='${prefix}DELETE']`);
      if (!input.value || (deleted && deleted.checked)) return;
      const field = (name) => (form.querySelector(`[name='${prefix}${name}']`) || {}).value || "";
      rows.push({ locale: input.value, title: field("title"), body: field("body"), image: field("image"), deep_link: field("deep_link") });
    });
    return rows;
  }

  function refreshLocales(rows) {
    const wanted = ["", ...rows.map((r) => r.locale)];
    const current = localeSelect.value;
    const have = Array.from(localeSelect.options).map((o) => o.value);
    if (wanted.join("|") === have.join("|")) return;
    localeSelect.replaceChildren(...wanted.map((locale) => {
      const option = document.createElement("option");
      option.value = locale;
      option.textContent = locale || `default language (${value("id_default_locale") || "en"})`;
      return option;
    }));
    localeSelect.value = wanted.includes(current) ? current : "";
  }

  let pending = null;
  let sequence = 0;
  async function update() {
    const rows = translations();
    refreshLocales(rows);
    const body = {
      title: value("id_title"), body: value("id_body"), image: value("id_image"), deep_link: value("id_deep_link"),
      data: value("id_data"), collapse_key: value("id_collapse_key"), category: value("id_category"),
      priority: value("id_priority"), ttl_seconds: value("id_ttl_seconds"), sample_context: value("id_sample_context"),
      translations: rows, locale: localeSelect.value,
    };
    const mine = ++sequence;
    let result;
    try {
      const response = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify(body),
      });
      result = await response.json();
    } catch (error) {
      result = { ok: false, error: `Preview unavailable: ${error}` };
    }
    if (mine !== sequence) return; // a newer edit's answer wins
    const error = show("error");
    error.hidden = result.ok;
    error.textContent = result.ok ? "" : `${result.field ? result.field + ": " : ""}${result.error}`;
    panel.classList.toggle("has-error", !result.ok);
    if (!result.ok) return;
    show("title").textContent = result.title;
    show("body").textContent = result.body;
    const image = show("image");
    image.hidden = !result.image;
    if (result.image) image.src = result.image;
    show("deep_link").textContent = result.deep_link || "—";
    show("locale").textContent = result.locale;
    const sizes = show("sizes");
    sizes.replaceChildren(...Object.entries(result.sizes).map(([name, s]) => {
      const line = document.createElement("div");
      line.textContent = `${name}: ${s.bytes} / ${s.limit} bytes`;
      if (s.bytes > s.limit) line.className = "over-limit";
      return line;
    }));
  }

  function schedule() {
    clearTimeout(pending);
    pending = setTimeout(update, 250);
  }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  localeSelect.addEventListener("change", update);
  document.addEventListener("formset:added", schedule);
  document.addEventListener("formset:removed", schedule);
  update();
})();
