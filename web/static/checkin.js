// Checking in from a phone: send the code (from the QR link or typed) and say plainly what
// happened: checked in where, or why not.
"use strict";
(function () {
  const card = document.querySelector(".phone-card");
  const form = document.getElementById("checkin-form");
  const input = document.getElementById("checkin-code");
  const button = document.getElementById("checkin-submit");
  const result = document.getElementById("checkin-result");

  function show(ok, title, text) {
    result.hidden = false;
    result.className = "phone-result " + (ok ? "is-ok" : "is-error");
    result.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = title;
    const p = document.createElement("p");
    p.textContent = text;
    result.append(strong, p);
    card.dataset.result = ok ? "ok" : "refused";
  }

  input.addEventListener("input", () => {
    const clean = input.value.toUpperCase().replace(/[^0-9A-Z]/g, "").slice(0, 8);
    input.value = clean.length > 4 ? clean.slice(0, 4) + "-" + clean.slice(4) : clean;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    const body = { code: input.value };
    if (card.dataset.at) body.at = Number(card.dataset.at);
    else if (card.dataset.room) body.room = card.dataset.room;
    try {
      const answer = await MedRoom.api("/api/checkin", { method: "POST", json: body });
      show(true, gettext("Checked in"), gettext("%(message)s Presence check %(check)s, at %(time)s. Keep this page: scan again when the screen asks for a new check.",
        { message: answer.message, check: i18n.formatNumber(answer.check), time: i18n.formatTime(answer.at) }));
      input.value = "";
    } catch (error) {
      show(false, error.status === 429 ? gettext("Please wait") : gettext("Not checked in"), error.message);
    } finally {
      button.disabled = false;
    }
  });
  // Opened from the screen's QR code: the code is in the link, so check in at once.
  if (input.value) form.requestSubmit();
})();
