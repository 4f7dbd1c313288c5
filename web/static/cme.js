// CME programme page: submit a draft to the College (the server re-checks and may refuse).
(() => {
  const button = document.getElementById("cme-submit");
  if (!button) return;
  const message = document.getElementById("cme-message");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  button.addEventListener("click", async () => {
    if (!confirm(gettext("Submit this programme? A submitted programme can no longer be edited."))) return;
    button.disabled = true;
    message.className = "message";
    message.textContent = gettext("Submitting…");
    try {
      const response = await fetch(`/api/cme/programmes/${button.dataset.programme}/submit`, {
        method: "POST", headers: { "X-CSRF-Token": csrf },
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.detail || response.statusText);
      location.reload();
    } catch (error) {
      message.className = "message message-error";
      message.textContent = error.message;
      button.disabled = false;
    }
  });
})();
