// The pairing page of a classroom screen: shows the code until an admin enters it, then
// reloads as the classroom screen; a new code once this one expires.
"use strict";
(function () {
  const root = document.querySelector(".pair");
  const expires = Date.parse(root.dataset.expires);
  const left = document.getElementById("pair-left");
  setInterval(() => {
    const s = Math.max(0, Math.round((expires - Date.now()) / 1000));
    left.textContent = s > 90 ? ngettext("%(num)s minute", "%(num)s minutes", Math.ceil(s / 60))
      : ngettext("%(num)s second", "%(num)s seconds", s);
    if (s === 0) window.location.reload();
  }, 1000);
  async function poll() {
    try {
      const response = await fetch("/api/screen/state", { credentials: "same-origin", cache: "no-store" });
      if (response.ok) { window.location.reload(); return; }
    } catch (error) { /* the server is restarting: keep asking */ }
    setTimeout(poll, 2000);
  }
  poll();
})();
