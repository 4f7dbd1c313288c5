// Student view: join the live session by WHEP, show the connection state, rejoin on drops.
"use strict";
(function () {
  const root = document.querySelector(".watch");
  const roomId = root.dataset.room;
  const $ = (id) => document.getElementById(id);
  const video = $("live-video");
  const labels = {
    idle: ["Waiting", "conn-waiting"], waiting: ["Waiting for the session", "conn-waiting"],
    connecting: ["Connecting…", "conn-connecting"], live: ["Live", "conn-live"],
    reconnecting: ["Reconnecting…", "conn-reconnecting"],
  };
  let room = null;
  let frames = 0;

  const player = new MedRoom.WhepPlayer(roomId, video, (state, detail) => {
    const [text, cls] = labels[state] || [state, "conn-waiting"];
    $("conn-state").textContent = text;
    $("conn-state").className = "conn " + cls;
    root.dataset.state = state;
    const overlay = $("watch-overlay");
    overlay.hidden = state === "live";
    $("watch-overlay-text").textContent =
      state === "waiting" ? "The session has not started yet. The video starts by itself when the instructor goes live." :
      state === "reconnecting" ? "Connection lost. Rejoining…" : "Connecting…";
  });

  // Count decoded frames: the page (and its tests) can tell the video really advances.
  function countFrames() {
    frames += 1;
    video.dataset.frames = String(frames);
    video.requestVideoFrameCallback(countFrames);
  }
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(countFrames);
  video.addEventListener("resize", () => { $("video-info").textContent = `${video.videoWidth}×${video.videoHeight}`; });

  $("fullscreen").addEventListener("click", () => {
    const el = document.querySelector(".monitor-large");
    if (document.fullscreenElement) document.exitFullscreen(); else el.requestFullscreen().catch(() => {});
  });

  async function poll() {
    try {
      room = await MedRoom.api(`/api/rooms/${roomId}`);
      $("room-state").textContent = room.state === "live" ? "Live" : "Not live yet";
      $("watching").textContent = room.viewer_count;
      $("watch-title").textContent = room.session_title || root.dataset.roomName;
    } catch (error) {
      $("room-state").textContent = "Cannot reach the room";
    }
    setTimeout(poll, 2000);
  }
  setInterval(() => {
    $("watch-clock").textContent = room && room.live_since
      ? "Live for " + MedRoom.formatDuration((Date.now() - Date.parse(room.live_since)) / 1000) : "";
  }, 1000);
  poll();
  player.start();
  window.addEventListener("pagehide", () => player.leave());
})();
