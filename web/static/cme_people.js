// CME people pages: a doctor's profile form, and on a participant list revealing a CNP and
// issuing and revoking the certificates. Every call carries the session's CSRF token; the server decides.
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      headers: { "X-CSRF-Token": csrf, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || response.statusText);
    return data;
  }

  function say(element, text, error = false) {
    element.className = error ? "message message-error" : "message";
    element.textContent = text;
  }

  // -- the profile form -------------------------------------------------------------------
  const form = document.getElementById("profile-form");
  if (form) {
    const list = document.getElementById("titles");
    const template = document.getElementById("title-template");
    const message = document.getElementById("profile-message");

    const addTitle = (kind = "", obtained = "", subject = "", years = "") => {
      const row = template.content.firstElementChild.cloneNode(true);
      if (kind) row.querySelector("[name=kind]").value = kind;
      row.querySelector("[name=obtained_on]").value = obtained;
      row.querySelector("[name=subject]").value = subject;
      row.querySelector("[name=years]").value = years;
      row.querySelector("[data-remove]").addEventListener("click", () => row.remove());
      list.appendChild(row);
    };
    for (const stored of [...list.querySelectorAll(".title-row")]) {
      stored.remove();
      addTitle(stored.dataset.kind, stored.dataset.obtained, stored.dataset.subject,
               stored.dataset.years);
    }
    document.getElementById("add-title").addEventListener("click", () => addTitle());

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const field = (name) => form.elements[name].value.trim();
      const titles = [...list.querySelectorAll(".title-row")].map((row) => ({
        kind: row.querySelector("[name=kind]").value,
        obtained_on: row.querySelector("[name=obtained_on]").value,
        subject: row.querySelector("[name=subject]").value.trim(),
        years: row.querySelector("[name=years]").value.split(/[ ,;]+/).filter(Boolean).map(Number),
      }));
      const body = {
        full_name: field("full_name"), specialty: field("specialty"),
        grade: form.elements.grade.value, workplace: field("workplace"), titles,
        cnp: field("cnp") || null,
      };
      say(message, gettext("Saving…"));
      try {
        await call("PUT", "/api/cme/me/profile", body);
        location.reload();
      } catch (error) {
        say(message, error.message, true);
      }
    });
  }

  // -- a participant list -------------------------------------------------------------------
  const listMessage = document.getElementById("list-message");
  const programme = location.pathname.match(/\/cme\/programmes\/(\d+)\//);
  for (const button of document.querySelectorAll("button.reveal")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const url = `/api/cme/programmes/${programme[1]}/participants/`
          + `${encodeURIComponent(button.dataset.person)}/cnp`;
        const data = await call("POST", url);
        button.previousElementSibling.textContent = data.cnp;
        button.remove();
        say(listMessage, gettext("CNP revealed; the access log records who saw it and when."));
      } catch (error) {
        say(listMessage, error.message, true);
        button.disabled = false;
      }
    });
  }
  document.querySelectorAll("button.revoke").forEach((button) => button.addEventListener("click", async () => {
    const reason = prompt(gettext("Revoke certificate %(number)s? Its verification page will say so.\nReason (kept in the access log):", { number: button.dataset.number }));
    if (reason === null) return;
    button.disabled = true;
    try {
      await call("POST", `/api/cme/certificates/${encodeURIComponent(button.dataset.number)}/revoke`, { reason });
      say(listMessage, gettext("Certificate %(number)s revoked.", { number: button.dataset.number }));
      button.replaceWith(Object.assign(document.createElement("span"), { className: "no", textContent: gettext("revoked") }));
    } catch (error) {
      say(listMessage, error.message, true);
      button.disabled = false;
    }
  }));
  const issue = document.getElementById("issue-certificates");
  if (issue) {
    issue.addEventListener("click", async () => {
      issue.disabled = true;
      say(listMessage, gettext("Issuing…"));
      try {
        const data = await call("POST", `/api/cme/programmes/${issue.dataset.programme}/certificates`);
        const skipped = data.skipped.map((s) => `${s.name}: ${s.reason}`).join("; ");
        const done = gettext("%(issued)s issued, %(already)s already issued.",
          { issued: i18n.formatNumber(data.issued.length), already: i18n.formatNumber(data.already_issued.length) });
        say(listMessage, skipped ? `${done} ${gettext("Not issued: %(who)s.", { who: skipped })}` : done);
        if (data.issued.length) setTimeout(() => location.reload(), 1500);
      } catch (error) {
        say(listMessage, error.message, true);
      } finally {
        issue.disabled = false;
      }
    });
  }
})();
