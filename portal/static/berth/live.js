// Live parts of the customer pages: a build's log and a deployment's steps over their WebSockets, and the upload
// progress of the deploy form. Plain JavaScript, no build step; htmx-swapped content is wired up too.
(function () {
  "use strict";

  function wsUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function setText(root, selector, text) {
    const el = root.querySelector(selector);
    if (el) el.textContent = text;
  }

  // A status badge: its text and its colour class; other classes on it (such as deployment-status) stay.
  function setBadge(el, status) {
    if (!el) return;
    el.classList.remove(el.dataset.status || "badge-none");
    el.classList.add("badge", status);
    el.dataset.status = status;
    el.textContent = status;
  }

  // A build's log: stored lines first, then live ones; at the end, the outcome card is fetched (htmx).
  function followBuild(root) {
    const pre = root.querySelector("pre.log");
    const badge = document.getElementById("build-status");
    const socket = new WebSocket(wsUrl(root.dataset.buildWs));
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "log") {
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        const line = document.createElement("div");
        line.className = "log-line";
        line.textContent = message.line;
        pre.appendChild(line);
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      } else if (message.type === "status") {
        setBadge(badge, message.status);
        if (["succeeded", "failed", "cancelled"].includes(message.status) && root.dataset.summaryUrl && window.htmx) {
          htmx.ajax("GET", root.dataset.summaryUrl, {target: "#build-summary", swap: "outerHTML"});
        }
      }
    };
    socket.onclose = (event) => {
      if (event.code === 4404 || event.code === 4401) setText(root, ".live-note", "This build is not readable.");
    };
  }

  // A deployment's steps: the whole state comes in each event; the list is drawn again from it.
  function renderDeployment(root, state) {
    setBadge(root.querySelector(".deployment-status"), state.status);
    const bar = root.querySelector("progress");
    if (bar) { bar.value = state.progress; bar.textContent = state.progress + "%"; }
    setText(root, ".deployment-progress", state.progress + "%");
    const list = root.querySelector("ol.steps");
    list.replaceChildren();
    for (const step of state.steps) {
      const item = document.createElement("li");
      item.className = "step " + step.status;
      const name = document.createElement("strong");
      name.textContent = step.name;
      const badge = document.createElement("span");
      setBadge(badge, step.status);
      const time = document.createElement("span");
      time.className = "muted";
      time.textContent = " " + (step.started_at || "").replace("T", " ").slice(0, 19) +
        (step.finished_at ? " → " + step.finished_at.replace("T", " ").slice(11, 19) : "");
      item.append(name, " ", badge, time);
      if (step.detail) {
        const detail = document.createElement("div");
        detail.className = "muted";
        detail.textContent = step.detail;
        item.append(detail);
      }
      list.append(item);
    }
    const error = root.querySelector(".deployment-error");
    if (error) { error.textContent = state.error || ""; error.hidden = !state.error; }
  }

  function followDeployment(root) {
    const socket = new WebSocket(wsUrl(root.dataset.deploymentWs));
    socket.onmessage = (event) => {
      const state = JSON.parse(event.data);
      renderDeployment(root, state);
      if (["succeeded", "failed", "superseded"].includes(state.status)) socket.close();
    };
  }

  // The archive form: sent by XMLHttpRequest so the upload's progress shows; the answer's URL is where to go.
  function uploadWithProgress(form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const bar = form.querySelector("progress");
      const note = form.querySelector(".upload-note");
      const button = form.querySelector("button[type=submit]");
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.upload.onprogress = (progress) => {
        if (!progress.lengthComputable) return;
        bar.hidden = false;
        bar.max = progress.total;
        bar.value = progress.loaded;
        note.textContent = "Uploading: " + Math.round(100 * progress.loaded / progress.total) + "%";
      };
      request.upload.onload = () => { note.textContent = "Uploaded; starting the build…"; };
      request.onload = () => { location.assign(request.responseURL || form.action); };
      request.onerror = () => {
        button.disabled = false;
        note.textContent = "The upload failed (network error): try again.";
      };
      button.disabled = true;
      request.send(new FormData(form));
    });
  }

  function wire(root) {
    root.querySelectorAll("[data-build-ws]").forEach((el) => { if (!el.dataset.wired) { el.dataset.wired = "1"; followBuild(el); } });
    root.querySelectorAll("[data-deployment-ws]").forEach((el) => { if (!el.dataset.wired) { el.dataset.wired = "1"; followDeployment(el); } });
    root.querySelectorAll("form[data-upload-progress]").forEach((el) => { if (!el.dataset.wired) { el.dataset.wired = "1"; uploadWithProgress(el); } });
  }

  // Destructive forms (<form data-confirm="Question?">) are asked about by forms.js, once.

  // Copy buttons: <button data-copy="#id"> copies the element's text.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    const text = source ? (source.value || source.textContent) : "";
    const done = () => { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    }
  });

  document.addEventListener("DOMContentLoaded", () => wire(document));
  document.addEventListener("htmx:afterSettle", (event) => wire(event.target));
})();
