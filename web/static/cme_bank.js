// The question bank editor: single- and multiple-answer questions, the correct options ticked;
// the server validates and stores the whole bank at once.
(() => {
  const bank = document.getElementById("bank");
  if (!bank) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const url = `/api/cme/programmes/${bank.dataset.programme}/questions`;
  const draws = Number(bank.dataset.draws);
  const message = document.getElementById("bank-message");
  const say = (text, kind = "") => { message.className = `message ${kind}`; message.textContent = text; };
  const el = (tag, props = {}, ...children) => { const n = Object.assign(document.createElement(tag), props); n.append(...children); return n; };

  function option(text = "", right = false) {
    const row = el("div", { className: "opt" + (right ? " right" : "") },
      el("input", { type: "checkbox", checked: right, title: gettext("correct") }),
      el("input", { type: "text", value: text, placeholder: gettext("Option") }),
      el("button", { type: "button", className: "btn btn-small btn-ghost", textContent: "✕", title: gettext("Remove option"), onclick: () => { row.remove(); count(); } }));
    row.querySelector("input[type=checkbox]").addEventListener("change", (e) => row.classList.toggle("right", e.target.checked));
    return row;
  }
  function question(q = { kind: "single", text: "", options: ["", "", "", ""], correct: [] }) {
    const kind = el("select", {}, el("option", { value: "single", textContent: gettext("one correct answer") }), el("option", { value: "multiple", textContent: gettext("several correct answers") }));
    kind.value = q.kind;
    const options = el("div", { className: "opts" }, ...q.options.map((o, i) => option(o, q.correct.includes(i))));
    const li = el("li", {},
      el("div", { className: "qhead" }, kind,
        el("button", { type: "button", className: "btn btn-small btn-ghost", textContent: "+ " + gettext("Option"), onclick: () => options.append(option()) }),
        el("button", { type: "button", className: "btn btn-small btn-ghost", textContent: gettext("Remove question"), onclick: () => { li.remove(); count(); } })),
      el("textarea", { rows: 2, value: q.text, placeholder: gettext("Question") }), options);
    return li;
  }
  function read() {
    return [...bank.children].map((li) => {
      const opts = [...li.querySelectorAll(".opt")];
      return { kind: li.querySelector("select").value, text: li.querySelector("textarea").value.trim(),
        options: opts.map((o) => o.querySelector("input[type=text]").value.trim()),
        correct: opts.flatMap((o, i) => (o.querySelector("input[type=checkbox]").checked ? [i] : [])) };
    });
  }
  function count() {
    const n = bank.children.length;
    const parts = [ngettext("%(num)s question", "%(num)s questions", n)];
    if (draws) parts.push(ngettext("%(num)s drawn per attempt", "%(num)s drawn per attempt", draws));
    if (draws && n < draws) parts.push(ngettext("%(num)s more needed", "%(num)s more needed", draws - n));
    document.getElementById("bank-count").textContent = parts.join(" · ");
  }
  document.getElementById("bank-add").addEventListener("click", () => { bank.append(question()); count(); });
  document.getElementById("bank-save").addEventListener("click", async () => {
    say(gettext("Saving…"));
    const response = await fetch(url, { method: "PUT", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify({ questions: read() }) });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { say(typeof body.detail === "string" ? body.detail : response.statusText, "message-error"); return; }
    say(ngettext("Saved: %(num)s question.", "Saved: %(num)s questions.", body.questions.length), "message-ok");
  });
  fetch(url).then((r) => r.json()).then((body) => { body.questions.forEach((q) => bank.append(question(q))); count(); });
})();
