// Curation pages: the recordings list and the lesson editor, both driven by /api/library.
"use strict";

const CSRF = document.querySelector('meta[name="csrf-token"]').content;

async function api(method, path, body, isForm) {
  const options = { method, headers: { "X-CSRF-Token": CSRF } };
  if (body !== undefined) {
    if (isForm) options.body = body;
    else { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
  }
  const response = await fetch("/api/library" + path, options);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || gettext("The server refused (HTTP %(status)s).", { status: response.status }));
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

// What a state is called in the page (the API's value stays the chip's class).
function stateName(state) {
  const names = {
    // a recording
    recording: gettext("in progress"), paused: gettext("paused"), stopped: gettext("stopped"),
    recovered: gettext("recovered"),
    // a lesson
    draft: gettext("draft"), publishing: gettext("publishing…"), published: gettext("published"),
    failed: gettext("failed"), unpublished: gettext("unpublished"),
  };
  return names[state] || state;
}

function chip(state) { return el("span", { class: `chip chip-${state}` }, stateName(state)); }

// A position or a length on the recording, to the tenth of a second ("1:02.5" / "1:02,5").
function clock(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  const rest = i18n.formatNumber(s - m * 60, { minimumIntegerDigits: 2, minimumFractionDigits: 1, maximumFractionDigits: 1 });
  return `${m}:${rest}`;
}

// A length as people read it: "1:02:03" / "4:05".
function length(seconds) { return seconds === null || seconds === undefined ? "" : i18n.formatClock(seconds); }

let flashTimer = null;
function flash(message, isError) {
  document.querySelector(".flash")?.remove();
  const box = el("div", { class: "flash" + (isError ? " error" : ""), role: "status" }, message);
  document.body.append(box);
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => box.remove(), isError ? 8000 : 2500);
}

const FAILED = Symbol("failed");

async function attempt(action) {
  try { return await action(); }
  catch (error) { flash(error.message, true); return FAILED; }
}

// -- the list ------------------------------------------------------------------------------------
async function renderList(root) {
  const [recordings, courses, lessons] = await Promise.all([
    api("GET", "/recordings"), api("GET", "/courses"), api("GET", "/lessons")]);
  const body = root.querySelector("#recordings tbody");
  body.replaceChildren();
  for (const rec of recordings) {
    const pick = el("select", { "aria-label": gettext("Course") },
      ...courses.map(c => el("option", { value: c.id }, c.title)));
    const action = rec.lesson_id
      ? el("a", { class: "btn btn-small", href: `/library/lessons/${rec.lesson_id}/edit` }, gettext("Edit lesson"))
      : el("span", { class: "row-actions" }, pick, el("button", {
          class: "btn btn-small btn-primary",
          onclick: async () => {
            const lesson = await attempt(() => api("POST", "/lessons",
              { recording_id: rec.id, course_ids: [Number(pick.value)] }));
            if (lesson !== FAILED) location.href = `/library/lessons/${lesson.id}/edit`;
          } }, gettext("Make lesson")));
    if (rec.state === "recording" && !rec.lesson_id) {
      const button = action.querySelector("button");
      button.disabled = true;
      button.title = gettext("Stop the recording first");
    }
    body.append(el("tr", {},
      el("td", {}, el("span", { translate: "no" }, rec.title), el("div", { class: "muted small", translate: "no" }, `${rec.room} · ${rec.id}`)),
      el("td", { class: "small" }, i18n.formatDateTime(rec.started_at)),
      el("td", { class: "num" }, length(rec.duration)),
      el("td", {}, chip(rec.state)),
      el("td", {}, rec.lesson_status ? chip(rec.lesson_status) : el("span", { class: "muted small" }, gettext("none"))),
      el("td", {}, el("div", { class: "row-actions" }, action))));
  }
  root.querySelector("#no-recordings").hidden = recordings.length > 0;
  root.querySelector("#rec-count").textContent = i18n.formatNumber(recordings.length);
  root.querySelector("#courses tbody").replaceChildren(...courses.map(c => el("tr", {},
    el("td", { translate: "no" }, c.title, el("div", { class: "muted small" }, c.specialty)),
    el("td", { class: "num" }, ngettext("%(num)s lesson", "%(num)s lessons", c.lessons)))));
  root.querySelector("#lessons tbody").replaceChildren(...lessons.map(l => el("tr", {},
    el("td", { translate: "no" }, el("a", { href: `/library/lessons/${l.id}/edit` }, l.title),
      el("div", { class: "muted small" }, [l.specialty, l.procedure].filter(Boolean).join(" · "))),
    el("td", { class: "num" }, chip(l.status)))));
  root.querySelector("#no-lessons").hidden = lessons.length > 0;
  root.querySelector("#lesson-count").textContent = i18n.formatNumber(lessons.length);
}

