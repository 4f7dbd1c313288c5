// CME programme page: the limits of random presence checks in classrooms (organisers).
"use strict";
(function () {
  const card = document.getElementById("random-checks");
  if (!card) return;
  const path = `/api/cme/programmes/${card.dataset.programme}/random-checks`;
  const form = document.getElementById("random-form");
  const state = document.getElementById("random-state");
  const message = document.getElementById("random-message");

  function show(r) {
    state.textContent = r.enabled ? gettext("every %(least)s–%(most)s min", { least: r.min_minutes, most: r.max_minutes }) : gettext("off");
    if (r.enabled) {
      form.elements.min_minutes.value = r.min_minutes;
      form.elements.max_minutes.value = r.max_minutes;
    }
  }
  function say(text, error) {
    message.textContent = text;
    message.className = "message " + (error ? "message-error" : "message-ok");
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const least = Number(form.elements.min_minutes.value), most = Number(form.elements.max_minutes.value);
    if (least > most) { say(gettext("The least minutes must not be more than the most."), true); return; }
    try {
      show(await MedRoom.api(path, { method: "PUT", json: { min_minutes: least, max_minutes: most } }));
      say(gettext("Saved: screens ask at random moments within these limits while the programme is live."));
    } catch (error) { say(error.message, true); }
  });
  document.getElementById("random-off").addEventListener("click", async () => {
    try {
      show(await MedRoom.api(path, { method: "DELETE" }));
      say(gettext("Off: only the instructor's button asks for presence checks."));
    } catch (error) { say(error.message, true); }
  });
  MedRoom.api(path).then(show).catch((error) => say(error.message, true));
})();
