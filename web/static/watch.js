// Student view: join the live session by WHEP, show the connection state, rejoin on drops;
// multi-view shows the program and the room's sources together.
"use strict";
(function () {
  const root = document.querySelector(".watch");
  const roomId = root.dataset.room;
  const $ = (id) => document.getElementById(id);
  const video = $("live-video");
  const labels = {
    idle: [gettext("Waiting"), "conn-waiting"], waiting: [gettext("Waiting for the session"), "conn-waiting"],
    connecting: [gettext("Connecting…"), "conn-connecting"], live: [gettext("Live"), "conn-live"],
    reconnecting: [gettext("Reconnecting…"), "conn-reconnecting"],
  };
  let room = null;
  let frames = 0;

  function onState(state, detail) {
    const [text, cls] = labels[state] || [state, "conn-waiting"];
    $("conn-state").textContent = text;
    $("conn-state").className = "conn " + cls;
    root.dataset.state = state;
    const overlay = $("watch-overlay");
    overlay.hidden = state === "live";
    $("watch-overlay-text").textContent =
      state === "waiting" ? gettext("The session has not started yet. The video starts by itself when the instructor goes live.") :
      state === "reconnecting" ? gettext("Connection lost. Rejoining…") : gettext("Connecting…");
  }

  // Multi-view: the program and every source arrive as tracks of one connection; one is
  // shown large, the others small beside it. Choosing another swaps the pictures here, in the
  // page: nothing is renegotiated and the server sends the same.
  const thumbs = Array.from(document.querySelectorAll(".view-thumb"));
  const views = thumbs.map((t) => t.dataset.view);
  const streams = [];
  let large = 0;
  let multi = false;

  function showLarge(index) {
    large = index;
    if (streams[index]) { video.srcObject = streams[index]; video.play().catch(() => {}); }
    thumbs.forEach((t, i) => t.classList.toggle("is-large", i === index));
    $("large-label").textContent = thumbs[index].querySelector("span").textContent;
    root.dataset.large = views[index];
    // The drawing belongs to the program's frames: hidden while another view is large.
    drawings.active = views[index] === "program";
    if (!drawings.active) drawings.setDrawing(false);
  }

  function onTrack(index, stream) {
    if (index < 0) return;
    streams[index] = stream;
    const small = thumbs[index].querySelector("video");
    small.srcObject = stream;
    small.play().catch(() => {});
    if (index === large) showLarge(index);
  }
  thumbs.forEach((thumb, i) => thumb.addEventListener("click", () => showLarge(i)));

  // The program sound plays from its own element, muted until the student turns it on
  // (browsers play sound only after a click on the page).
  const audio = $("live-audio");
  $("sound").addEventListener("click", () => {
    audio.muted = !audio.muted;
    if (!audio.muted) audio.play().catch(() => {});
    $("sound").setAttribute("aria-pressed", String(!audio.muted));
    $("sound").textContent = audio.muted ? gettext("Sound on") : gettext("Sound off");
    $("sound").classList.toggle("btn-on", !audio.muted);
  });

  // Live drawing: the instructor's (and an accepted speaker's) strokes over the program, on
  // the frame they were drawn on; this page may draw only while the instructor allows it.
  const drawings = (MedRoom.liveOverlay = new MedRoom.LiveOverlay(video, $("draw-canvas"), {
    onRights: (rights) => {
      $("draw-toggle").hidden = !rights.draw;
      if (rights.colour) $("draw-dot").style.background = rights.colour;
      $("draw-note").hidden = !rights.draw;
      $("draw-note").textContent = rights.draw ? gettext("The instructor lets you draw over the program: press Draw (D).") : "";
    },
    onDrawing: (on) => $("draw-toggle").setAttribute("aria-pressed", on ? "true" : "false"),
    onRefused: (why, code) => { $("draw-note").hidden = false; $("draw-note").textContent = MedRoom.overlayRefusal(why, code); },
  }));
  $("draw-toggle").addEventListener("click", () => drawings.setDrawing(!drawings.drawing));
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key.toLowerCase() === "d" && drawings.rights.draw) drawings.setDrawing(!drawings.drawing);
  });

  function makePlayer() {
    return new MedRoom.WhepPlayer(roomId, video, onState,
      multi ? { views, onTrack, audio, overlay: drawings } : { audio, overlay: drawings });
  }
  let player = makePlayer();

  $("multiview").addEventListener("click", () => {
    multi = !multi;
    player.stop();
    streams.length = 0;
    thumbs.forEach((t) => (t.querySelector("video").srcObject = null));
    $("multiview").setAttribute("aria-pressed", String(multi));
    $("multiview").classList.toggle("btn-on", multi);
    $("view-strip").hidden = !multi;
    $("large-label").hidden = !multi;
    root.classList.toggle("is-multiview", multi);
    if (multi) showLarge(0); else drawings.active = true;
    player = makePlayer();
    player.start();
  });

  // Count decoded frames: the page (and its tests) can tell the video really advances.
  function countFrames() {
    frames += 1;
    video.dataset.frames = String(frames);
    video.requestVideoFrameCallback(countFrames);
  }
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(countFrames);
  video.addEventListener("resize", () => {
    $("video-info").textContent = `${i18n.formatNumber(video.videoWidth, { useGrouping: false })}×${i18n.formatNumber(video.videoHeight, { useGrouping: false })}`;
  });

  $("fullscreen").addEventListener("click", () => {
    const el = document.querySelector(".monitor-large");
    if (document.fullscreenElement) document.exitFullscreen(); else el.requestFullscreen().catch(() => {});
  });

  async function poll() {
    try {
      room = await MedRoom.api(`/api/rooms/${roomId}`);
      $("room-state").textContent = room.state === "live" ? gettext("Live") : gettext("Not live yet");
      $("watching").textContent = ngettext("%(num)s viewer", "%(num)s viewers", room.viewer_count);
      $("watch-title").textContent = room.session_title || root.dataset.roomName;
    } catch (error) {
      $("room-state").textContent = gettext("Cannot reach the room");
    }
    setTimeout(poll, 2000);
  }
  setInterval(() => {
    $("watch-clock").textContent = room && room.live_since
      ? gettext("Live for %(time)s", { time: i18n.formatClock((Date.now() - Date.parse(room.live_since)) / 1000) }) : "";
  }, 1000);
  poll();
  player.start();
  window.addEventListener("pagehide", () => player.leave());
})();