// -- the editor ----------------------------------------------------------------------------------
class Editor {
  constructor(root) {
    this.root = root;
    this.id = Number(root.dataset.lesson);
    this.isCurator = root.dataset.curator === "yes";
    this.lesson = null;
    this.courses = [];
    this.polling = null;
    this.cut = null;
    this.$ = selector => root.querySelector(selector);
    this.bind();
  }

  bind() {
    const on = (id, fn) => this.$(id).addEventListener("click", fn);
    const picked = () => {
      const files = this.$("#dicom-files").files;
      this.$("#dicom-chosen").textContent = files.length === 1 ? files[0].name
        : files.length ? ngettext("%(num)s file chosen", "%(num)s files chosen", files.length) : gettext("No file chosen");
    };
    this.$("#dicom-files").addEventListener("change", picked);
    on("#add-note", () => this.save(async () => {
      const typed = this.number("#note-at");
      const at = typed ?? (this.cut ? Math.round(this.cut.time * 1000) / 1000 : 0);
      await api("POST", `/lessons/${this.id}/notes`, { at, text: this.$("#note-text").value });
      this.$("#note-text").value = "";
    }, gettext("Note added")));
    on("#save-details", () => this.save(() => api("PATCH", `/lessons/${this.id}`, {
      title: this.$("#f-title").value, specialty: this.$("#f-specialty").value,
      procedure: this.$("#f-procedure").value, language: this.$("#f-language").value,
      description: this.$("#f-description").value, tags: this.words("#f-tags"),
      instructors: this.words("#f-instructors"),
      course_ids: [...this.$("#f-courses").querySelectorAll("input:checked")].map(i => Number(i.value)),
    }), gettext("Details saved")));
    on("#save-privacy", () => this.save(() => api("PUT", `/lessons/${this.id}/privacy`, {
      consent: this.$("#consent").checked, deidentified: this.$("#deidentified").checked }), gettext("Privacy confirmation recorded")));
    on("#publish", () => this.save(async () => {
      // The cuts on screen are the ones published: wait for them to be saved first.
      if (this.cut) {
        await this.cut.flush();
        if (this.cut.root.dataset.saveState !== "saved") throw new Error(gettext("The edit is not saved yet: resolve that first."));
      }
      return api("POST", `/lessons/${this.id}/publish`);
    }, gettext("Publishing started")));
    on("#retry", () => this.save(() => api("POST", `/jobs/${this.lesson.job.id}/retry`), gettext("Publishing again")));
    on("#unpublish", () => this.save(() => api("POST", `/lessons/${this.id}/unpublish`), gettext("Taken out of the library")));
    on("#attach", () => this.save(async () => {
      const files = this.$("#dicom-files").files;
      if (!files.length) throw new Error(gettext("Choose the DICOM files to attach first."));
      const form = new FormData();
      for (const file of files) form.append("files", file);
      await api("POST", `/lessons/${this.id}/attachments`, form, true);
      this.$("#dicom-files").value = "";
      picked();
    }, gettext("De-identified and attached")));
  }

  number(selector) {
    const text = this.$(selector).value.trim();
    return text === "" ? null : Number(text);
  }

  words(selector) { return this.$(selector).value.split(",").map(w => w.trim()).filter(Boolean); }

  async save(action, message) {
    // The confirmation shows once the page holds the saved state (a reload re-renders inputs).
    if (await attempt(action) === FAILED) return;
    try {
      await this.load();
      if (this.cut) await this.cut.refreshVersion();
      flash(message);
    } catch (error) { flash(error.message, true); }
  }

  async load() {
    const [lesson, courses, attachments] = await Promise.all([
      api("GET", `/lessons/${this.id}`), api("GET", "/courses"), api("GET", `/lessons/${this.id}/attachments`)]);
    this.lesson = lesson;
    this.courses = courses;
    this.render(attachments);
    this.watchJob();
    if (!this.cut) {
      this.cut = new MedRoom.CutEditor(this.$("#cut-editor"), this.id, {
        flash, changed: edit => { this.renderMasks(edit.masks); this.renderTalk(); } });
      try {
        await this.cut.open();
        this.renderMasks(this.cut.edit.masks);
        this.renderTalk();
      } catch (error) {
        this.$("#ed-loading").textContent = gettext("The recording cannot be shown: %(reason)s", { reason: error.message });
      }
    }
  }

