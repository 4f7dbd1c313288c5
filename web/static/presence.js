// Console presence panel: the operating room's own check-in code, the classrooms following
// the room with how many are checked in, and the button that opens a new presence check.
"use strict";
(function () {
  const root = document.querySelector(".console");
  if (!root) return;
  const roomId = root.dataset.room;
  const $ = (id) => document.getElementById(id);
  let timer = null;

  function classroomRow(c) {
    const li = document.createElement("li");
    li.dataset.classroom = c.id;
    const name = document.createElement("span");
    name.textContent = `${c.name}, ${c.city}`;
    const screen = document.createElement("span");
    screen.className = "badge " + (c.screens_connected ? "badge-ok" : "badge-idle");
    screen.textContent = c.screens_connected ? "screen on" : "screen off";
    const count = document.createElement("span");
    count.className = "muted small";
    count.textContent = `${c.present_now} now · ${c.present_session} in session`;
    li.append(name, screen, count);
    return li;
  }

  async function poll() {
    clearTimeout(timer);
    let wait = 3000;
    try {
      const p = await MedRoom.api(`/api/rooms/${roomId}/presence`);
      $("presence-live").hidden = !p.live;
      $("presence-idle").hidden = p.live;
      $("presence-new").disabled = !p.live;
      $("presence-check").textContent = p.live ? `check ${p.check}${p.check_kind === "start" ? " (start)" : ""}` : "";
      if (p.live) {
        if ($("presence-qr").dataset.code !== p.code) { $("presence-qr").src = p.qr; $("presence-qr").dataset.code = p.code; }
        $("presence-code").textContent = p.code;
        $("presence-here").textContent = p.present_now;
        $("presence-total").textContent = p.present_session;
        wait = Math.min(wait, Math.max(300, p.changes_at * 1000 - Date.now() + 150));
      }
      $("classroom-presence").replaceChildren(...p.classrooms.map(classroomRow));
    } catch (error) {
      $("presence-message").textContent = "Presence unavailable: " + error.message;
    }
    timer = setTimeout(poll, wait);
  }

  $("presence-new").addEventListener("click", async () => {
    $("presence-new").disabled = true;
    try {
      const c = await MedRoom.api(`/api/rooms/${roomId}/presence-checks`, { method: "POST" });
      $("presence-message").textContent = `Presence check ${c.check} opened: every screen shows a new code.`;
      $("presence-message").className = "message message-ok";
    } catch (error) {
      $("presence-message").textContent = error.message;
      $("presence-message").className = "message message-error";
    }
    poll();
  });
  poll();
})();
