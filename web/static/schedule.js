// Console: plan sessions ahead (times are the browser's local time, sent with its offset).
"use strict";
(function () {
  const roomId = document.querySelector(".console").dataset.room;
  const $ = (id) => document.getElementById(id);
  const fmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  const fmtTime = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

  function say(text, kind) {
    const message = $("console-message");
    message.textContent = text;
    message.className = "message message-" + kind;
  }

  function localIso(date, time) {
    // A local wall-clock time as ISO 8601 with this browser's offset.
    const d = new Date(`${date}T${time}`);
    const off = -d.getTimezoneOffset();
    const sign = off >= 0 ? "+" : "-";
    const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, "0");
    const mm = String(Math.abs(off) % 60).padStart(2, "0");
    return `${date}T${time}:00${sign}${hh}:${mm}`;
  }

  async function refresh() {
    let sessions = [];
    try { sessions = await MedRoom.api(`/api/rooms/${roomId}/schedule`); } catch (e) { return; }
    const list = $("schedule-list");
    list.innerHTML = sessions.length ? "" : '<li class="muted">Nothing planned.</li>';
    sessions.forEach((s) => {
      const li = document.createElement("li");
      li.innerHTML = `<span class="when"></span><span class="what"></span><span class="badge badge-${s.state}"></span><span class="muted small msg"></span>`;
      li.querySelector(".when").textContent = `${fmt.format(new Date(s.starts_at))} – ${fmtTime.format(new Date(s.ends_at))}`;
      li.querySelector(".what").textContent = s.title + (s.course ? ` · ${s.course}` : "");
      li.querySelector(".badge").textContent = s.state;
      li.querySelector(".msg").textContent = s.message || "";
      if (s.state === "planned") {
        const cancel = document.createElement("button");
        cancel.className = "btn btn-ghost btn-small";
        cancel.type = "button";
        cancel.textContent = "Cancel";
        cancel.addEventListener("click", async () => {
          try { await MedRoom.api(`/api/schedule/${s.id}`, { method: "DELETE" }); say("Planned session cancelled.", "ok"); }
          catch (error) { say(error.message, "error"); }
          refresh();
        });
        li.appendChild(cancel);
      }
      list.appendChild(li);
    });
  }

  const today = new Date();
  $("plan-date").value = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}-${String(today.getDate()).padStart(2, "0")}`;
  $("schedule-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const date = $("plan-date").value;
    try {
      await MedRoom.api(`/api/rooms/${roomId}/schedule`, { method: "POST", json: {
        title: $("plan-title").value, course: $("plan-course").value || null,
        starts_at: localIso(date, $("plan-start").value), ends_at: localIso(date, $("plan-end").value) } });
      say("Session planned: the room records it on time.", "ok");
      $("plan-title").value = "";
    } catch (error) { say(error.message, "error"); }
    refresh();
  });
  refresh();
  setInterval(refresh, 5000);
})();
