// The launch review's previews: each variant as Android, iOS and Web show it, rendered on the server (the JSON
// beside each variant); another language is asked of the preview endpoint with the same request.
(function () {
  "use strict";
  const script = document.currentScript;
  const preview = window.PushcartPreview;
  if (!preview) return;
  document.querySelectorAll("section.review-variant").forEach((section) => {
    const node = document.getElementById(`review-variant-${section.dataset.variant}`);
    if (!node) return;
    const { request, preview: answer } = JSON.parse(node.textContent);
    section.querySelectorAll("[data-review-platform]").forEach((box) => {
      const panel = box.querySelector("[data-push-preview]");
      preview.render(panel, answer);
      // Each panel shows one platform: the three side by side.
      const radio = panel.querySelector(`[data-preview-control=platform][value="${box.dataset.reviewPlatform}"]`);
      if (radio && !radio.checked) {
        radio.checked = true;
        radio.dispatchEvent(new Event("change"));
      }
      const locale = panel.querySelector("[data-preview-control=locale]");
      let sequence = 0;
      if (locale) {
        locale.addEventListener("change", async () => {
          const mine = ++sequence;
          const result = await preview.request(script.dataset.previewUrl, { ...request, locale: locale.value });
          if (mine === sequence) preview.render(panel, result);
        });
      }
    });
  });
})();
