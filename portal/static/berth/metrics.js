// The app page's CPU and memory charts per process type (uPlot), refreshed by polling the metrics API.
(function () {
  "use strict";
  const MIB = 1024 * 1024;

  function series(label, stroke, dash) {
    return { label: label, stroke: stroke, width: dash ? 1 : 2, dash: dash ? [6, 4] : undefined, spanGaps: false };
  }

  function chart(el, title, unit, width) {
    return new uPlot(
      {
        title: title,
        width: width,
        height: 180,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max * 1.1, 1)] } },
        axes: [{}, { label: unit, size: 60 }],
        series: [{}, series(title, "#2563eb"), series("limit", "#dc2626", true)],
      },
      [[], [], []],
      el
    );
  }

  function start(root) {
    const url = root.dataset.url;
    const refresh = Math.max(2, Number(root.dataset.refresh) || 10) * 1000;
    const area = root.querySelector(".metrics-charts");
    const charts = {};
    let range = 3600;

    function draw(data) {
      const names = Object.keys(data.processes).sort();
      if (names.length) {
        const empty = area.querySelector(".metrics-empty");
        if (empty) empty.remove();
      }
      const width = Math.max(280, Math.min(area.clientWidth || 600, 900) / 2 - 16);
      for (const name of names) {
        const process = data.processes[name];
        if (!charts[name]) {
          const box = document.createElement("div");
          box.className = "metrics-process";
          box.dataset.process = name;
          area.appendChild(box);
          charts[name] = {
            cpu: chart(box, name + " CPU", "% of one core", width),
            memory: chart(box, name + " memory", "MiB", width),
          };
        }
        const points = process.points;
        const t = points.map((p) => Date.parse(p.t) / 1000);
        const limit = process.limit || {};
        charts[name].cpu.setData([t, points.map((p) => p.cpu_percent), points.map(() => (limit.cpu || 0) * 100 || null)]);
        charts[name].memory.setData([
          t,
          points.map((p) => p.memory_bytes / MIB),
          points.map((p) => (limit.memory_bytes || p.memory_limit_bytes) / MIB),
        ]);
        root.dataset.points = String(points.length);
      }
      root.dataset.updated = String(Date.now());
    }

    function load() {
      const since = new Date(Date.now() - range * 1000).toISOString();
      fetch(url + "?since=" + encodeURIComponent(since), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
        .then(draw)
        .catch(() => {});
    }

    root.querySelectorAll("button[data-range]").forEach((button) => {
      button.addEventListener("click", () => {
        range = Number(button.dataset.range);
        root.querySelectorAll("button[data-range]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        load();
      });
    });
    load();
    setInterval(load, refresh);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("metrics");
    if (root && window.uPlot) start(root);
  });
})();
