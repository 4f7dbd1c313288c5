// Console PTZ pad: hold to move (arrow keys too), release to stop; zoom; presets; home.
// Moves go over the room socket (REST when it is down) and are renewed every 300 ms while held:
// the server stops a head whose move is not renewed within a second, or whose console's socket
// closes, so a closed tab or a frozen laptop never leaves a camera turning.
"use strict";
(function () {
  const panel = document.querySelector(".ptz-panel");
  if (!panel) return;
  const roomId = document.querySelector(".console").dataset.room;
  const $ = (id) => document.getElementById(id);
  const camera = () => $("ptz-camera").value;
  const base = () => `/api/rooms/${roomId}/ptz/${camera()}`;
  let moving = false;

  function say(text, kind) {
    const message = $("console-message");
    message.textContent = text || "";
    message.className = "message" + (kind ? " message-" + kind : "");
  }
  const post = (path, json) => MedRoom.api(base() + path, { method: "POST", json }).catch((e) => say(e.message, "error"));
  // One PTZ command: over the socket when it is open, else by REST.
  function drive(action, values, path) {
    const sent = MedRoom.roomSocket && MedRoom.roomSocket.send(Object.assign({ type: "ptz", camera: camera(), action }, values));
    if (!sent) post(path, action === "keepalive" || action === "stop" ? undefined : values);
  }
  let panning = false, zooming = false;
  function move(pan, tilt) { panning = pan !== 0 || tilt !== 0; moving = panning || zooming; drive("move", { pan, tilt }, "/move"); }
  function zoom(speed) { zooming = speed !== 0; moving = panning || zooming; drive("zoom", { speed }, "/zoom"); }
  function stopAll() { if (moving) { moving = panning = zooming = false; drive("stop", {}, "/stop"); } }
  setInterval(() => { if (moving) drive("keepalive", {}, "/keepalive"); }, 300);

  panel.querySelectorAll("[data-pan]").forEach((b) => {
    b.addEventListener("pointerdown", (e) => { b.setPointerCapture(e.pointerId); b.classList.add("held"); move(+b.dataset.pan * 0.6, +b.dataset.tilt * 0.6); });
    b.addEventListener("pointerup", () => { b.classList.remove("held"); move(0, 0); });
    b.addEventListener("pointercancel", () => { b.classList.remove("held"); stopAll(); });
  });
  panel.querySelectorAll("[data-zoom]").forEach((b) => {
    b.addEventListener("pointerdown", () => zoom(+b.dataset.zoom * 0.5));
    b.addEventListener("pointerup", () => zoom(0));
  });
  $("ptz-home").addEventListener("click", () => post("/home").then(() => say(gettext("Camera at home position."), "ok")));
  panel.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", async (e) => {
    const n = b.dataset.preset;
    try {
      if (e.shiftKey) { await MedRoom.api(`${base()}/presets/${n}`, { method: "PUT" }); say(gettext("Preset %(n)s stored.", { n }), "ok"); }
      else { await MedRoom.api(`${base()}/presets/${n}/recall`, { method: "POST" }); say(gettext("Preset %(n)s recalled.", { n }), "ok"); }
    } catch (error) { say(error.message, "error"); }
  }));

  // Keyboard: arrows while held. A lost keyup (window switch) must never leave a head moving.
  const keys = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
  const held = new Set();
  function driveFromKeys() {
    let pan = 0, tilt = 0;
    held.forEach((k) => { pan += keys[k][0]; tilt += keys[k][1]; });
    move(pan * 0.6, tilt * 0.6);
  }
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (keys[e.key]) { e.preventDefault(); if (!held.has(e.key)) { held.add(e.key); driveFromKeys(); } }
    else if ((e.key === "+" || e.key === "=") && !e.repeat) zoom(0.5);
    else if (e.key === "-" && !e.repeat) zoom(-0.5);
  });
  document.addEventListener("keyup", (e) => {
    if (keys[e.key]) { held.delete(e.key); driveFromKeys(); }
    else if (e.key === "+" || e.key === "=" || e.key === "-") zoom(0);
  });
  window.addEventListener("blur", () => { held.clear(); stopAll(); });
  document.addEventListener("visibilitychange", () => { if (document.hidden) { held.clear(); stopAll(); } });

  // The server probes idle heads every few seconds. A silent head's answer age comes with the
  // state that says so and is counted on here: states only come when something changes.
  let heads = [], stateAt = 0;
  function silence(head) {
    if (head.last_answer_age == null) return gettext("not answering (never answered)");
    const seconds = Math.round(head.last_answer_age + (performance.now() - stateAt) / 1000);
    return ngettext("not answering (last answer %(num)s second ago)", "not answering (last answer %(num)s seconds ago)", seconds);
  }
  function health() {
    const head = heads.find((h) => h.id === camera());
    const el = $("ptz-health");
    el.textContent = !head ? "" : head.reachable ? gettext("answering")
      : head.reachable === false ? silence(head) : "…";
    el.className = "health " + (head && head.reachable ? "health-live" : "health-lost");
    el.title = (head && head.last_error) || "";
  }
  document.addEventListener("medroom:state", (event) => { heads = event.detail.ptz; stateAt = performance.now(); health(); });
  $("ptz-camera").addEventListener("change", health);
  setInterval(() => { if (heads.some((h) => h.reachable === false)) health(); }, 1000);
  // The link is gone: the server stops the head; forget what this page thought was held.
  document.addEventListener("medroom:disconnected", () => { held.clear(); moving = panning = zooming = false; });
})();
