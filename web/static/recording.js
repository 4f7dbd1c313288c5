// Console recording controls: record, pause/resume, stop, chapter markers (renamable).
"use strict";
(function () {
  const roomId = document.querySelector(".console").dataset.room;
  const $ = (id) => document.getElementById(id);
  let current = null; // the room's active recording, or null
  let clockBase = null; // [media seconds, Date.now()] when last read, to tick between polls

  function say(text, kind) {
    const message = $("console-message");
    message.textContent = text || "";
    message.className = "message" + (kind ? " message-" + kind : "");
  }

  async function call(promise, done) {
    try { const body = await promise; if (done) say(done, "ok"); return body; }
    catch (error) { say(error.message, "error"); return null; }
    finally { refresh(); }
  }

  const STATES = { recording: gettext("REC"), paused: gettext("paused"), stopped: gettext("stopped"),
                   recovered: gettext("recovered"), failed: gettext("failed") };

  function render(rec) {
    const active = rec && (rec.state === "recording" || rec.state === "paused");
    current = active ? rec : null;
    const badge = $("rec-badge");
    badge.textContent = !rec ? gettext("Not recording") : STATES[rec.state] || rec.state;
    badge.className = "badge" + (rec ? " badge-" + rec.state : "");
    $("rec-start").hidden = active;
    $("rec-stop").hidden = !active;
    $("rec-pause").hidden = !(active && rec.state === "recording");
    $("rec-resume").hidden = !(active && rec.state === "paused");
    $("marker-form").hidden = !active;
    MedRoom.liveOverlay.setLocal(active);  // drawing is kept on the recording while it runs
    clockBase = active ? [rec.duration, Date.now(), rec.state === "recording"] : null;
    // A recording that stopped by itself (failsafe, full disk) says why, until the next one.
    const why = rec && !active && (rec.stop_reason || rec.error);
    $("rec-stop-reason").hidden = !why;
    if (why) $("rec-stop-reason").textContent = gettext("Recording %(state)s: %(reason)s", { state: STATES[rec.state] || rec.state, reason: why });
    if (!rec) { $("rec-clock").textContent = ""; return; }
    if (!active) $("rec-clock").textContent = gettext("%(length)s kept", { length: i18n.formatClock(rec.duration) });
    const list = $("marker-list");
    const editing = list.contains(document.activeElement);
    if (editing) return; // never rebuild under the instructor's cursor
    list.innerHTML = "";
    rec.markers.forEach((marker) => {
      const li = document.createElement("li");
      li.innerHTML = `<span class="at"></span><input>`;
      li.querySelector(".at").textContent = i18n.formatClock(marker.at);
      li.querySelector("input").setAttribute("aria-label", gettext("Marker title"));
      const input = li.querySelector("input");
      input.value = marker.title;
      input.disabled = !active;
      input.addEventListener("change", () => call(MedRoom.api(
        `/api/recordings/${rec.id}/markers/${marker.id}`, { method: "PATCH", json: { title: input.value } }), gettext("Marker renamed.")));
      list.appendChild(li);
    });
  }

  async function refresh() {
    try {
      const list = await MedRoom.api(`/api/rooms/${roomId}/recordings`);
      const latest = list[0] || null;
      render(latest);
    } catch (error) { /* the room socket reports connectivity */ }
  }

  const start = () => call(MedRoom.api(`/api/rooms/${roomId}/recordings`, { method: "POST", json: { title: $("session-title").value } }), gettext("Recording."));
  const pause = () => current && call(MedRoom.api(`/api/recordings/${current.id}/pause`, { method: "POST" }), gettext("Recording paused."));
  const resume = () => current && call(MedRoom.api(`/api/recordings/${current.id}/resume`, { method: "POST" }), gettext("Recording resumed."));
  $("rec-start").addEventListener("click", start);
  $("rec-pause").addEventListener("click", pause);
  $("rec-resume").addEventListener("click", resume);
  $("rec-stop").addEventListener("click", () => {
    if (current && window.confirm(gettext("Stop the recording? It is kept and can be published later.")))
      call(MedRoom.api(`/api/recordings/${current.id}/stop`, { method: "POST" }), gettext("Recording stopped and kept."));
  });
  $("marker-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const title = $("marker-title").value.trim() || gettext("Marker %(n)s", { n: $("marker-list").children.length + 1 });
    if (!current) return;
    call(MedRoom.api(`/api/recordings/${current.id}/markers`, { method: "POST", json: { title } }), gettext("Marker added."))
      .then((marker) => { if (marker) $("marker-title").value = ""; });
  });
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "r" && !current) start();
    else if (key === "p" && current) (current.state === "paused" ? resume : pause)();
    else if (key === "m" && current) { event.preventDefault(); $("marker-title").focus(); }
  });
  // Drawing over the program (console.js, overlay.js): while recording, each finished stroke
  // also goes to the recording's timeline with its duration (the player replays it).
  document.addEventListener("medroom:stroke", (event) => {
    const done = event.detail;
    if (!current) return;
    call(MedRoom.api(`/api/recordings/${current.id}/strokes`, { method: "POST", json: {
      points: done.points, colour: done.colour, width: 0.006,
      duration_seconds: Math.min(600, done.seconds) } }));
  });

  setInterval(() => {
    if (clockBase) {
      const [media, at, running] = clockBase;
      const seconds = media + (running ? (Date.now() - at) / 1000 : 0);
      $("rec-clock").textContent = i18n.formatClock(seconds);
    }
  }, 250);
  // The room socket says when the room's recording starts, pauses, resumes or stops (here, on
  // another console, by the schedule or the failsafe); the details are fetched then.
  let lastSeen;
  document.addEventListener("medroom:state", (event) => {
    const seen = JSON.stringify(event.detail.recording);
    if (seen !== lastSeen) { lastSeen = seen; refresh(); }
  });
  refresh();
})();
