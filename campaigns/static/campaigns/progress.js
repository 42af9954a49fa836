// Live campaign progress: numbers pushed over a WebSocket (channels, fed by the beat's broadcast), and the
// results pushed on it passed on to results.js.
(function () {
  "use strict";
  const panel = document.getElementById("campaign-progress");
  if (!panel) return;
  const show = (name) => panel.querySelector(`[data-progress="${name}"]`);
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${window.location.host}${panel.dataset.wsPath}`;
  let retry = 500;

  function render(p) {
    for (const name of ["targeted", "queued", "delivered", "failed", "suppressed"]) {
      show(name).textContent = Number(p[name]).toLocaleString();
    }
    show("status_label").textContent = p.status_label;
    const finished = p.delivered + p.failed + p.suppressed;
    const share = p.targeted ? Math.min(100, (100 * finished) / Math.max(p.targeted, finished + p.queued)) : 0;
    show("bar").style.width = `${share}%`;
    // A new status changes the buttons and brings results: show the page as it now is.
    if (p.status !== panel.dataset.renderedStatus) window.location.reload();
  }

  function connect() {
    const socket = new WebSocket(url);
    socket.onopen = () => { retry = 500; show("live").textContent = "● live"; };
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data);
      // Results (rates, significance, chart) come on the same socket; results.js draws them.
      if (data.results) document.dispatchEvent(new CustomEvent("campaign-results", { detail: data.results }));
      else render(data);
    };
    socket.onclose = () => {
      show("live").textContent = "reconnecting…";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }
  connect();
})();
