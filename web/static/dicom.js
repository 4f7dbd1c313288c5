// Console: DICOM series panels. Scroll the picture or drag the slider to change slice (pauses
// the cine), play/pause the cine, pick a window preset or type a level and width, upload a series.
"use strict";
(function () {
  const panels = Array.from(document.querySelectorAll(".dicom-panel"));
  if (!panels.length) return;
  const roomId = document.querySelector(".console").dataset.room;
  const PRESETS = ["brain", "subdural", "bone", "soft-tissue"];
  const PRESET_NAMES = { brain: gettext("Brain"), subdural: gettext("Subdural"), bone: gettext("Bone"),
                         "soft-tissue": gettext("Soft tissue") };
  // A series' state as the panel names it.
  const STATES = { starting: gettext("starting"), waiting: gettext("waiting"), live: gettext("live"),
                   lost: gettext("lost"), stopped: gettext("stopped"), failed: gettext("failed") };
  const n = (value, digits) => i18n.formatNumber(value, { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });

  function say(text, kind) {
    const message = document.getElementById("console-message");
    message.textContent = text || "";
    message.className = "message" + (kind ? " message-" + kind : "");
  }

  function control(panel) {
    const sourceId = panel.dataset.dicom;
    const base = `/api/rooms/${roomId}/sources/${sourceId}/dicom`;
    const q = (name) => panel.querySelector(`[data-dicom-${name}]`);
    let state = null;
    let sending = null; // one slice request in flight; the latest wish waits behind it

    function render(data) {
      state = data;
      const slider = q("slider");
      slider.max = Math.max(0, data.count - 1);
      if (document.activeElement !== slider && !sending) slider.value = data.index;
      slider.disabled = !data.loaded;
      const slice = gettext("Slice %(n)s / %(count)s", { n: data.index + 1, count: data.count });
      // The window as the picture names it ("brain W:80 L:40"), with the preset in words here.
      const w = data.window;
      const plain = (v) => i18n.formatNumber(v, { useGrouping: false, maximumFractionDigits: 2 });
      const numbers = `W:${plain(w.width)} L:${plain(w.center)}`;
      const windowText = w.preset ? gettext("%(preset)s %(numbers)s", { preset: PRESET_NAMES[w.preset] || w.preset, numbers }) : numbers;
      const where = !data.loaded ? gettext("No series loaded")
        : data.position_mm === null ? gettext("%(slice)s · %(window)s", { slice, window: windowText })
        : gettext("%(slice)s · %(position)s mm · %(window)s", { slice, window: windowText,
            position: (data.position_mm > 0 ? "+" : "") + n(data.position_mm, 1) });
      q("where").textContent = where;
      const status = q("status");
      const stateText = STATES[data.state] || data.state;
      status.textContent = data.loaded
        ? ngettext("%(modality)s · %(size)s · %(num)s slice · %(state)s", "%(modality)s · %(size)s · %(num)s slices · %(state)s",
                   data.count, { modality: data.modality || "?", size: `${data.cols}×${data.rows}`, state: stateText })
        : stateText;
      status.className = "dicom-status health health-" + data.state;
      const play = q("play");
      play.textContent = data.playing ? gettext("Pause") : gettext("Play");
      play.setAttribute("aria-pressed", String(data.playing));
      const speed = q("speed");
      if (document.activeElement !== speed) speed.value = String(data.speed);
      panel.querySelectorAll("[data-dicom-preset]").forEach((b) =>
        b.setAttribute("aria-pressed", String(b.dataset.dicomPreset === data.window.preset)));
      const wl = q("wl");
      if (!wl.contains(document.activeElement)) {
        q("center").value = data.window.center;
        q("width").value = data.window.width;
      }
      const error = q("error");
      error.hidden = !data.error;
      error.textContent = data.error || "";
    }

    async function call(path, method, json, done) {
      try {
        render(await MedRoom.api(base + path, { method, json }));
        if (done) say(done, "ok");
        return true;
      } catch (error) {
        say(error.message, "error");
        return false;
      }
    }

    // Slice moves coalesce: a fast wheel or slider sends the newest position only.
    let wish = null;
    async function slice(body) {
      wish = body;
      if (sending) return;
      while (wish) {
        const next = wish;
        wish = null;
        sending = call("/slice", "PUT", next);
        await sending;
        sending = null;
      }
    }
    const step = (delta) => slice({ delta });
    const toggleCine = () => state && call("/cine", "PUT", { playing: !state.playing, speed: state.speed });
    function nextPreset() {
      const i = state ? PRESETS.indexOf(state.window.preset) : -1;
      const name = PRESETS[(i + 1) % PRESETS.length];
      call("/window", "PUT", { preset: name }, gettext("Window: %(name)s.", { name: PRESET_NAMES[name] || name }));
    }

    q("slider").addEventListener("input", (e) => slice({ index: parseInt(e.target.value, 10) }));
    panel.querySelectorAll("[data-dicom-step]").forEach((b) =>
      b.addEventListener("click", () => step(parseInt(b.dataset.dicomStep, 10))));
    panel.querySelector(".dicom-view").addEventListener("wheel", (e) => {
      e.preventDefault();
      if (Math.abs(e.deltaY) >= 1) step(e.deltaY > 0 ? 1 : -1);
    }, { passive: false });
    q("play").addEventListener("click", toggleCine);
    q("speed").addEventListener("change", (e) =>
      call("/cine", "PUT", { playing: state ? state.playing : true, speed: parseFloat(e.target.value) }));
    panel.querySelectorAll("[data-dicom-preset]").forEach((b) =>
      b.addEventListener("click", () => call("/window", "PUT", { preset: b.dataset.dicomPreset })));
    q("wl").addEventListener("submit", (e) => {
      e.preventDefault();
      call("/window", "PUT", { center: parseFloat(q("center").value), width: parseFloat(q("width").value) },
        gettext("Window applied."));
    });
    q("upload").addEventListener("submit", async (e) => {
      e.preventDefault();
      const files = q("files").files;
      if (!files.length) { say(gettext("Choose the series' .dcm files or a .zip first."), "error"); return; }
      const form = new FormData();
      Array.from(files).forEach((f) => form.append("files", f, f.name));
      const button = e.target.querySelector("button");
      button.disabled = true;
      say(ngettext("Uploading and checking %(num)s file…", "Uploading and checking %(num)s files…", files.length));
      try {
        render(await MedRoom.api(base, { method: "POST", body: form }));
        say(ngettext("Series loaded: %(num)s slice.", "Series loaded: %(num)s slices.", state.count), "ok");
        q("files").value = "";
      } catch (error) {
        say(gettext("Upload refused: %(reason)s", { reason: error.message }), "error");
      } finally {
        button.disabled = false;
      }
    });

    async function refresh() {
      try { render(await MedRoom.api(base)); } catch (error) { /* the room poll reports */ }
    }
    return { sourceId, step, toggleCine, nextPreset, refresh };
  }

  const controls = panels.map(control);
  // Keys act on the DICOM source on program, else the first one.
  function target() {
    const onProgram = document.querySelector(".source-tile.on-program");
    return controls.find((c) => onProgram && c.sourceId === onProgram.dataset.source) || controls[0];
  }
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key === "," || key === "PageUp") { event.preventDefault(); target().step(-1); }
    else if (key === "." || key === "PageDown") { event.preventDefault(); target().step(1); }
    else if (key.toLowerCase() === "c" && !event.repeat) target().toggleCine();
    else if (key.toLowerCase() === "w" && !event.repeat) target().nextPreset();
  });
  function refreshAll() { controls.forEach((c) => c.refresh()); }
  refreshAll();
  setInterval(refreshAll, 1000);
})();
