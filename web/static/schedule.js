// Console: plan sessions ahead. Times are on the viewer's own clock (the account's time zone,
// else the browser's: i18n.zone), entered and shown there, with the zone named on each line
// (Timișoara and Smederevo share rooms across a one-hour border); they travel as ISO 8601 with
// that zone's offset and the server stores UTC.
"use strict";
(function () {
  const roomId = document.querySelector(".console").dataset.room;
  const $ = (id) => document.getElementById(id);
  const zone = i18n.zone;
  const WHEN = { dateStyle: undefined, timeStyle: undefined, weekday: "short", day: "numeric", month: "short",
                 hour: "2-digit", minute: "2-digit" };
  const UNTIL = { timeStyle: undefined, hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  const STATES = { planned: gettext("planned"), recording: gettext("recording"), done: gettext("done"),
                   cancelled: gettext("cancelled"), missed: gettext("missed"), failed: gettext("failed") };

  function say(text, kind) {
    const message = $("console-message");
    message.textContent = text;
    message.className = "message message-" + kind;
  }

  // Minutes east of UTC of `zone` at the instant `ms`.
  function offsetAt(ms) {
    const parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(new Date(ms)).forEach((p) => (parts[p.type] = p.value));
    const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
    return Math.round((wall - Math.floor(ms / 1000) * 1000) / 60000);
  }

  // A wall-clock date and time in the viewer's zone as ISO 8601 with that zone's offset then.
  function zonedIso(date, time) {
    const [y, mo, d] = date.split("-").map(Number);
    const [h, mi] = time.split(":").map(Number);
    const wall = Date.UTC(y, mo - 1, d, h, mi);
    let offset = offsetAt(wall);
    offset = offsetAt(wall - offset * 60000); // again at the instant itself (daylight-saving days)
    const sign = offset >= 0 ? "+" : "-";
    const hh = String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0");
    const mm = String(Math.abs(offset) % 60).padStart(2, "0");
    return `${date}T${time}:00${sign}${hh}:${mm}`;
  }

  // Today's date on the viewer's clock, as the date input wants it (YYYY-MM-DD).
  function today() {
    const parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(new Date()).forEach((p) => (parts[p.type] = p.value));
    return `${parts.year}-${parts.month}-${parts.day}`;
  }

  // The panel names the zone its times are in; the server named its own guess, which the
  // browser's zone corrects on a first visit.
  if (zone !== document.documentElement.dataset.timeZone) {
    const name = new Intl.DateTimeFormat(i18n.tag, { timeZone: zone, timeZoneName: "long" })
      .formatToParts(new Date()).find((p) => p.type === "timeZoneName");
    $("schedule-zone").textContent = gettext("Recorded on time, even with this page closed. Times in %(zone)s.",
                                             { zone: name ? name.value : zone });
  }

  async function refresh() {
    let sessions = [];
    try { sessions = await MedRoom.api(`/api/rooms/${roomId}/schedule`); } catch (e) { return; }
    const list = $("schedule-list");
    if (!sessions.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = gettext("Nothing planned.");
      list.replaceChildren(li);
      return;
    }
    list.replaceChildren();
    sessions.forEach((s) => {
      const li = document.createElement("li");
      li.innerHTML = `<time class="when"></time><span class="what" translate="no"></span><span class="badge badge-${s.state}"></span><span class="muted small msg"></span>`;
      const when = li.querySelector(".when");
      when.dateTime = s.starts_at;
      when.textContent = gettext("%(start)s – %(end)s", {
        start: i18n.formatDateTime(s.starts_at, WHEN), end: i18n.formatTime(s.ends_at, UNTIL) });
      li.querySelector(".what").textContent = s.title + (s.course ? ` · ${s.course}` : "");
      li.querySelector(".badge").textContent = STATES[s.state] || s.state;
      li.querySelector(".msg").textContent = s.message || "";
      if (s.state === "planned") {
        const cancel = document.createElement("button");
        cancel.className = "btn btn-ghost btn-small";
        cancel.type = "button";
        cancel.textContent = gettext("Cancel");
        cancel.addEventListener("click", async () => {
          try { await MedRoom.api(`/api/schedule/${s.id}`, { method: "DELETE" }); say(gettext("Planned session cancelled."), "ok"); }
          catch (error) { say(error.message, "error"); }
          refresh();
        });
        li.appendChild(cancel);
      }
      list.appendChild(li);
    });
  }

  $("plan-date").value = today();
  $("schedule-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const date = $("plan-date").value;
    try {
      await MedRoom.api(`/api/rooms/${roomId}/schedule`, { method: "POST", json: {
        title: $("plan-title").value, course: $("plan-course").value || null,
        starts_at: zonedIso(date, $("plan-start").value), ends_at: zonedIso(date, $("plan-end").value) } });
      say(gettext("Session planned: the room records it on time."), "ok");
      $("plan-title").value = "";
    } catch (error) { say(error.message, "error"); }
    refresh();
  });
  refresh();
  setInterval(refresh, 5000);
})();