  // The privacy gate lists what will be blurred.
  renderMasks(masks) {
    const box = this.$("#gate-masks");
    const fmt = MedRoom.formatTime;
    box.replaceChildren(masks.length
      ? el("div", {}, ngettext("Masked when published (%(num)s mask):", "Masked when published (%(num)s masks):", masks.length),
          el("ul", {}, ...masks.map(m => el("li", {}, gettext("%(view)s, %(start)s – %(end)s, %(width)s × %(height)s of the picture", {
            view: m.track, start: fmt(m.start), end: fmt(m.end),
            width: i18n.formatNumber(m.w, { style: "percent" }), height: i18n.formatNumber(m.h, { style: "percent" }) })))))
      : el("span", { class: "muted" }, gettext("No masks drawn. Use Mask… on the editor to blur a face or a name in a view.")));
  }

  // ... and how much of the classroom conversation will be published.
  renderTalk() {
    const items = this.cut.conversation();
    const box = this.$("#gate-talk");
    if (!items.length) { box.replaceChildren(); return; }
    const published = items.filter(i => !i.left).length;
    box.dataset.published = String(published);
    box.textContent = ngettext(
      "Classroom conversation: %(published)s of %(num)s item will be published (students as numbered participants; deleted messages never).",
      "Classroom conversation: %(published)s of %(num)s items will be published (students as numbered participants; deleted messages never).",
      items.length, { published: i18n.formatNumber(published) });
  }

  render(attachments) {
    const l = this.lesson;
    document.title = `${l.title} · MedRoom`;
    this.$("#lesson-title").textContent = l.title;
    document.querySelector("#crumb-title").textContent = l.title;
    this.$("#lesson-sub").textContent = gettext("Recording %(recording)s · room %(room)s · %(length)s", {
      recording: l.recording_id, room: l.room_id, length: length(l.recording_duration) });
    const status = this.$("#lesson-status");
    status.className = `chip chip-${l.status}`;
    status.textContent = stateName(l.status);
    for (const key of ["title", "specialty", "procedure", "language", "description"]) this.$(`#f-${key}`).value = l[key];
    this.$("#f-tags").value = l.tags.join(", ");
    this.$("#f-instructors").value = l.instructors.join(", ");
    this.$("#f-courses").replaceChildren(...this.courses.map(c => el("label", {},
      el("input", Object.assign({ type: "checkbox", value: c.id }, l.course_ids.includes(c.id) ? { checked: "" } : {})), el("span", { translate: "no" }, c.title))));
    this.$("#notes").replaceChildren(...(l.notes.length ? l.notes.map(n => el("div", { class: "list-row note-row" },
      el("span", { class: "note-at" }, clock(n.at)), el("span", { translate: "no" }, n.text, el("div", { class: "muted small" }, n.author)),
      el("button", { class: "btn btn-small btn-ghost", title: gettext("Delete note"), "aria-label": gettext("Delete note"),
        onclick: () => this.save(() => api("DELETE", `/lessons/${this.id}/notes/${n.id}`), gettext("Note deleted")) }, "✕")))
      : [el("p", { class: "empty" }, gettext("No notes yet."))]));
    this.$("#consent").checked = l.consent_confirmed;
    this.$("#deidentified").checked = l.deidentification_confirmed;
    for (const id of ["#consent", "#deidentified", "#save-privacy"]) this.$(id).disabled = !this.isCurator;
    const gate = this.$("#gate");
    gate.className = "gate " + (l.privacy_problem ? "gate-closed" : "gate-open");
    gate.textContent = l.privacy_problem ? gettext("Publishing is blocked: a curator must confirm patient consent and de-identification.")
      : gettext("Consent and de-identification confirmed.");
    this.$("#privacy-who").textContent = l.privacy_confirmed_at
      ? gettext("Confirmed on %(when)s", { when: i18n.formatDateTime(l.privacy_confirmed_at) })
      : (this.isCurator ? "" : gettext("Only a curator can confirm."));
    this.$("#publish").textContent = l.status === "published" ? gettext("Publish again") : gettext("Publish");
    this.$("#publish").disabled = l.status === "publishing" || Boolean(l.privacy_problem);
    this.$("#unpublish").hidden = l.status !== "published";
    this.renderPublished();
    this.$("#attachments").replaceChildren(...(attachments.length ? attachments.map(a => el("div", { class: "list-row note-row" },
      el("span", { class: "note-at" }, ngettext("%(num)s file", "%(num)s files", a.files)),
      el("span", { translate: "no" }, a.name, el("div", { class: "muted small" }, `${a.report.profile}`)), el("span")))
      : [el("p", { class: "empty" }, gettext("None. Files are de-identified (DICOM PS3.15 Annex E) before they are stored."))]));
    this.renderJob(l.job);
  }

