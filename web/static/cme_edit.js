// The programme editor: a form for the programme, its organisers, sponsors, agenda and final
// test; every change is checked on the server (POST /api/cme/preview) and the findings, with
// their articles, and the credits appear beside the form before anything is saved.
(() => {
  const form = document.getElementById("editor");
  if (!form) return;
  const data = JSON.parse(document.getElementById("editor-data").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const agenda = $("ed-agenda"), organisers = $("ed-organisers"), sponsors = $("ed-sponsors");
  const base = data.programme || {};
  // Agenda and organiser rows reuse names such as "kind" and "title": the programme's own
  // fields are looked up inside their section, never through form.elements.
  const fieldsRoot = form.querySelector("#ed-programme");
  const testRoot = form.querySelector("#ed-test");
  const attendanceRoot = form.querySelector("#ed-attendance");
  const f = new Proxy({}, { get: (_, name) => fieldsRoot.querySelector(`[name="${name}"]`) || testRoot.querySelector(`[name="${name}"]`) || attendanceRoot.querySelector(`[name="${name}"]`) });
  let programmeId = data.id;

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    node.append(...children);
    return node;
  };
  const select = (name, options, value) => {
    const node = el("select", { name });
    options.forEach(([v, label]) => node.append(el("option", { value: v, textContent: label })));
    node.value = value ?? options[0][0];
    return node;
  };
  const input = (name, value = "", attrs = {}) => el("input", { name, value: value ?? "", ...attrs });
  const tool = (label, title, action) => el("button", { type: "button", className: "btn btn-small btn-ghost", textContent: label, title, "data-tool": action });

  // -- rows -----------------------------------------------------------------------------
  function organiserRow(o = {}) {
    return el("div", { class: "row organiser" },
      input("name", o.name, { placeholder: gettext("Organiser name") }),
      select("kind", data.organiser_kinds.map((k) => [k, data.labels.organiser_kinds[k] || k]), o.kind),
      select("scope", data.levels.map((l) => [l, gettext("accredited: %(level)s", { level: data.labels.levels[l] || l })]), o.scope || "national"),
      tool("✕", gettext("Remove"), "remove"));
  }
  function sponsorRow(s = {}) {
    return el("div", { class: "row sponsor" }, input("name", s.name, { placeholder: gettext("Sponsor name") }), tool("✕", gettext("Remove"), "remove"));
  }
  let refCounter = 0;
  const newRef = () => { let ref; do { ref = `i${++refCounter}`; } while (agenda.querySelector(`[data-ref="${ref}"]`)); return ref; };

  function itemRow(i = {}) {
    const speaker = i.speaker || {};
    const li = el("li", { "data-ref": i.ref || newRef() },
      el("div", { class: "line1" },
        select("kind", data.item_kinds.map((k) => [k, data.labels.item_kinds[k] || k]), i.kind || "lecture"),
        input("day", i.day || f.starts_on.value, { type: "date", title: gettext("day") }),
        input("start", i.start || "09:00", { type: "time", title: gettext("start") }),
        input("end", i.end || "10:00", { type: "time", title: gettext("end") }),
        input("title", i.title, { placeholder: gettext("Exact title") }),
        el("div", { class: "tools" }, tool("↑", gettext("Move up"), "up"), tool("↓", gettext("Move down"), "down"), tool("✕", gettext("Remove"), "remove"))),
      el("div", { class: "line2" },
        input("speaker_title", speaker.title, { placeholder: gettext("Prof. dr."), title: gettext("speaker's title") }),
        input("speaker_name", speaker.name, { placeholder: gettext("Speaker"), title: gettext("speaker") }),
        input("represents_sponsor", speaker.represents_sponsor, { placeholder: gettext("speaks for a sponsor?"), title: gettext("the sponsor this speaker represents, if any (art. 17)") }),
        input("session", i.session, { placeholder: gettext("session"), title: gettext("session (discussions: at most a quarter of it)") }),
        input("track", i.track || "main", { placeholder: gettext("track"), title: gettext("track: parallel sessions run on different tracks") }),
        select("live_session_id", [["", gettext("on site")], ...data.live_sessions.map((s) => [String(s.id), `${gettext("live #%(id)s", { id: s.id })} ${s.title}`])],
          i.live_session_id == null ? "" : String(i.live_session_id))));
    li.dataset.person = speaker.person_id || "";
    li.className = `kind-${i.kind || "lecture"}`;
    return li;
  }

  // -- reading the form -----------------------------------------------------------------
  const value = (root, name) => { const node = root.querySelector(`[name="${name}"]`); return node ? node.value.trim() : ""; };
  const orNull = (v) => (v === "" ? null : v);

  function agendaItems() {
    return [...agenda.children].map((li) => {
      const name = value(li, "speaker_name");
      return {
        ref: li.dataset.ref, kind: value(li, "kind"), day: value(li, "day"),
        start: value(li, "start"), end: value(li, "end"), title: value(li, "title"),
        speaker: name ? { name, title: value(li, "speaker_title"), person_id: li.dataset.person || null,
          represents_sponsor: orNull(value(li, "represents_sponsor")) } : null,
        session: orNull(value(li, "session")), track: value(li, "track") || "main",
        live_session_id: value(li, "live_session_id") ? Number(value(li, "live_session_id")) : null,
      };
    });
  }

  function body() {
    const test = f.has_test.checked ? {
      question_count: Number(f.question_count.value) || 0, max_attempts: Number(f.max_attempts.value) || 0,
      time_limit_minutes: Number(f.time_limit_minutes.value) || 0, pass_ratio: f.pass_ratio.value.trim() || "3/4",
    } : null;
    return {
      ...base,
      ref: f.ref.value.trim(), title: f.title.value.trim(), kind: f.kind.value, level: f.level.value,
      starts_on: f.starts_on.value, ends_on: f.ends_on.value, venue: f.venue.value.trim(),
      timezone: f.timezone.value.trim() || "Europe/Bucharest",
      drop_tolerance_seconds: data.drop_tolerance_seconds || 0,
      request_filed_on: orNull(f.request_filed_on.value), final_programme_filed_on: orNull(f.final_programme_filed_on.value),
      learning_hours: f.kind.value.startsWith("distance") ? orNull(f.learning_hours.value.trim()) : null,
      organisers: [...organisers.children].map((r) => ({ name: value(r, "name"), kind: value(r, "kind"), scope: value(r, "scope") })).filter((o) => o.name),
      sponsors: [...sponsors.children].map((r) => ({ name: value(r, "name") })).filter((s) => s.name),
      organiser_usernames: f.organiser_usernames.value.split(",").map((u) => u.trim()).filter(Boolean),
      agenda: agendaItems(), final_test: test,
      presence_check_percent: checksPercent().value ?? 0,
    };
  }

  // The presence-check share: a whole number from 0 to 100, said next to the field at once
  // (the server refuses anything else with the same words).
  function checksPercent() {
    const input = f.presence_check_percent;
    const raw = input.validity.badInput ? gettext("not a number") : input.value.trim();
    const number = raw === "" ? 0 : Number(raw);
    const ok = !input.validity.badInput && Number.isInteger(number) && number >= 0 && number <= 100 && !/[eE.]/.test(raw);
    return ok ? { value: number, error: "" }
      : { value: null, error: gettext("Presence checks to answer: “%(value)s” must be a whole percentage from 0 (not required) to 100 (every presence check).", { value: raw }) };
  }
  function showChecksError() {
    const { error } = checksPercent();
    const box = $("ed-checks-error");
    box.hidden = !error;
    box.textContent = error;
    f.presence_check_percent.classList.toggle("invalid", Boolean(error));
    f.presence_check_percent.setAttribute("aria-invalid", String(Boolean(error)));
    return error;
  }

  // Overlaps and ends-before-starts are shown on the rows at once; the server says the same
  // in its own words when asked.
  function rowErrors(items) {
    const errors = new Map();
    const add = (ref, text) => errors.set(ref, [...(errors.get(ref) || []), text]);
    items.forEach((i) => { if (i.start && i.end && i.end <= i.start) add(i.ref, gettext("ends at %(end)s, not after its start at %(start)s", { end: i.end, start: i.start })); });
    const valid = items.filter((i) => i.day && i.start && i.end && i.end > i.start && i.kind !== "satellite_symposium");
    valid.forEach((a, n) => valid.slice(n + 1).forEach((b) => {
      if (a.day === b.day && a.track === b.track && a.start < b.end && b.start < a.end) {
        const name = (i) => `“${i.title || data.labels.item_kinds[i.kind] || i.kind}” ${i.start}–${i.end}`;
        const overlap = (other) => gettext("overlaps %(other)s on track %(track)s: move one, or put it on another track", { other: name(other), track: a.track });
        add(a.ref, overlap(b));
        add(b.ref, overlap(a));
      }
    }));
    [...agenda.children].forEach((li) => {
      li.querySelector(".row-error")?.remove();
      const mine = errors.get(li.dataset.ref);
      li.classList.toggle("bad", Boolean(mine));
      li.className = li.className.replace(/kind-\S+/, `kind-${value(li, "kind")}`);
      if (mine) li.append(el("div", { class: "row-error", textContent: mine.join("; ") }));
    });
    return errors.size;
  }

  // -- the live check -------------------------------------------------------------------
  let timer = null, sequence = 0;
  function schedule() {
    rowErrors(agendaItems());  // at once; the server's check follows when typing pauses
    clearTimeout(timer);
    timer = setTimeout(preview, 350);
  }

  async function preview() {
    showChecksError();
    const current = body();
    const bad = rowErrors(current.agenda);
    form.querySelector(".test-fields").setAttribute("aria-disabled", String(!f.has_test.checked));
    form.querySelectorAll(".distance-only").forEach((n) => { n.hidden = !current.kind.startsWith("distance"); });
    const mine = ++sequence;
    const query = programmeId ? `?programme_id=${programmeId}` : "";
    const response = await fetch(`/api/cme/preview${query}`, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(current),
    });
    if (mine !== sequence) return;  // a newer change is on its way
    const result = await response.json().catch(() => ({}));
    const formError = $("ed-form-error");
    if (!response.ok) {
      formError.hidden = false;
      formError.textContent = typeof result.detail === "string" ? result.detail
        : (result.detail || []).map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ") || response.statusText;
      $("ed-findings").replaceChildren();
      $("ed-counts").textContent = bad ? ngettext("%(num)s row to fix", "%(num)s rows to fix", bad) : "";
      $("ed-credits").textContent = "–";
      $("ed-hours").textContent = gettext("fix the form to see the credits");
      $("ed-steps").replaceChildren();
      return;
    }
    formError.hidden = true;
    showFindings(result.check);
    showCredits(result.credits);
  }

  function showFindings(check) {
    $("ed-counts").replaceChildren(
      el("span", { class: "count-error", textContent: ngettext("%(num)s error", "%(num)s errors", check.errors) }),
      el("span", { class: "count-warning", textContent: ngettext("%(num)s warning", "%(num)s warnings", check.warnings) }));
    const flags = new Map();
    $("ed-findings").replaceChildren(...check.findings.map((f) => {
      if (f.item_ref && flags.get(f.item_ref) !== "error") flags.set(f.item_ref, f.severity);
      return el("li", { class: `finding finding-${f.severity}`, "data-article": f.article },
        el("span", { class: "article", textContent: f.article }), f.message);
    }));
    if (!check.findings.length) $("ed-findings").append(el("li", { class: "count-ok", textContent: gettext("The programme meets every rule the checker knows.") }));
    [...agenda.children].forEach((li) => {
      li.classList.remove("flag-error", "flag-warning");
      if (flags.has(li.dataset.ref)) li.classList.add(`flag-${flags.get(li.dataset.ref)}`);
    });
    const submit = $("ed-submit");
    if (submit) { submit.disabled = check.errors > 0; submit.title = check.errors ? gettext("Fix the errors first") : ""; }
  }

  function showCredits(credits) {
    $("ed-credits").textContent = credits.credits;
    $("ed-hours").textContent = gettext("%(hours)s creditable h", { hours: i18n.formatNumber(Number(credits.creditable_hours)) });
    $("ed-steps").replaceChildren(...credits.steps.map((s) => el("li", {},
      el("span", { class: "art", textContent: s.article }), el("span", { textContent: s.description }),
      el("span", { class: "val", textContent: i18n.formatNumber(Math.round(s.value * 100) / 100) }))));
  }

  // -- saving ---------------------------------------------------------------------------
  const say = (text, kind = "") => { const m = $("ed-message"); m.className = `message ${kind}`; m.textContent = text; };
  async function send(url, method, payload) {
    const response = await fetch(url, { method, headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: payload && JSON.stringify(payload) });
    const result = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(typeof result.detail === "string" ? result.detail : response.statusText);
    return result;
  }
  $("ed-save").addEventListener("click", async () => {
    const current = body();
    if (rowErrors(current.agenda)) { say(gettext("Fix the agenda rows marked in red first."), "message-error"); return; }
    const checksError = showChecksError();
    if (checksError) { say(checksError, "message-error"); f.presence_check_percent.focus(); return; }
    try {
      const saved = programmeId ? await send(`/api/cme/programmes/${programmeId}`, "PUT", current)
        : await send("/api/cme/programmes", "POST", current);
      if (!programmeId) { location.href = `/cme/programmes/${saved.id}/edit?created=1`; return; }
      say(gettext("Saved at %(time)s.", { time: i18n.formatTime(new Date()) }), "message-ok");
    } catch (error) { say(error.message, "message-error"); }
  });
  $("ed-submit")?.addEventListener("click", async () => {
    if (!confirm(gettext("Submit this programme? A submitted programme can no longer be edited."))) return;
    try {
      await send(`/api/cme/programmes/${programmeId}`, "PUT", body());
      await send(`/api/cme/programmes/${programmeId}/submit`, "POST");
      location.href = `/cme/programmes/${programmeId}`;
    } catch (error) { say(error.message, "message-error"); }
  });

  // -- wiring ---------------------------------------------------------------------------
  form.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const row = button.closest("li, .row");
    const add = button.dataset.add;
    if (add === "organiser") organisers.append(organiserRow());
    else if (add === "sponsor") sponsors.append(sponsorRow());
    else if (add === "item" || add === "break" || add === "parallel") {
      const last = agenda.lastElementChild;
      const lastItem = last ? agendaItems().at(-1) : null;
      if (add === "parallel" && lastItem) {
        agenda.append(itemRow({ kind: "lecture", day: lastItem.day, start: lastItem.start, end: lastItem.end, track: lastItem.track === "main" ? "B" : `${lastItem.track}2`, session: null }));
      } else {
        const start = lastItem ? lastItem.end : "09:00";
        const [h, m] = start.split(":").map(Number);
        const minutes = add === "break" ? 15 : 60;
        const endAt = Math.min(h * 60 + m + minutes, 23 * 60 + 59);
        const end = `${String(Math.floor(endAt / 60)).padStart(2, "0")}:${String(endAt % 60).padStart(2, "0")}`;
        agenda.append(itemRow({ kind: add === "break" ? "break" : "lecture", day: lastItem?.day, start, end, title: add === "break" ? gettext("Break") : "" }));
      }
    } else if (button.dataset.tool === "remove" && row) row.remove();
    else if (button.dataset.tool === "up" && row?.previousElementSibling) row.after(row.previousElementSibling);
    else if (button.dataset.tool === "down" && row?.nextElementSibling) row.before(row.nextElementSibling);
    else return;
    schedule();
  });
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);

  // -- filling the form -----------------------------------------------------------------
  for (const name of ["ref", "title", "kind", "level", "starts_on", "ends_on", "venue", "request_filed_on", "final_programme_filed_on", "learning_hours"]) {
    if (base[name] != null) f[name].value = base[name];
  }
  f.timezone.value = data.timezone || "Europe/Bucharest";
  f.organiser_usernames.value = (data.organiser_usernames || []).join(", ");
  if (!base.level) f.level.value = "national";
  if (!base.starts_on) { const today = new Date().toISOString().slice(0, 10); f.starts_on.value = today; f.ends_on.value = today; }
  (base.organisers?.length ? base.organisers : [{}]).forEach((o) => organisers.append(organiserRow(o)));
  (base.sponsors || []).forEach((s) => sponsors.append(sponsorRow(s)));
  (base.agenda || []).forEach((i) => agenda.append(itemRow(i)));
  f.presence_check_percent.value = base.presence_check_percent ?? 0;
  const test = base.final_test;
  f.has_test.checked = Boolean(test);
  if (test) for (const name of ["question_count", "max_attempts", "time_limit_minutes", "pass_ratio"]) if (test[name] != null) f[name].value = test[name];
  if (new URLSearchParams(location.search).has("created")) say(gettext("Draft created."), "message-ok");
  preview();
})();
