/*
 * The push preview panel, shared by every admin page that previews a push (template page, campaign page).
 *
 * CONTRACT (keep stable; templates/preview.py documents the endpoint's side):
 *
 *   Markup: {% include "admin/message_templates/push_preview.html" with preview_id="..." %} renders one panel
 *   (<aside data-push-preview id=preview_id>, default id "push-preview"), with this file and push-preview.css.
 *   Inside it, for the page's own script:
 *     panel.querySelector("[data-preview-control=locale]")  the language picker (<select>): value "" is the
 *         template's default language, else a locale; listen to its "change" and ask again with that locale.
 *   The Android / iOS / Web switch is handled here: it sets panel.dataset.platform ("android" | "ios" | "web") and
 *   the card's class platform-<name>, and is remembered per page and panel (localStorage).
 *   The panel may sit inside a form: its controls belong to no form (FormData and submits leave them out), but
 *   their input/change events still bubble; a page that watches its form for edits should ignore events whose
 *   target is inside [data-push-preview].
 *
 *   window.PushcartPreview.request(url, body) -> Promise<result>
 *       POSTs `body` as JSON with the CSRF token to `url` ({% url 'admin:message_templates_preview' %}).
 *       Never rejects: a network failure, a refusal (403) or a non-JSON answer resolves to {ok: false, field: "",
 *       error: plain words}.
 *       Saved mode body: {template_id: <pk>, context: {...} (optional: the template's sample context),
 *                         locale: "de" (optional: "" = default language)}
 *       Form mode body: the template form's fields (see preview.js).
 *   window.PushcartPreview.render(panel, result)
 *       Shows an answer: {ok: true, title, body, image, deep_link, data, locale, locales, sizes} fills the card,
 *       the meta and the language picker (one option per entry of `locales`: the first is the default language);
 *       {ok: false, field, error} shows the error line and keeps the last good card.
 *   window.PushcartPreview.init(panel)  (optional: render() calls it) wires the platform switch.
 *
 * Everything from the server is shown with textContent, never as HTML.
 */
(function () {
  "use strict";
  const PLATFORMS = ["android", "ios", "web"];
  // The name a platform shows on the card's first row (Web: the browser names the site, not the app).
  const APP_NAMES = { android: "Shop", ios: "Shop", web: "Shop · via Chrome" };

  function csrfToken() {
    const panel = document.querySelector("[data-push-preview][data-csrf]");
    if (panel && panel.dataset.csrf) return panel.dataset.csrf;
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
  }

  async function request(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return { ok: false, field: "", error: "The preview could not be reached; check the connection and try again." };
    }
    if (response.status === 403) {
      return { ok: false, field: "", error: "You may not preview templates: ask an administrator for access." };
    }
    try {
      return await response.json();
    } catch (error) {
      return { ok: false, field: "", error: `The preview failed (HTTP ${response.status}); try again.` };
    }
  }

  const part = (panel, name) => panel.querySelector(`[data-preview="${name}"]`);
  const storageKey = (panel) => `pushcart:preview-platform:${location.pathname}#${panel.id}`;

  function setPlatform(panel, platform) {
    if (!PLATFORMS.includes(platform)) platform = "android";
    panel.dataset.platform = platform;
    const card = part(panel, "card");
    PLATFORMS.forEach((name) => card.classList.toggle(`platform-${name}`, name === platform));
    part(panel, "app").textContent = APP_NAMES[platform];
    panel.querySelectorAll("[data-preview-control=platform]").forEach((radio) => {
      radio.checked = radio.value === platform;
    });
  }

  function init(panel) {
    if (panel.dataset.previewReady) return;
    panel.dataset.previewReady = "1";
    let stored = null;
    try { stored = localStorage.getItem(storageKey(panel)); } catch (error) { /* storage off: not remembered */ }
    setPlatform(panel, stored || panel.dataset.platform);
    panel.querySelectorAll("[data-preview-control=platform]").forEach((radio) => {
      radio.addEventListener("change", () => {
        if (!radio.checked) return;
        setPlatform(panel, radio.value);
        try { localStorage.setItem(storageKey(panel), radio.value); } catch (error) { /* not remembered */ }
      });
    });
  }

  function renderLocales(panel, locales) {
    const select = panel.querySelector("[data-preview-control=locale]");
    if (!select || !Array.isArray(locales) || !locales.length) return;
    const [defaultLocale, ...others] = locales.map(String);
    const wanted = [["", `${defaultLocale} (default)`], ...others.map((l) => [l, l])];
    const have = Array.from(select.options).map((o) => `${o.value}=${o.textContent}`);
    if (wanted.map(([v, t]) => `${v}=${t}`).join("|") === have.join("|")) return;
    const current = select.value;
    select.replaceChildren(...wanted.map(([value, text]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      return option;
    }));
    select.value = wanted.some(([value]) => value === current) ? current : "";
  }

  function render(panel, result) {
    init(panel);
    result = result || { ok: false, field: "", error: "The preview gave no answer." };
    const error = part(panel, "error");
    error.hidden = Boolean(result.ok);
    error.textContent = result.ok ? "" : `${result.field ? result.field + ": " : ""}${result.error || ""}`;
    panel.classList.toggle("has-error", !result.ok);
    if (!result.ok) return;
    part(panel, "title").textContent = result.title || "";
    part(panel, "body").textContent = result.body || "";
    const image = part(panel, "image");
    const src = typeof result.image === "string" && result.image.startsWith("https://") ? result.image : "";
    image.hidden = !src;
    if (src) image.src = src; else image.removeAttribute("src");
    part(panel, "card").classList.toggle("has-image", Boolean(src));
    part(panel, "deep_link").textContent = result.deep_link || "—";
    const locales = Array.isArray(result.locales) ? result.locales : [];
    part(panel, "locale").textContent =
      result.locale === "default" ? `default${locales.length ? ` (${locales[0]})` : ""}` : String(result.locale || "—");
    renderLocales(panel, locales);
    part(panel, "sizes").replaceChildren(...Object.entries(result.sizes || {}).map(([name, s]) => {
      const line = document.createElement("div");
      line.textContent = `${name}: ${s.bytes} / ${s.limit} bytes`;
      if (s.bytes > s.limit) line.className = "over-limit";
      return line;
    }));
  }

  window.PushcartPreview = { render, request, init };

  function initAll() { document.querySelectorAll("[data-push-preview]").forEach(init); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();
