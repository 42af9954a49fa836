// The segment's audience size, recounted (in the database) as the form changes.
(function () {
  "use strict";
  const script = document.currentScript;
  const url = script.dataset.sizeUrl;
  const segmentId = script.dataset.segmentId || null;
  const form = document.getElementById("segment_form");
  const out = document.querySelector("[data-audience=text]");
  if (!form || !out) return;
  const value = (name) => (form.querySelector(`[name='${name}']`) || {}).value || "";
  const csrf = () => value("csrfmiddlewaretoken");

  function conditions() {
    const rows = [];
    form.querySelectorAll("select[name^='conditions-'][name$='-field']").forEach((select) => {
      const prefix = select.name.slice(0, -"field".length);
      const deleted = form.querySelector(`input[name='${prefix}DELETE']`);
      if (!select.value || (deleted && deleted.checked)) return;
      rows.push({ field: select.value, attribute: value(`${prefix}attribute`), operator: value(`${prefix}operator`), value: value(`${prefix}value`) });
    });
    return rows;
  }

  let timer = null;
  let sequence = 0;
  async function count() {
    const mine = ++sequence;
    out.textContent = "counting…";
    const body = { segment_id: segmentId, kind: value("kind"), match: value("match"), conditions: conditions() };
    try {
      const response = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() }, body: JSON.stringify(body),
      });
      const result = await response.json();
      if (mine !== sequence) return;
      out.textContent = result.ok
        ? `${result.users.toLocaleString()} shoppers, ${result.devices.toLocaleString()} active devices (counted in ${result.ms} ms)`
        : result.error;
      out.style.color = result.ok ? "" : "var(--error-fg, #ba2121)";
    } catch (error) {
      if (mine === sequence) out.textContent = `Could not count: ${error}`;
    }
  }
  function schedule() { clearTimeout(timer); timer = setTimeout(count, 400); }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  document.addEventListener("formset:added", schedule);
  document.addEventListener("formset:removed", schedule);
  count();
})();
