// Console: the hospital's PACS. Whether each PACS answers, a search (with the reason kept in the
// access log), its studies and series with slice counts, retrieval onto a DICOM source with a
// progress bar (slices received of total), and the worklist for a procedure's patient context.
// Patient details from the PACS are written with textContent only, never as HTML.
"use strict";
(function () {
  const panel = document.getElementById("pacs-panel");
  if (!panel) return;
  const roomId = document.querySelector(".console").dataset.room;
  const base = `/api/rooms/${roomId}/pacs`;
  const $ = (id) => document.getElementById(id);
  const sources = Array.from(document.querySelectorAll(".dicom-panel")).map((p) => ({
    id: p.dataset.dicom, label: p.querySelector("h2").textContent }));
  let polling = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v; else if (k === "class") node.className = v; else node.setAttribute(k, v);
    });
    children.forEach((c) => c && node.append(c));
    return node;
  }

  function message(error) {
    const detail = error && error.message;
    return detail || String(error);
  }

  function showError(text) {
    const box = $("pacs-error");
    box.hidden = !text;
    box.textContent = text || "";
  }

  async function api(path, options) {
    try {
      return await MedRoom.api(base + path, options);
    } catch (error) {
      if (error.status === 422 && error.message.startsWith("[object")) error.message = gettext("Check the fields: a value is too long or malformed.");
      throw error;
    }
  }

  const why = () => $("pacs-why").value.trim();
  const pretty = (name) => (name || "").replace(/\^+/g, " ").trim() || gettext("(no name)");
  // A DICOM date (YYYYMMDD) as a calendar date in the page's language (it has no time or zone).
  const day = (d) => (/^\d{8}$/.test(d || "")
    ? i18n.formatDate(new Date(Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6))), { timeZone: "UTC" }) : d || "");
  // A worklist slot's start (DICOM "YYYYMMDD HHMM…", the hospital's wall clock, no zone) as a time.
  const slotTime = (start) => (/^\d{8}.\d{4}/.test(start || "")
    ? i18n.formatTime(new Date(Date.UTC(2000, 0, 1, +start.slice(9, 11), +start.slice(11, 13))), { timeZone: "UTC" }) : start || "");
  const REASON = () => gettext("Give the reason first (it goes into the access log).");
  const n = (value) => i18n.formatNumber(value);

  async function loadStatus() {
    const list = await api("");
    if (!list.length) return false;
    panel.hidden = false;
    const select = $("pacs-id");
    if (!select.options.length) list.forEach((p) => select.append(el("option", { value: p.id, text: p.label })));
    const status = $("pacs-status");
    status.replaceChildren(...list.map((p) => {
      const parts = p.status.map((s) => s.answers ? gettext("%(protocol)s %(ms)s ms", { protocol: s.protocol, ms: n(s.latency_ms) })
        : gettext("%(protocol)s: %(reason)s", { protocol: s.protocol, reason: s.error }));
      return el("span", { class: p.answers ? "ok" : "down", title: parts.join("\n"),
        text: p.answers ? gettext("%(pacs)s: answers (%(details)s)", { pacs: p.label, details: parts.join(", ") })
          : gettext("%(pacs)s: does not answer", { pacs: p.label }) });
    }));
    return true;
  }

  function targetSelect() {
    const target = el("select", { "aria-label": gettext("Show on") });
    sources.forEach((s) => target.append(el("option", { value: s.id, text: gettext("on %(source)s", { source: s.label }) })));
    return target;
  }

  function seriesRow(pacsId, study, series) {
    const target = targetSelect();
    const get = el("button", { class: "btn btn-small", type: "button", text: gettext("Retrieve") });
    get.addEventListener("click", async () => {
      if (why().length < 3) { showError(REASON()); $("pacs-why").focus(); return; }
      get.disabled = true;
      try {
        await api(`/${encodeURIComponent(pacsId)}/retrievals`, { method: "POST", json: {
          study_uid: study.study_uid, series_uid: series.series_uid, source_id: target.value,
          description: `${pretty(study.patient_name)} · ${series.description || series.modality}`, why: why() } });
        showError("");
        pollJobs();
      } catch (error) { showError(message(error)); } finally { get.disabled = false; }
    });
    const slices = series.instances === null ? gettext("? slices")
      : ngettext("%(num)s slice", "%(num)s slices", series.instances);
    return el("li", {}, el("span", { class: "grow", text: `${series.number ?? "–"} · ${series.modality} · ${series.description || gettext("(no description)")} · ${slices}` }), target, get);
  }

  function renderResults(pacsId, result) {
    const box = $("pacs-results");
    if (!result.studies.length) { box.replaceChildren(el("p", { class: "muted small", text: gettext("No study matches.") })); return; }
    box.replaceChildren(...result.studies.map((study) => el("article", { class: "pacs-study" },
      el("h4", { text: `${pretty(study.patient_name)} · ${study.patient_id}` }),
      el("div", { class: "muted small", text: gettext("%(date)s · accession %(accession)s · %(description)s · %(modalities)s · via %(protocol)s", {
        date: day(study.study_date), accession: study.accession || "–", description: study.description || gettext("(no description)"),
        modalities: study.modalities.join(", "), protocol: result.protocol }) }),
      el("ul", { class: "pacs-series" }, ...study.series.map((s) => seriesRow(pacsId, study, s))))));
  }

  $("pacs-search").addEventListener("submit", async (event) => {
    event.preventDefault();
    const pacsId = $("pacs-id").value;
    const params = new URLSearchParams({ why: why() });
    [["patient_name", "pacs-name"], ["patient_id", "pacs-pid"], ["accession", "pacs-accession"],
     ["date_from", "pacs-from"], ["date_to", "pacs-to"], ["modality", "pacs-modality"]].forEach(([k, id]) => {
      const v = $(id).value.trim(); if (v) params.set(k, v); });
    const button = event.submitter;
    if (button) button.disabled = true;
    $("pacs-results").replaceChildren(el("p", { class: "muted small", text: gettext("Searching…") }));
    try {
      renderResults(pacsId, await api(`/${encodeURIComponent(pacsId)}/studies?${params}`));
      showError("");
    } catch (error) { $("pacs-results").replaceChildren(); showError(message(error)); }
    finally { if (button) button.disabled = false; }
  });

  const JOB_STATES = { failed: gettext("failed"), cancelled: gettext("cancelled") };

  function jobRow(job) {
    const total = job.total ?? 0;
    const bar = el("progress", { max: String(Math.max(total, 1)), value: String(job.received), "aria-label": gettext("Slices received") });
    const received = job.total == null ? gettext("%(received)s / ? slices", { received: n(job.received) })
      : ngettext("%(received)s / %(num)s slice", "%(received)s / %(num)s slices", job.total, { received: n(job.received) });
    const count = el("span", { class: "small", text: job.seconds
      ? gettext("%(received)s · %(seconds)s s", { received, seconds: i18n.formatNumber(job.seconds, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) })
      : received });
    const row = el("li", {}, el("span", { class: "grow", text: job.description || job.series_uid }), bar, count);
    if (job.state === "failed" || job.state === "cancelled") row.append(el("span", { class: "failed small", text: job.error || JOB_STATES[job.state] }));
    if (job.state === "done" && job.cached) {
      const target = targetSelect();
      if (job.source_id) target.value = job.source_id;
      const show = el("button", { class: "btn btn-small", type: "button", text: gettext("Show") });
      show.addEventListener("click", () => api(`/retrievals/${job.id}/show`, { method: "POST", json: { source_id: target.value } })
        .then(() => showError("")).catch((e) => showError(message(e))));
      row.append(target, show);
    }
    const remove = el("button", { class: "btn btn-small", type: "button", text: job.state === "running" ? gettext("Cancel") : gettext("Delete now") });
    // The access log's reason stays in English when none was typed: the log is read by the hospital's auditors.
    remove.addEventListener("click", () => api(`/retrievals/${job.id}?${new URLSearchParams({ why: why() || "removed by the instructor" })}`, { method: "DELETE" })
      .then(pollJobs).catch((e) => showError(message(e))));
    row.append(remove);
    return row;
  }

  async function pollJobs() {
    clearTimeout(polling);
    const jobs = await api("/retrievals").catch(() => []);
    const list = $("pacs-jobs");
    list.replaceChildren(...(jobs.length ? jobs.map(jobRow) : [el("li", { class: "muted small", text: gettext("None yet.") })]));
    if (jobs.some((j) => j.state === "running")) polling = setTimeout(pollJobs, 400);
  }

  function renderContext(context) {
    const p = $("pacs-context");
    if (!context.item) { p.textContent = gettext("Teaching session: no patient context."); return; }
    const i = context.item;
    p.replaceChildren(el("strong", { text: `${pretty(i.patient_name)} · ${i.patient_id}`, translate: "no" }),
      document.createTextNode(" " + gettext("· accession %(accession)s · %(procedure)s (chosen by %(who)s)",
        { accession: i.accession, procedure: i.procedure, who: context.chosen_by }) + " "));
    const drop = el("button", { class: "btn btn-small", type: "button", text: gettext("Make it a teaching session") });
    drop.addEventListener("click", () => api("/context", { method: "DELETE" }).then(() => renderContext({ item: null })));
    p.append(drop);
  }

  $("pacs-worklist").addEventListener("submit", async (event) => {
    event.preventDefault();
    const pacsId = $("pacs-id").value;
    if (why().length < 3) { showError(REASON()); return; }
    try {
      const result = await api(`/${encodeURIComponent(pacsId)}/worklist?${new URLSearchParams({ day: $("pacs-day").value, why: why() })}`);
      const list = $("pacs-items");
      list.replaceChildren(...(result.items.length ? result.items.map((item) => {
        const use = el("button", { class: "btn btn-small", type: "button", text: gettext("Use for this session") });
        use.addEventListener("click", () => api("/context", { method: "PUT", json: {
          pacs_id: pacsId, accession: item.accession, day: $("pacs-day").value, why: why() } })
          .then(renderContext).catch((e) => showError(message(e))));
        return el("li", {}, el("span", { class: "grow", text: `${slotTime(item.start)} · ${pretty(item.patient_name)} · ${item.patient_id} · ${item.accession} · ${item.procedure} (${item.modality})` }), use);
      }) : [el("li", { class: "muted small", text: gettext("Nothing scheduled that day.") })]));
      showError("");
    } catch (error) { showError(message(error)); }
  });

  // -- send to the PACS ------------------------------------------------------------------------
  let recordings = [];
  let exportPoll = null;
  const clock = (s) => i18n.formatClock(s);

  function renderMarkers() {
    const recording = recordings.find((r) => r.id === $("pacs-recording").value);
    const track = $("pacs-track");
    track.replaceChildren(...(recording ? recording.tracks.filter((t) => t.kind === "iso")
      .map((t) => el("option", { value: t.name, text: `${t.name} (${t.width}×${t.height})` })) : []));
    const list = $("pacs-markers");
    if (!recording || !recording.markers.length) {
      list.replaceChildren(el("li", { class: "muted small", text: recording ? gettext("This recording has no markers.") : gettext("No finished recording yet.") }));
      return;
    }
    list.replaceChildren(...recording.markers.map((m) => el("li", {},
      el("span", { class: "grow", text: `${clock(m.at)} · ${m.title}` }),
      el("label", {}, el("input", { type: "checkbox", "data-clip": m.id }), document.createTextNode(gettext("clip to next marker"))),
      el("label", {}, el("input", { type: "checkbox", "data-still": m.id }), document.createTextNode(gettext("key image"))))));
  }

  async function loadRecordings() {
    recordings = (await MedRoom.api(`/api/rooms/${roomId}/recordings`).catch(() => []))
      .filter((r) => r.state === "stopped" || r.state === "recovered");
    const select = $("pacs-recording");
    select.replaceChildren(...recordings.map((r) => el("option", { value: r.id, text: Number.isNaN(Date.parse(r.started_at)) ? r.title || r.id
      : `${r.title || r.id} · ${i18n.formatDateTime(r.started_at, { dateStyle: "short" })}` })));
    renderMarkers();
  }

  const EXPORT_STATES = { pending: gettext("waiting"), sending: gettext("sending…"), sent: gettext("sent"),
                          "already-sent": gettext("already in the PACS"), failed: gettext("failed") };
  function itemText(i) {
    const kind = i.kind === "video" ? gettext("Clip") : gettext("Key image");
    if (!(i.frames > 1)) return gettext("%(kind)s · %(label)s", { kind, label: i.label });
    return ngettext("%(kind)s · %(label)s · %(num)s frame, %(seconds)s s", "%(kind)s · %(label)s · %(num)s frames, %(seconds)s s", i.frames,
      { kind, label: i.label, seconds: i18n.formatNumber(i.seconds, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) });
  }

  function exportRow(job) {
    const done = job.items.filter((i) => i.state === "sent" || i.state === "already-sent").length;
    const counts = { recording: job.recording_id, pacs: job.pacs, done: n(done), total: n(job.items.length) };
    const row = el("li", {}, el("strong", { class: "grow", text: job.running
      ? gettext("%(recording)s → %(pacs)s: %(done)s / %(total)s in the PACS (sending…)", counts)
      : gettext("%(recording)s → %(pacs)s: %(done)s / %(total)s in the PACS", counts) }));
    const items = el("ul", { class: "pacs-results-list" }, ...job.items.map((i) => el("li", {},
      el("span", { class: "grow", text: itemText(i) }),
      el("span", { class: i.state === "failed" ? "failed" : i.state === "sending" || i.state === "pending" ? "" : "sent",
                   text: i.state === "failed" ? gettext("failed: %(reason)s", { reason: i.reason }) : EXPORT_STATES[i.state] || i.state }))));
    return el("li", { class: "pacs-export-job" }, row, items);
  }

  async function pollExports() {
    clearTimeout(exportPoll);
    const jobs = await api("/exports").catch(() => []);
    $("pacs-exports").replaceChildren(...jobs.slice(0, 5).map(exportRow));
    if (jobs.some((j) => j.running)) exportPoll = setTimeout(pollExports, 500);
  }

  $("pacs-recording").addEventListener("change", renderMarkers);
  $("pacs-export").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (why().length < 3) { showError(REASON()); $("pacs-why").focus(); return; }
    const clips = Array.from(document.querySelectorAll("#pacs-markers [data-clip]:checked")).map((c) => c.dataset.clip);
    const stills = Array.from(document.querySelectorAll("#pacs-markers [data-still]:checked")).map((c) => c.dataset.still);
    try {
      await api(`/${encodeURIComponent($("pacs-id").value)}/exports`, { method: "POST", json: {
        recording_id: $("pacs-recording").value, track: $("pacs-track").value,
        clip_markers: clips, still_markers: stills, why: why() } });
      showError("");
      pollExports();
    } catch (error) { showError(message(error)); }
  });

  // Today on the viewer's clock (toISOString() would give the UTC date, yesterday after midnight).
  $("pacs-day").value = new Intl.DateTimeFormat("en-CA", { timeZone: i18n.zone }).format(new Date());
  loadStatus().then((any) => {
    if (!any) return;
    pollJobs();
    loadRecordings();
    pollExports();
    api("/context").then(renderContext).catch(() => {});
    setInterval(() => loadStatus().catch(() => {}), 30000);
  }).catch(() => {});
})();
