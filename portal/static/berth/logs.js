// The log viewer's live tail: the app's logs WebSocket with the filters typed, a pause that keeps what arrives,
// reconnection from the last cursor, and the notice of dropped lines.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const card = document.getElementById("live");
    if (!card) return;
    const pre = document.getElementById("log");
    const statusEl = document.getElementById("log-status");
    const pauseButton = document.getElementById("log-pause");
    const pausedCount = document.getElementById("log-paused-count");
    const base = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + card.dataset.ws;
    let socket = null, cursor = null, retry = 1000, paused = false, held = [];

    function value(id) { return document.getElementById(id).value.trim(); }
    function params() {
      const q = new URLSearchParams({tail: "200"});
      if (value("log-process")) q.set("process", value("log-process"));
      if (value("log-release")) q.set("release", value("log-release"));
      if (value("log-text")) q.set("q", value("log-text"));
      if (cursor) q.set("cursor", cursor);
      return q.toString();
    }
    function draw(message) {
      const line = document.createElement("div");
      line.className = "log-line";
      const index = message.index === null || message.index === undefined ? "" : "." + message.index;
      const release = message.release ? " v" + message.release : "";
      line.textContent = message.timestamp + " " + message.process + index + release + " " + message.line;
      pre.appendChild(line);
    }
    function show(lines) {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      lines.forEach(draw);
      while (pre.childElementCount > 5000) pre.removeChild(pre.firstChild);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }
    function dropped(count) {
      const notice = document.getElementById("log-dropped");
      document.getElementById("log-dropped-count").textContent = count;
      notice.hidden = !count;
    }
    function connect() {
      socket = new WebSocket(base + "?" + params());
      socket.onopen = () => { statusEl.textContent = paused ? "paused" : "live"; retry = 1000; };
      socket.onmessage = (event) => {
        const data = JSON.parse(event.data);
        if (data.type === "status") { dropped(data.dropped || 0); return; }
        if (data.type === "error") { statusEl.textContent = data.message; return; }
        if (data.type !== "lines") return;
        cursor = data.cursor || cursor;
        if (paused) {
          held.push(...data.lines);
          pausedCount.textContent = held.length + " new line(s) held";
        } else {
          show(data.lines);
        }
      };
      socket.onclose = (event) => {
        statusEl.textContent = event.code === 1006 && !cursor && retry > 8000 ? "not allowed or unreachable" : "reconnecting…";
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 15000);
      };
    }
    function restart() {
      cursor = null; held = []; pre.textContent = ""; pausedCount.textContent = "";
      if (socket) { socket.onclose = null; socket.close(); }
      connect();
    }
    document.getElementById("log-filter").addEventListener("submit", restart);
    pauseButton.addEventListener("click", () => {
      paused = !paused;
      pauseButton.textContent = paused ? "Resume" : "Pause";
      pauseButton.setAttribute("aria-pressed", String(paused));
      statusEl.textContent = paused ? "paused" : "live";
      if (!paused) { show(held); held = []; pausedCount.textContent = ""; }
    });
    // Download: the search form's fields as the range, fetched as a text/plain attachment.
    const search = document.getElementById("log-search");
    document.getElementById("log-download").addEventListener("click", (event) => {
      const query = new URLSearchParams(new FormData(search));
      query.delete("before");
      location.assign(event.target.dataset.url + "?" + query.toString());
    });
    connect();
  });
})();