  renderPublished() {
    const l = this.lesson;
    const list = (items) => new Intl.ListFormat(i18n.tag, { style: "narrow", type: "unit" }).format(items);
    const rows = l.status === "published" && l.technical ? [
      [gettext("Length"), length(l.duration)],
      [gettext("Starts at"), gettext("%(position)s of the recording", { position: clock(l.published_start) })],
      [gettext("Tracks"), list(l.technical.tracks.map(t => t.kind === "audio" ? `${t.name} (${t.codec})` : `${t.name} ${t.width}×${t.height}`))],
      [gettext("Chapters"), i18n.formatNumber(l.technical.chapters.items.length)],
      ...(l.technical.masks || []).map(m => [gettext("Masked"), ngettext(
        "%(view)s: %(seconds)s s re-encoded (%(parts)s), %(num)s frame copied",
        "%(view)s: %(seconds)s s re-encoded (%(parts)s), %(num)s frames copied", m.copied_packets, {
          view: m.track, seconds: i18n.formatNumber(m.reencoded_seconds, { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
          parts: list(m.reencoded.map(([a, b]) => `${clock(a)}–${clock(b)}`)) })]),
      [gettext("Published"), i18n.formatDateTime(l.published_at)],
    ] : [[gettext("State"), l.status === "publishing" ? gettext("publishing…") : gettext("not in the library")]];
    this.$("#published").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  renderJob(job) {
    this.$("#job").hidden = !job;
    this.$("#retry").hidden = !job || job.state !== "failed";
    if (!job) return;
    const percent = job.state === "done" ? 100 : job.percent;
    this.$("#job-bar").style.width = `${percent}%`;
    const steps = {
      check: gettext("checking the recording"),
      masks: gettext("re-encoding only the masked parts (keyframe to keyframe), copying the rest"),
      remux: gettext("copying the tracks, nothing re-encoded"),
      poster: gettext("the poster picture"), thumbnails: gettext("the thumbnails"),
      chapters: gettext("the chapters"), metadata: gettext("the lesson's description"),
      finish: gettext("putting the lesson in the library"),
    };
    const states = { queued: gettext("Publishing is queued"), running: gettext("Publishing"),
      done: gettext("Published"), failed: gettext("Publishing failed") };
    this.$("#job-step").textContent = job.state === "running"
      ? gettext("Step: %(step)s", { step: steps[job.step] || job.step })
      : job.attempts > 1
        ? gettext("%(state)s (attempt %(attempt)s)", { state: states[job.state] || job.state, attempt: i18n.formatNumber(job.attempts) })
        : states[job.state] || job.state;
    this.$("#job-percent").textContent = i18n.formatNumber(Math.round(percent) / 100, { style: "percent" });
    const error = this.$("#job-error");
    error.hidden = !job.error;
    error.textContent = job.error || "";
  }

  watchJob() {
    const job = this.lesson.job;
    if (this.polling || !job || !["queued", "running"].includes(job.state)) return;
    this.polling = setInterval(async () => {
      const current = await api("GET", `/jobs/${job.id}`).catch(() => null);
      if (!current) return;
      this.renderJob(current);
      if (current.state === "done" || current.state === "failed") {
        clearInterval(this.polling);
        this.polling = null;
        flash(current.state === "done" ? gettext("Published")
          : gettext("Publishing failed: %(reason)s", { reason: current.error }), current.state === "failed");
        await this.load();
        if (this.cut) await this.cut.refreshVersion();
      }
    }, 400);
  }
}

const listRoot = document.querySelector("#curate");
if (listRoot) renderList(listRoot).catch(error => flash(error.message, true));
const editorRoot = document.querySelector("#editor");
if (editorRoot) new Editor(editorRoot).load().catch(error => flash(error.message, true));
