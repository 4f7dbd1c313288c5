// The classroom screen: the room's program full screen while it is live, and the check-in
// QR code and short code beside it, new every 30 s. The PC is paired (a device cookie), not
// logged in; when an admin unpairs it, the next answer is 401 and the page goes back to pairing.
"use strict";
(function () {
  const root = document.querySelector(".screen");
  const $ = (id) => document.getElementById(id);
  const token = document.querySelector('meta[name="screen-token"]').content;
  const video = $("screen-video");
  const labels = {
    idle: [gettext("Waiting"), "conn-waiting"], waiting: [gettext("Waiting for the session"), "conn-waiting"],
    connecting: [gettext("Connecting…"), "conn-connecting"], live: [gettext("Live"), "conn-live"],
    reconnecting: [gettext("Reconnecting…"), "conn-reconnecting"],
  };
  const notStarted = gettext("The session has not started yet. The picture appears here by itself when it goes live.");
  let player = null;
  let state = null;
  let frames = 0;
  let pollTimer = null;

  function onState(s) {
    const [text, cls] = labels[s] || [s, "conn-waiting"];
    $("conn-state").textContent = text;
    $("conn-state").className = "conn " + cls;
    root.dataset.state = s;
    $("screen-overlay").hidden = s === "live";
    if (s === "reconnecting") $("overlay-text").textContent = gettext("Connection lost. Rejoining…");
    else if (s === "connecting") $("overlay-text").textContent = gettext("Connecting to the session…");
  }

  function ensurePlayer(roomId, iceServers) {
    if (player) return;
    player = new MedRoom.WhepPlayer(roomId, video, onState, {
      joinUrl: "/api/screen/whep", joinHeaders: { "X-Screen-Token": token }, iceServers,
    });
    player.start();
  }

  function stopPlayer() {
    if (!player) return;
    player.stop();
    player = null;
  }

  // The room's questions beside the picture (the approved ones, as students see them, without
  // names): the hall follows the discussion the instructor takes.
  function showQuestions(questions) {
    const list = $("screen-question-list");
    list.replaceChildren(...questions.map((q) => {
      const li = document.createElement("li");
      li.className = "screen-question" + (q.status === "answering" ? " answering" : "");
      const votes = document.createElement("span");
      votes.className = "screen-votes";
      votes.textContent = "▲ " + q.votes;
      const text = document.createElement("span");
      text.textContent = q.text;  // text, never HTML
      li.append(votes, text);
      return li;
    }));
    $("screen-questions").hidden = questions.length === 0;
  }

  function showSide(c, questions) {
    const any = !!c || questions.length > 0;
    $("checkin-panel").hidden = !any;
    root.classList.toggle("has-checkin", any);
    for (const id of ["checkin-heading", "checkin-qr", "checkin-code"]) $(id).hidden = !c;
    for (const node of $("checkin-panel").querySelectorAll(".checkin-only")) node.hidden = !c;
    showQuestions(questions);
    showCheckin(c);
  }

  function showCheckin(c) {
    if (!c) return;
    if ($("checkin-qr").dataset.code !== c.code) {
      $("checkin-qr").src = c.qr;
      $("checkin-qr").dataset.code = c.code;
      $("checkin-code").textContent = c.code;
    }
    const fresh = c.check > 1;
    $("checkin-heading").textContent = fresh ? gettext("Presence check %(check)s", { check: i18n.formatNumber(c.check) }) : gettext("Check in");
    $("checkin-panel").classList.toggle("is-check", fresh && c.check_kind !== "start");
    $("checkin-check").textContent = fresh ? gettext("scan again for this check") : gettext("scan once you are seated");
    $("present-now").textContent = i18n.formatNumber(c.present_now);
    $("present-session").textContent = i18n.formatNumber(c.present_session);
  }

  async function poll() {
    clearTimeout(pollTimer);
    let wait = 2000;
    try {
      const response = await fetch("/api/screen/state", { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401) { stopPlayer(); window.location.reload(); return; }
      state = await response.json();
      $("overlay-title").textContent = state.room.title || state.room.name;
      $("session-title").textContent = state.room.title || state.room.name;
      if (state.room.live) {
        ensurePlayer(state.room.id, state.ice_servers);
      } else {
        wait = 1000;  // waiting for the session: notice it going live within a second
        stopPlayer();
        onState("waiting");
        $("overlay-text").textContent = notStarted;
      }
      showSide(state.checkin, state.questions || []);
      if (state.checkin) wait = Math.min(wait, Math.max(200, state.checkin.changes_at * 1000 - Date.now() + 150));
    } catch (error) {
      onState(player ? "reconnecting" : "waiting");
    }
    pollTimer = setTimeout(poll, wait);
  }

  setInterval(() => {
    // The hall's own time, whatever the PC's setting.
    // The hall's zone: the page's (data-time-zone), or the latest state's if an admin changed it.
    const zone = (state && state.classroom.timezone) || undefined;
    try { $("clock").textContent = i18n.formatTime(new Date(), zone ? { timeZone: zone } : {}); }
    catch (error) { $("clock").textContent = i18n.formatTime(new Date()); }
    if (state && state.checkin) {
      const left = Math.max(0, state.checkin.changes_at * 1000 - Date.now());
      $("checkin-bar").style.width = (left / 300).toFixed(1) + "%";
    }
  }, 250);
  $("checkin-host").textContent = window.location.host;

  function countFrames() {
    frames += 1;
    video.dataset.frames = String(frames);
    video.requestVideoFrameCallback(countFrames);
  }
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(countFrames);
  // Browsers allow full screen only after a gesture: one click or key on the screen PC.
  const full = () => { if (!document.fullscreenElement) document.documentElement.requestFullscreen().catch(() => {}); };
  document.addEventListener("click", full);
  document.addEventListener("keydown", full);
  window.addEventListener("pagehide", () => stopPlayer());
  onState("waiting");
  poll();
})();
