// Instructor console: pick the program source, go live and end, watch the program.
// The room's state arrives over the room socket (roomsocket.js) whenever it changes;
// the viewers panel and its figures: viewers.js.
"use strict";
(function () {
  const root = document.querySelector(".console");
  const roomId = root.dataset.room;
  const $ = (id) => document.getElementById(id);
  const message = $("console-message");
  const tiles = Array.from(document.querySelectorAll(".source-tile"));
  let room = null;
  let previewLoading = false;
  // The program preview's audio line plays the talkback voices alone (the operating room
  // hears an accepted student; its own microphone would feed back): talkback-console.js.
  // Live drawing: what the instructor draws here is on every viewer's picture, on this frame.
  const overlay = (MedRoom.liveOverlay = new MedRoom.LiveOverlay($("program-video"), $("draw-canvas"), {
    onRights: (rights, can) => { $("draw-toggle").hidden = $("draw-colours").hidden = !can; },
    onDrawing: (on) => $("draw-toggle").setAttribute("aria-pressed", on ? "true" : "false"),
    onRefused: (why) => say(why, "error"),
    onStroke: (stroke) => document.dispatchEvent(new CustomEvent("medroom:stroke", { detail: stroke })),
  }));
  const player = new MedRoom.WhepPlayer(roomId, $("program-video"), (state, detail) => {
    $("program-video").classList.toggle("visible", state === "live");
    if (room && room.state === "live") {
      $("program-overlay").textContent = state === "live" ? "" : programState(state, detail);
      $("program-overlay").hidden = state === "live";
    }
  }, Object.assign({ overlay }, $("talkback-audio") ? { audio: $("talkback-audio"), sound: "talkback" } : {}));
  $("draw-toggle").addEventListener("click", () => overlay.setDrawing(!overlay.drawing));
  document.querySelectorAll(".swatch").forEach((b) => b.addEventListener("click", () => {
    overlay.colour = b.dataset.colour;
    document.querySelectorAll(".swatch").forEach((o) => o.classList.toggle("chosen", o === b));
  }));
  document.querySelector(".swatch").classList.add("chosen");

  // What the program monitor shows while the picture is not (yet) there.
  function programState(state, detail) {
    if (state === "connecting") return gettext("Program · connecting…");
    if (state === "reconnecting") return gettext("Program · reconnecting…");
    if (state === "waiting") return gettext("Program · waiting for the session to start");
    return gettext("Program · %(state)s", { state: detail || state });
  }

  function say(text, kind) {
    message.textContent = text || "";
    message.className = "message" + (kind ? " message-" + kind : "");
  }

  async function act(promise, doneText) {
    try {
      const body = await promise;
      if (body) render(body);
      say(doneText, "ok");
    } catch (error) {
      say(error.message, "error");
    }
  }

  function take(sourceId) {
    act(MedRoom.api(`/api/rooms/${roomId}/program`, { method: "POST", json: { source: sourceId } }), "");
  }

  tiles.forEach((tile) => tile.addEventListener("click", () => take(tile.dataset.source)));
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
    const index = parseInt(event.key, 10);
    if (index >= 1 && index <= tiles.length) take(tiles[index - 1].dataset.source);
    else if (event.key.toLowerCase() === "d" && overlay.canDraw) overlay.setDrawing(!overlay.drawing);
  });

  $("go-live").addEventListener("click", () => {
    $("go-live").disabled = true;
    act(MedRoom.api(`/api/rooms/${roomId}/live`, { method: "POST", json: { title: $("session-title").value } }),
        gettext("You are live. Students can join now.")).finally(() => ($("go-live").disabled = false));
  });
  $("end-live").addEventListener("click", () => {
    if (!window.confirm(gettext("End the live session for every viewer?"))) return;
    act(MedRoom.api(`/api/rooms/${roomId}/live`, { method: "DELETE" }), gettext("Session ended."));
  });

  // A source's state as the console names it (the server's reason follows as it comes).
  const SOURCE_STATES = {
    starting: gettext("starting"), waiting: gettext("waiting"), live: gettext("live"),
    lost: gettext("lost"), stopped: gettext("stopped"), failed: gettext("failed"),
  };
  function healthText(h) {
    const n = (v) => i18n.formatNumber(v, { maximumFractionDigits: 0 });
    if (h.state === "live") return gettext("%(width)s×%(height)s · %(fps)s fps", { width: h.width, height: h.height, fps: n(h.fps) });
    // Failed or lost: why, and what happens next (the next retry, or "accepting a new publisher").
    const why = [h.error, h.note].filter(Boolean).join(" · ");
    const state = SOURCE_STATES[h.state] || h.state;
    if (h.state === "waiting") return h.note || state;
    return why ? gettext("%(state)s: %(reason)s", { state, reason: why }) : state;
  }

  function render(data) {
    room = data;
    const live = data.state === "live";
    document.body.classList.toggle("is-live", live);
    $("live-badge").textContent = live ? gettext("LIVE") : gettext("Not live");
    $("live-badge").className = "badge badge-" + data.state;
    $("go-live").hidden = live;
    $("end-live").hidden = !live;
    $("session-title").disabled = live;
    if (live) player.start(); else { player.stop(); $("program-overlay").hidden = false; $("program-overlay").textContent = gettext("Preview · not live"); }
    tiles.forEach((tile) => {
      const on = tile.dataset.source === data.program_source;
      tile.classList.toggle("on-program", on);
      tile.setAttribute("aria-pressed", on ? "true" : "false");
    });
    data.sources.forEach((s) => {
      const el = document.querySelector(`[data-health="${s.id}"]`);
      if (el) {
        el.textContent = el.title = healthText(s.health);  // the title shows a long reason whole
        el.className = "health health-" + s.health.state;
      }
    });
    const storage = data.storage;
    $("storage-warning").hidden = !storage || storage.level === "ok";
    if (storage && storage.message) $("storage-warning").textContent = storage.message;
    $("viewer-count").textContent = i18n.formatNumber(data.viewer_count);
    const stats = $("encoder-stats");
    const e = data.encoder;
    const n = (v) => i18n.formatNumber(v);
    stats.replaceChildren(...(e ? [
      term(gettext("Encoder")),
      detail(gettext("H.264 · %(kbps)s kbit/s · %(ms)s ms/frame", { kbps: n(e.bitrate_kbps), ms: n(e.encode_ms_avg) })),
      term(gettext("Keyframes")),
      detail(gettext("%(total)s (%(forced)s on request)", { total: n(e.keyframes), forced: n(e.forced_keyframes) })),
    ] : []));
  }

  function term(text) { const dt = document.createElement("dt"); dt.textContent = text; return dt; }
  function detail(text) { const dd = document.createElement("dd"); dd.textContent = text; return dd; }

  function tick() {
    if (room && room.live_since) {
      $("live-clock").textContent = i18n.formatClock((Date.now() - Date.parse(room.live_since)) / 1000);
    } else $("live-clock").textContent = "";
    // Thumbnails refresh in turn; the server caches them so many consoles cost one encode.
    document.querySelectorAll("img[data-thumb]").forEach((img) => {
      if (img.dataset.loading) return;
      img.dataset.loading = "1";
      const next = new Image();
      next.onload = next.onerror = () => { if (next.naturalWidth) img.src = next.src; delete img.dataset.loading; };
      next.src = `/api/rooms/${roomId}/sources/${img.dataset.thumb}/thumbnail.jpg?width=${img.dataset.thumbWidth || 320}&t=${Date.now()}`;
    });
    // Before going live the program monitor shows a larger still of the program source.
    if (room && room.state !== "live" && !previewLoading) {
      previewLoading = true;
      const next = new Image();
      next.onload = next.onerror = () => { if (next.naturalWidth) $("program-preview").src = next.src; previewLoading = false; };
      next.src = `/api/rooms/${roomId}/sources/program/thumbnail.jpg?width=960&t=${Date.now()}`;
    }
  }

  const socket = (MedRoom.roomSocket = new MedRoom.RoomSocket(roomId, $("connection-banner")));
  document.addEventListener("medroom:state", (event) => render(event.detail.room));
  document.addEventListener("medroom:error", (event) => say(event.detail.message, "error"));
  socket.start();
  setInterval(tick, 500);
  window.addEventListener("pagehide", () => player.leave());
})();
