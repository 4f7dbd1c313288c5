// Console: who talks back now, with a level meter fed by the server's figures, an End button
// for each, and the speakers' voices (the program preview's audio line plays them alone; see
// console.js). Polled four times a second while someone is granted, every two seconds else.
"use strict";
(function () {
  const root = document.querySelector(".console");
  const panel = document.getElementById("talkback-panel");
  if (!root || !panel) return;
  const roomId = root.dataset.room;
  const list = document.getElementById("talkback-list");
  const audio = document.getElementById("talkback-audio");
  const hear = document.getElementById("talkback-hear");

  // Browsers play sound only after the page was used: offer a button when playing was refused.
  function tryPlay() {
    if (!audio.srcObject) return;
    audio.play().then(() => { hear.hidden = true; }).catch(() => { hear.hidden = false; });
  }
  hear.addEventListener("click", () => { audio.muted = false; tryPlay(); });

  function row(s, name) {
    const li = document.createElement("li");
    li.className = "speaker-row";
    li.dataset.user = String(s.user_id);
    li.innerHTML =
      '<span class="speaker-name"></span>' +
      '<div class="talkback-level" role="meter" aria-valuemin="-60" aria-valuemax="0"><span></span></div>' +
      '<button type="button" class="btn btn-danger btn-small"></button>' +
      '<span class="muted small"></span>';
    li.querySelector(".speaker-name").textContent = name;
    li.querySelector(".speaker-name").translate = false;
    li.querySelector("button").textContent = gettext("End");
    li.querySelector("button").setAttribute("aria-label", gettext("End %(name)s's talkback", { name }));
    const level = Math.max(0, Math.min(1, (s.level_db + 60) / 60));
    const meter = li.querySelector(".talkback-level");
    meter.style.setProperty("--level", s.publishing ? String(level) : "0");
    meter.setAttribute("aria-valuenow", String(s.level_db));
    meter.dataset.db = String(s.level_db);
    const time = i18n.formatClock(s.seconds);
    li.querySelector(".muted").textContent = !s.publishing ? gettext("accepted · waiting for the microphone")
      : s.audio ? gettext("speaking for %(time)s", { time }) : gettext("speaking for %(time)s · no sound yet", { time });
    li.querySelector("button").addEventListener("click", async () => {
      try { await MedRoom.api(`/api/rooms/${roomId}/talkback/grants/${s.user_id}`, { method: "DELETE" }); }
      catch (error) { /* gone already */ }
      poll();
    });
    return li;
  }

  let timer = null;
  async function poll() {
    clearTimeout(timer);
    let speakers = [];
    try { speakers = await MedRoom.api(`/api/rooms/${roomId}/talkback`); } catch (error) { speakers = []; }
    const rows = [];
    for (const s of speakers) rows.push(row(s, s.name));
    list.replaceChildren(...rows);
    panel.hidden = speakers.length === 0;
    if (speakers.some((s) => s.publishing)) tryPlay();
    timer = setTimeout(poll, speakers.length ? 250 : 2000);
  }
  poll();
})();
