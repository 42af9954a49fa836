// The campaign page as the marketer's composer (see change_form.html's field_sets block):
// - "When" shows only the chosen schedule's fields (the server still checks them all);
// - "Who" shows the segment's audience now, from the segment page's own endpoint (audience.admin.size_view);
// - "What" shows the push as Android, iOS and Web would (message_templates' push preview), for the chosen template
//   or A/B variant with the context as typed.
// A page with no form field for something (a campaign no longer a draft is read-only) uses the saved values.
// Anything from the server is shown as text (textContent), never as HTML.
(function () {
  "use strict";
  const script = document.currentScript;
  const form = document.getElementById("campaign_form");
  if (!form) return;
  const savedNode = document.getElementById("composer-saved");
  const saved = (savedNode && JSON.parse(savedNode.textContent)) || {};
  const field = (name) => form.querySelector(`[name='${name}']`);
  const jq = window.django && window.django.jQuery;
  // select2 (the autocomplete fields) announces its changes through jQuery only.
  const onChange = (element, handler) => {
    if (!element) return;
    element.addEventListener("change", handler);
    if (jq) jq(element).on("change", handler);
  };

  // --- When: only the chosen schedule's fields ---------------------------------------------------------------
  const SCHEDULE_FIELDS = ["send_at", "local_date", "local_time", "recurrence", "recurrence_time",
    "recurrence_weekday", "cron", "recurrence_timezone"];
  const BY_SCHEDULE = {
    now: [], at: ["send_at"], local: ["local_date", "local_time"], recurring: ["recurrence", "recurrence_timezone"],
  };
  const BY_RECURRENCE = { daily: ["recurrence_time"], weekly: ["recurrence_time", "recurrence_weekday"], cron: ["cron"] };

  // A field's box: its own cell in a line of several fields (the field with its help text), else its line.
  const boxOf = (name) => {
    const cell = form.querySelector(`.fieldBox.field-${name}`);
    return cell ? cell.parentElement : form.querySelector(`.form-row.field-${name}`);
  };

  function showSchedule() {
    const schedule = field("schedule") ? field("schedule").value : saved.schedule || "";
    const recurrence = field("recurrence") ? field("recurrence").value : saved.recurrence || "";
    const wanted = new Set(BY_SCHEDULE[schedule] || SCHEDULE_FIELDS);
    if (schedule === "recurring") (BY_RECURRENCE[recurrence] || []).forEach((name) => wanted.add(name));
    const rows = new Set();
    SCHEDULE_FIELDS.forEach((name) => {
      const box = boxOf(name);
      if (!box) return;
      box.hidden = !wanted.has(name);
      rows.add(box.closest(".form-row"));
    });
    // A line whose every field is hidden goes too (its frame and spacing).
    rows.forEach((row) => {
      const cells = row ? Array.from(row.querySelectorAll(".fieldBox"), (cell) => cell.parentElement) : [];
      if (cells.length) row.hidden = cells.every((cell) => cell.hidden);
    });
  }
  onChange(field("schedule"), showSchedule);
  onChange(field("recurrence"), showSchedule);
  showSchedule();

  // --- Who: the audience now ---------------------------------------------------------------------------------
  const audience = document.querySelector("[data-composer=audience]");
  let audienceSequence = 0;
  async function countAudience() {
    if (!audience) return;
    const segment = field("segment") ? field("segment").value : saved.segment_id;
    const mine = ++audienceSequence;
    if (!segment) {
      audience.textContent = "choose a segment to see its audience.";
      return;
    }
    audience.textContent = "counting…";
    let text;
    try {
      const response = await fetch(script.dataset.audienceUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify({ segment_id: String(segment) }),
      });
      const result = await response.json();
      text = result.ok
        ? `${result.users.toLocaleString()} shoppers, ${result.devices.toLocaleString()} active devices (counted in ${result.ms} ms)`
        : result.error;
    } catch (error) {
      text = "The audience could not be counted; reload the page to try again.";
    }
    if (mine === audienceSequence) audience.textContent = text;
  }
  function csrf() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  onChange(field("segment"), countAudience);
  countAudience();

  // --- What: the push preview --------------------------------------------------------------------------------
  const panel = document.getElementById("composer-preview");
  const picker = document.querySelector("[data-composer=variant]");
  const preview = window.PushcartPreview;
  if (!panel || !picker || !preview) return;
  const locale = panel.querySelector("[data-preview-control=locale]");

  // The variants as the form stands (new rows in, rows marked for deletion out), else the one template.
  function arms() {
    const rows = Array.from(form.querySelectorAll("select[name^='variants-'][name$='-template']"))
      .filter((select) => !select.name.includes("__prefix__"));
    const live = rows
      .filter((select) => {
        const prefix = select.name.slice(0, -"template".length);
        const deleted = field(`${prefix}DELETE`);
        return select.value && !(deleted && deleted.checked);
      })
      .map((select) => {
        const prefix = select.name.slice(0, -"template".length);
        return { name: (field(`${prefix}name`) || {}).value || "?", template_id: select.value };
      });
    if (live.length) return live; // with variants the campaign's own template is not sent
    if (!field("template") && (saved.variants || []).length) return saved.variants;
    const template = field("template") ? field("template").value : saved.template_id;
    return template ? [{ name: "", template_id: template }] : [];
  }

  function refreshPicker(list) {
    const labelled = list.length > 1 || (list.length === 1 && list[0].name);
    picker.closest("label").hidden = !labelled;
    const wanted = list.map((arm) => arm.name);
    const have = Array.from(picker.options).map((option) => option.value);
    if (wanted.join("\u0000") === have.join("\u0000")) return;
    const current = picker.value;
    picker.replaceChildren(...wanted.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = `variant ${name}`;
      return option;
    }));
    picker.value = wanted.includes(current) ? current : wanted[0] || "";
  }

  function context() {
    const input = field("context");
    if (!input) return { ok: true, value: saved.context || {} };
    let value;
    try {
      value = JSON.parse(input.value || "{}");
    } catch (error) {
      return { ok: false, error: "is not valid JSON yet: the preview shows the last one that was." };
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return { ok: false, error: 'must be a JSON object, e.g. {"discount": "20%"}.' };
    }
    return { ok: true, value };
  }

  let sequence = 0;
  let timer = null;
  async function update() {
    const list = arms();
    refreshPicker(list);
    const arm = list.find((a) => a.name === picker.value) || list[0];
    const mine = ++sequence;
    if (!arm) {
      preview.render(panel, { ok: false, field: "template", error: "choose a template (or add A/B variants) to see the push." });
      return;
    }
    const data = context();
    if (!data.ok) {
      preview.render(panel, { ok: false, field: "context", error: data.error });
      return;
    }
    const body = { template_id: Number(arm.template_id), context: data.value, locale: locale ? locale.value : "" };
    const result = await preview.request(script.dataset.previewUrl, body);
    if (mine === sequence) preview.render(panel, result); // a newer edit's answer wins
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  }
  form.addEventListener("input", (event) => { if (event.target.name === "context" || /^variants-/.test(event.target.name)) later(); });
  form.addEventListener("change", (event) => { if (/^variants-/.test(event.target.name || "")) later(); });
  onChange(field("template"), later);
  picker.addEventListener("change", update);
  if (locale) locale.addEventListener("change", update);
  document.addEventListener("formset:added", later);
  document.addEventListener("formset:removed", later);
  update();
})();
