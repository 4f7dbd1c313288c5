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
    name.translate = false;  // a classroom's own name, not interface text
    name.textContent = `${c.name}, ${c.city}`;
    const screen = document.createElement("span");
    screen.className = "badge " + (c.screens_connected ? "badge-ok" : "badge-idle");
    screen.textContent = c.screens_connected ? gettext("screen on") : gettext("screen off");
    const count = document.createElement("span");
    count.className = "muted small";
    count.textContent = gettext("%(now)s now · %(session)s in this session", {
      now: i18n.formatNumber(c.present_now), session: i18n.formatNumber(c.present_session) });
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
      $("presence-check").textContent = !p.live ? ""
        : p.check_kind === "start" ? gettext("check %(n)s (start)", { n: p.check }) : gettext("check %(n)s", { n: p.check });
      if (p.live) {
        if ($("presence-qr").dataset.code !== p.code) { $("presence-qr").src = p.qr; $("presence-qr").dataset.code = p.code; }
        $("presence-code").textContent = p.code;
        $("presence-here").textContent = p.present_now;
        $("presence-total").textContent = p.present_session;
        wait = Math.min(wait, Math.max(300, p.changes_at * 1000 - Date.now() + 150));
      }
      $("classroom-presence").replaceChildren(...p.classrooms.map(classroomRow));
    } catch (error) {
      $("presence-message").textContent = gettext("Presence unavailable: %(reason)s", { reason: error.message });
    }
    timer = setTimeout(poll, wait);
  }

  $("presence-new").addEventListener("click", async () => {
    $("presence-new").disabled = true;
    try {
      const c = await MedRoom.api(`/api/rooms/${roomId}/presence-checks`, { method: "POST" });
      $("presence-message").textContent = gettext("Presence check %(n)s opened: every screen shows a new code.", { n: c.check });
      $("presence-message").className = "message message-ok";
    } catch (error) {
      $("presence-message").textContent = error.message;
      $("presence-message").className = "message message-error";
    }
    poll();
  });
  poll();
})();
