// Console: layout, drag-a-source-into-a-slot, privacy masks drawn on the program, title band.
"use strict";
(function () {
  const roomId = document.querySelector(".console").dataset.room;
  const $ = (id) => document.getElementById(id);
  const monitor = document.querySelector(".program-panel .monitor");
  const labels = {};
  document.querySelectorAll(".source-tile").forEach((t) => (labels[t.dataset.source] = t.querySelector(".tile-label").textContent));
  let state = null;

  function say(text, kind) {
    const message = $("console-message");
    message.textContent = text || "";
    message.className = "message" + (kind ? " message-" + kind : "");
  }
  async function send(path, method, json, done) {
    try { render(await MedRoom.api(`/api/rooms/${roomId}/${path}`, { method, json })); if (done) say(done, "ok"); }
    catch (error) { say(error.message, "error"); }
  }

  function render(data) {
    state = data;
    document.querySelectorAll("[data-layout]").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.layout === data.layout.kind));
      b.disabled = false;
    });
    const list = $("mask-list");
    list.innerHTML = "";
    data.masks.forEach((mask, i) => {
      const li = document.createElement("li");
      const what = document.createElement("span");
      what.textContent = gettext("Mask on %(source)s", { source: labels[mask.source] || mask.source });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-ghost btn-small";
      remove.textContent = gettext("Remove");
      li.append(what, remove);
      li.querySelector("button").addEventListener("click", () =>
        send("masks", "PUT", { masks: data.masks.filter((_, j) => j !== i) }, gettext("Mask removed.")));
      list.appendChild(li);
    });
    if (!$("title-form").contains(document.activeElement)) {
      $("title-procedure").value = data.title.procedure;
      $("title-presenter").value = data.title.presenter;
      $("title-institution").value = data.title.institution;
      $("title-clock").checked = data.title.clock;
    }
  }

  const SLOTS = { single: 1, "side-by-side": 2, pip: 2, "grid-2x2": 4 };
  function layoutWith(kind, sources) {
    return { kind, sources, pip_corner: state.layout.pip_corner, pip_size: state.layout.pip_size };
  }
  document.querySelectorAll("[data-layout]").forEach((button) => button.addEventListener("click", () => {
    if (!state) return;
    const kind = button.dataset.layout;
    // Keep what is on program, fill the new slots with the other sources in order.
    const current = state.layout.sources.filter(Boolean);
    const rest = Object.keys(labels).filter((id) => !current.includes(id));
    const sources = [...current, ...rest].slice(0, SLOTS[kind]);
    while (sources.length < SLOTS[kind]) sources.push(null);
    send("layout", "PUT", layoutWith(kind, sources));
  }));

  // Which slot of the current layout is under a point of the monitor (fractions 0..1).
  function slotAt(x, y) {
    const kind = state.layout.kind;
    if (kind === "side-by-side") return x < 0.5 ? 0 : 1;
    if (kind === "grid-2x2") return (y < 0.5 ? 0 : 2) + (x < 0.5 ? 0 : 1);
    if (kind === "pip") {
      const size = state.layout.pip_size, m = 0.025, corner = state.layout.pip_corner;
      const w = size, h = size; // the inset is 16:9 like the program: same fraction both ways
      const left = corner.endsWith("left") ? m : 1 - m - w;
      const top = corner.startsWith("top") ? m * 16 / 9 : 1 - m * 16 / 9 - h;
      return x >= left && x <= left + w && y >= top && y <= top + h ? 1 : 0;
    }
    return 0;
  }
  function fraction(event) {
    const r = monitor.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (event.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (event.clientY - r.top) / r.height))];
  }
  document.querySelectorAll(".source-tile").forEach((tile) => tile.addEventListener("dragstart", (event) => {
    event.dataTransfer.setData("text/plain", tile.dataset.source);
    event.dataTransfer.effectAllowed = "copy";
  }));
  monitor.addEventListener("dragover", (event) => { event.preventDefault(); monitor.classList.add("drop-target"); });
  monitor.addEventListener("dragleave", () => monitor.classList.remove("drop-target"));
  monitor.addEventListener("drop", (event) => {
    event.preventDefault();
    monitor.classList.remove("drop-target");
    const source = event.dataTransfer.getData("text/plain");
    if (!state || !labels[source]) return;
    const [x, y] = fraction(event);
    const sources = [...state.layout.sources];
    const slot = slotAt(x, y);
    const previous = sources.indexOf(source);
    if (previous >= 0 && previous !== slot) sources[previous] = sources[slot]; // swap places
    sources[slot] = source;
    send("layout", "PUT", layoutWith(state.layout.kind, sources));
  });

  // Privacy masks: drag a rectangle on the program; it sticks to the source under it.
  let masking = false, origin = null;
  const rubber = $("mask-rubber");
  function setMasking(on) {
    masking = on;
    document.body.classList.toggle("masking", on);
    $("mask-toggle").setAttribute("aria-pressed", String(on));
  }
  $("mask-toggle").addEventListener("click", () => setMasking(!masking));
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key.toLowerCase() === "k") setMasking(!masking);
    if (event.key === "Escape") setMasking(false);
  });
  monitor.addEventListener("pointerdown", (event) => {
    if (!masking) return;
    event.preventDefault();
    event.stopPropagation();
    monitor.setPointerCapture(event.pointerId);
    origin = fraction(event);
  }, true);
  monitor.addEventListener("pointermove", (event) => {
    if (!masking || !origin) return;
    const [x, y] = fraction(event);
    const r = [Math.min(x, origin[0]), Math.min(y, origin[1]), Math.abs(x - origin[0]), Math.abs(y - origin[1])];
    Object.assign(rubber.style, { left: r[0] * 100 + "%", top: r[1] * 100 + "%", width: r[2] * 100 + "%", height: r[3] * 100 + "%" });
    rubber.hidden = false;
  }, true);
  monitor.addEventListener("pointerup", (event) => {
    if (!masking || !origin) return;
    const [x, y] = fraction(event);
    const rect = { x: Math.min(x, origin[0]), y: Math.min(y, origin[1]), w: Math.abs(x - origin[0]), h: Math.abs(y - origin[1]) };
    origin = null;
    rubber.hidden = true;
    if (rect.w < 0.01 || rect.h < 0.01) return;
    send("masks", "POST", rect, gettext("Mask added: that area is hidden before encoding."));
    setMasking(false);
  }, true);

  $("title-toggle").addEventListener("click", () => ($("title-form").hidden = !$("title-form").hidden));
  $("title-form").addEventListener("submit", (event) => {
    event.preventDefault();
    send("title", "PUT", { procedure: $("title-procedure").value, presenter: $("title-presenter").value,
      institution: $("title-institution").value, clock: $("title-clock").checked }, gettext("Title updated."));
  });

  // The room socket pushes the composition whenever it changes (another console, the API).
  document.addEventListener("medroom:state", (event) => render(event.detail.composition));
})();
