// The terminal page: xterm.js on the run or exec WebSocket named by data-ws. Binary frames carry the tty's bytes both
// ways; JSON text frames carry a resize (sent) and the exit (received). Plain JavaScript, no build step.
(function () {
  "use strict";

  function wsUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function open(card) {
    const status = document.getElementById("terminal-status");
    const term = new window.Terminal({ cursorBlink: true, convertEol: false });
    const fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(document.getElementById("terminal"));
    fit.fit();
    const size = "cols=" + term.cols + "&rows=" + term.rows;
    const path = card.dataset.ws + (card.dataset.ws.includes("?") ? "&" : "?") + size;
    const socket = new WebSocket(wsUrl(path));
    socket.binaryType = "arraybuffer";
    const encoder = new TextEncoder();
    let ended = false;

    socket.onopen = () => {
      status.textContent = "connected";
      term.focus();
    };
    socket.onmessage = (event) => {
      if (event.data instanceof ArrayBuffer) {
        term.write(new Uint8Array(event.data));
        return;
      }
      const message = JSON.parse(event.data);
      if (message.type === "exit") {
        ended = true;
        const code = message.code === null ? "no exit code" : "exit code " + message.code;
        status.textContent = "ended: " + code + (message.error ? " (" + message.error + ")" : "");
      }
    };
    socket.onclose = () => {
      if (!ended) status.textContent = "disconnected (refused, or the connection dropped)";
    };
    term.onData((data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
    });
    term.onResize(({ cols, rows }) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resize", cols: cols, rows: rows }));
    });
    window.addEventListener("resize", () => fit.fit());
  }

  document.addEventListener("DOMContentLoaded", () => {
    const card = document.getElementById("terminal-card");
    if (card && window.Terminal) open(card);
  });
})();
