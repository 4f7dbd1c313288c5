// The cut editor: the recording's program with its ISO views beside it (in sync, through
// lesson-sync.js), the waveform and thumbnail strip under it, the session's markers, notes,
// drawings and chat on the same timeline. Every time here is on the session clock (seconds of
// the recording), as the API keeps them.
//
// Edits (start/end, chapters, hidden parts, masks, hidden classroom messages) are one object; each change pushes the
// previous one on the undo stack and is saved shortly after, whole, with If-Match: the version
// it was made on. A 412 means someone else saved first: the page says so and offers their
// version or overwriting it; nothing is lost silently.
"use strict";
(function () {
  const MedRoom = (window.MedRoom = window.MedRoom || {});
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const SAVE_AFTER_MS = 500;
  const DRAG_PX = 4;

  // A position on the recording to the hundredth of a second, with the language's decimal
  // sign: "1:02.50" / "1:02,50" (frames are 40 ms apart).
  const SECONDS = { minimumIntegerDigits: 2, minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: false };
  function fmt(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    const s = Math.round(Math.max(0, seconds) * 100) / 100;
    const m = Math.floor(s / 60);
    return `${m}:${i18n.formatNumber(s - m * 60, SECONDS)}`;
  }
  // A length in seconds as a number: "0.20" / "0,20".
  const secs = (x) => i18n.formatNumber(x, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

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

  const round3 = (x) => Math.round(x * 1000) / 1000;

  // The edit as the API takes it, rounded, so two edits compare as strings.
  function canonical(edit) {
    return JSON.stringify({
      trim_start: edit.trim_start === null ? null : round3(edit.trim_start),
      trim_end: edit.trim_end === null ? null : round3(edit.trim_end),
      chapters: edit.chapters.map((c) => ({ title: c.title, start: round3(c.start) })),
      hidden: edit.hidden.map((h) => ({ start: round3(h.start), end: round3(h.end) })),
      masks: edit.masks.map((m) => ({ track: m.track, start: round3(m.start), end: round3(m.end),
        x: Math.round(m.x * 1e4) / 1e4, y: Math.round(m.y * 1e4) / 1e4, w: Math.round(m.w * 1e4) / 1e4, h: Math.round(m.h * 1e4) / 1e4 })),
      hidden_messages: (edit.hidden_messages || []).slice().sort(),
    });
  }

  // The classroom conversation as publishing will treat it (library/publishing/conversation.py):
  // chat lines, questions that ended approved or answered, polls, who had the floor; left out
  // when the curator hid them, outside the cut or in a hidden part. Deleted lines never reach
  // the editor (the server's timeline view leaves them out).
  const PUBLISHED_STATUSES = new Set(["approved", "answering", "answered"]);
  function conversation(events, edit, start, end) {
    const status = new Map(), results = new Map();
    for (const ev of events) {
      if (ev.type === "question_status") status.set(ev.question, ev);
      if (ev.type === "poll_result") results.set(ev.poll, ev);
    }
    const hiddenIds = new Set(edit.hidden_messages || []);
    const inHidden = (t) => edit.hidden.some((h) => t >= h.start && t < h.end);
    const why = (at, id) => (id !== null && hiddenIds.has(id) ? gettext("hidden by a curator")
      : at < start || at >= end ? gettext("outside the cut") : inHidden(at) ? gettext("in a hidden part") : null);
    const items = [];
    let floor = null;
    for (const ev of events) {
      if (ev.type === "chat") {
        items.push({ id: ev.id, kind: "chat", at: ev.at, author: ev.author, text: ev.text, hideable: true, left: why(ev.at, ev.id) });
      } else if (ev.type === "question") {
        const final = status.get(ev.question);
        const shown = final && PUBLISHED_STATUSES.has(final.status);
        items.push({ id: ev.question, kind: "question", at: ev.at, author: ev.author, text: ev.text,
          status: final ? final.status : "pending", votes: final ? final.votes : 0, anonymous: ev.anonymous,
          hideable: Boolean(shown), left: shown ? why(ev.at, ev.question) : gettext("never approved") });
      } else if (ev.type === "poll") {
        const r = results.get(ev.poll);
        items.push({ id: ev.poll, kind: "poll", at: ev.at, author: ev.author, text: ev.question,
          answered: r ? r.answered : null, hideable: false, left: why(ev.at, null) });
      } else if (ev.type === "speaker") {
        if (floor) floor.end = ev.at;
        floor = null;
        if (ev.speaker) {
          floor = { id: ev.id, kind: "speaker", at: ev.at, end: null, author: ev.speaker, text: gettext("has the floor"), hideable: false };
          items.push(floor);
        }
      }
    }
    for (const item of items) {
      if (item.kind !== "speaker") continue;
      // Published from where the lesson picks it up: outside only if it lies wholly outside.
      const a = Math.max(item.at, start), b = Math.min(item.end ?? end, end);
      item.left = b <= a ? gettext("outside the cut") : null;
    }
    return items.sort((x, y) => x.at - y.at);
  }

  function fromServer(state) {
    return {
      trim_start: state.trim_start, trim_end: state.trim_end,
      chapters: state.chapters.map((c) => ({ id: c.id, title: c.title, start: c.start })),
      hidden: state.hidden.map((h) => ({ start: h.start, end: h.end })),
      masks: state.masks.map((m) => ({ ...m })),
      hidden_messages: (state.hidden_messages || []).slice(),
    };
  }

  function mergeHidden(list) {
    const out = [];
    for (const s of list.slice().sort((a, b) => a.start - b.start)) {
      const last = out[out.length - 1];
      if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
      else out.push({ start: s.start, end: s.end });
    }
    return out;
  }

  class CutEditor {
    constructor(root, lessonId, hooks) {
      this.root = root;
      this.id = lessonId;
      this.hooks = hooks;  // { flash(message, isError), changed(edit) }
      this.$ = (s) => root.querySelector(s);
      this.past = [];
      this.future = [];
      this.selection = null;    // {start, end} dragged on the strip
      this.selected = null;     // {kind: "chapter"|"hidden"|"mask", index}
      this.preview = false;
      this.shuttle = null;      // reverse play timer (J)
      this.saveTimer = null;
      this.saving = null;
      this.masking = false;
      this.renaming = null;
      this.ready = false;
    }

    // -- loading -------------------------------------------------------------------------------
    async open() {
      const started = performance.now();
      const response = await fetch(`/api/library/lessons/${this.id}/curation`);
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(data.detail || gettext("The server refused (HTTP %(status)s).", { status: response.status }));
      this.data = data;
      this.duration = data.recording_duration || data.tracks[0].duration;
      this.adopt(data.edit);
      this.program = data.tracks.find((t) => t.kind === "program") || data.tracks[0];
      this.fps = this.program.fps || 25;
      this.keys = this.program.keyframes;
      this.buildViews();
      this.bind();
      this.loadStrip(started);
      this.render();
      this.ready = true;
      this.loop();
      return this;
    }

    adopt(state) {
      this.version = state.version;
      this.status = state.status;
      this.edit = fromServer(state);
      this.saved = canonical(this.edit);
      this.serverChapterIds = new Set(state.chapters.map((c) => c.id));
      this.root.dataset.version = String(state.version);
    }

    buildViews() {
      const program = this.$("#ed-program");
      program.src = this.program.url;
      // The program first: the other views (and their indexes) load once it shows a picture,
      // so they do not compete with it for the first frame.
      const later = [];
      let restLoaded = false;
      const loadRest = () => {
        if (restLoaded) return;
        restLoaded = true;
        for (const [media, url] of later) {
          media.addEventListener("loadedmetadata", () => {
            const f = this.sync && this.sync.followers.find((x) => x.video === media);
            if (f) this.sync.align(f, !program.paused);
          }, { once: true });
          media.src = url;
        }
      };
      const first = () => {
        if (this.root.dataset.firstPicture) return;
        this.root.dataset.firstPicture = String(Math.round(performance.now()));
        this.$("#ed-loading").hidden = true;
        loadRest();
      };
      setTimeout(loadRest, 4000);  // a program that never shows a picture must not hold the rest
      if (program.requestVideoFrameCallback) program.requestVideoFrameCallback(first);
      program.addEventListener("loadeddata", first, { once: true });
      program.addEventListener("seeked", () => { this.root.dataset.seeked = String(performance.now()); });
      const followers = [];
      this.tiles = { [this.program.name]: this.$(".ed-program") };
      const isos = this.$("#ed-isos");
      isos.replaceChildren();
      for (const track of this.data.tracks) {
        if (track === this.program) continue;
        if (track.kind === "audio") {
          const audio = el("audio", { preload: "auto" });
          later.push([audio, track.url]);
          this.root.append(audio);
          followers.push({ video: audio, offset: track.offset, sound: true });
          continue;
        }
        const video = el("video", { muted: "", playsinline: "", preload: "auto" });
        video.muted = true;
        later.push([video, track.url]);
        const masks = el("div", { class: "ed-masks" });
        const tile = el("div", { class: "ed-iso", "data-track": track.name }, video, masks,
          el("span", { class: "iso-name", translate: "no" }, (track.source_id || track.name).replace(/^iso-/, "")));
        isos.append(tile);
        this.tiles[track.name] = tile;
        followers.push({ video, offset: track.offset });
      }
      this.videos = { [this.program.name]: program };
      for (const f of followers) if (f.video.tagName === "VIDEO") this.videos[f.video.closest(".ed-iso").dataset.track] = f.video;
      this.sync = new MedRoom.SyncedViews({ video: program, offset: this.program.offset }, followers,
        () => this.hooks.flash(gettext("Click Play to hear the sound (the browser blocked it)."), false));
      const strokes = this.data.events.filter((e) => e.type === "stroke");
      this.drawings = new MedRoom.DrawingReplay(this.$("#ed-drawings"), program, strokes);
      program.addEventListener("play", () => this.renderTransport());
      program.addEventListener("pause", () => this.renderTransport());
    }

    async loadStrip(started) {
      const thumbs = this.data.thumbnails;
      const sprite = new Image();
      const spriteReady = new Promise((resolve, reject) => { sprite.onload = resolve; sprite.onerror = reject; });
      sprite.src = thumbs.url;
      const wave = this.data.waveform_url ? fetch(this.data.waveform_url).then((r) => r.json()) : Promise.resolve(null);
      try {
        const [, waveform] = await Promise.all([spriteReady, wave]);
        this.sprite = sprite;
        this.waveform = waveform;
        this.drawStrip();
        this.root.dataset.stripReady = String(Math.round(performance.now()));  // ms since navigation
      } catch (error) {
        this.hooks.flash(gettext("The thumbnails or the waveform did not load: %(reason)s", { reason: error.message || error }), true);
      }
    }

    // -- input ---------------------------------------------------------------------------------
    bind() {
      const on = (id, fn) => this.$(id).addEventListener("click", (e) => { fn(e); this.root.focus({ preventScroll: true }); });
      on("#ed-play", () => this.togglePlay());
      on("#ed-prev-key", () => this.stepKey(-1));
      on("#ed-next-key", () => this.stepKey(1));
      on("#ed-in", () => this.setIn());
      on("#ed-out", () => this.setOut());
      on("#ed-chapter", () => this.addChapter());
      on("#ed-hide", () => this.hideSelection());
      on("#ed-mask", () => this.startMasking());
      on("#ed-undo", () => this.undo());
      on("#ed-redo", () => this.redo());
      on("#ed-preview", () => this.togglePreview());
      on("#ed-keys-help", (e) => {
        const help = this.$("#ed-help");
        help.hidden = !help.hidden;
        e.currentTarget.setAttribute("aria-expanded", String(!help.hidden));
      });
      document.addEventListener("keydown", (e) => this.key(e));
      window.addEventListener("resize", () => { this.drawStrip(); this.render(); });
      window.addEventListener("beforeunload", (e) => {
        if (canonical(this.edit) !== this.saved) { e.preventDefault(); e.returnValue = ""; }
      });
      const media = this.$("#tl-media");
      media.addEventListener("mousedown", (e) => this.stripDown(e));
      this.$("#tl-ruler").addEventListener("mousedown", (e) => { this.stopPreview(); this.seek(this.timeAt(e.clientX)); });
      this.$("#tl-events").addEventListener("click", (e) => {
        const at = e.target.dataset && e.target.dataset.at;
        if (at !== undefined) this.seek(Number(at));
      });
      for (const tile of Object.values(this.tiles)) this.bindMaskDrawing(tile);
    }

    key(e) {
      if (!this.ready) return;
      const target = e.target;
      if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable)) return;
      if (e.altKey || e.metaKey) return;
      const k = e.key;
      const ctrl = e.ctrlKey;
      let handled = true;
      if (ctrl && (k === "z" || k === "Z")) { if (e.shiftKey) this.redo(); else this.undo(); }
      else if (ctrl && (k === "y" || k === "Y")) this.redo();
      else if (ctrl) handled = false;
      else if (k === " ") this.togglePlay();
      else if (k === "j" || k === "J") this.shuttleBack();
      else if (k === "k" || k === "K") this.stop();
      else if (k === "l" || k === "L") this.shuttleForward();
      else if (k === "ArrowLeft") this.step(e.shiftKey ? -1 : -1 / this.fps);
      else if (k === "ArrowRight") this.step(e.shiftKey ? 1 : 1 / this.fps);
      else if (k === ",") this.stepKey(-1);
      else if (k === ".") this.stepKey(1);
      else if (k === "i" || k === "I") this.setIn();
      else if (k === "o" || k === "O") this.setOut();
      else if (k === "m" || k === "M") this.addChapter();
      else if (k === "h" || k === "H") this.hideSelection();
      else if (k === "p" || k === "P") this.togglePreview();
      else if (k === "Delete" || k === "Backspace") this.removeSelected();
      else if (k === "Escape") { this.selection = null; this.selected = null; this.stopMasking(); this.render(); }
      else handled = false;
      if (handled) e.preventDefault();
    }

    // -- playback ------------------------------------------------------------------------------
    get time() { return this.sync.time; }

    seek(t) {
      const end = this.program.offset + this.program.duration - 1 / this.fps;
      this.sync.seek(Math.max(this.program.offset, Math.min(t, end)));
      this.renderPlayhead();
    }

    togglePlay() {
      this.stopShuttle();
      const v = this.$("#ed-program");
      if (v.paused) { v.playbackRate = 1; v.play().catch(() => {}); } else v.pause();
    }

    stop() {
      this.stopShuttle();
      const v = this.$("#ed-program");
      v.pause();
      v.playbackRate = 1;
    }

    shuttleForward() {
      this.stopShuttle();
      const v = this.$("#ed-program");
      if (v.paused) { v.playbackRate = 1; v.play().catch(() => {}); } else v.playbackRate = Math.min(8, v.playbackRate * 2);
    }

    // Browsers do not play backwards: J steps back in small seeks, faster on each press.
    shuttleBack() {
      const v = this.$("#ed-program");
      v.pause();
      this.shuttleSpeed = this.shuttle ? Math.min(8, this.shuttleSpeed * 2) : 1;
      if (this.shuttle) return;
      this.shuttle = setInterval(() => {
        const t = this.time - 0.2 * this.shuttleSpeed;
        if (t <= this.program.offset) this.stopShuttle();
        this.seek(t);
      }, 200);
    }

    stopShuttle() { if (this.shuttle) { clearInterval(this.shuttle); this.shuttle = null; } }

    step(seconds) {
      this.stopShuttle();
      this.$("#ed-program").pause();
      this.seek(this.time + seconds);
    }

    keyBefore(t) {
      let best = this.keys[0] ?? 0;
      for (const k of this.keys) { if (k > t + 1e-3) break; best = k; }
      return best;
    }

    stepKey(direction) {
      this.stopShuttle();
      this.$("#ed-program").pause();
      const t = this.time;
      const next = direction > 0 ? this.keys.find((k) => k > t + 0.01) : [...this.keys].reverse().find((k) => k < t - 0.01);
      if (next !== undefined) this.seek(next);
    }

    // Preview: the lesson as students will see it: from the keyframe the cut falls on, hidden
    // parts skipped, to the end.
    togglePreview() {
      if (this.preview) { this.stopPreview(); return; }
      this.preview = true;
      this.stopShuttle();
      this.$("#ed-preview-badge").hidden = false;
      this.$("#ed-preview").textContent = gettext("Stop preview");
      this.seek(this.cutStart());
      const v = this.$("#ed-program");
      v.playbackRate = 1;
      v.play().catch(() => {});
      this.root.dataset.preview = "on";
    }

    stopPreview() {
      if (!this.preview) return;
      this.preview = false;
      this.$("#ed-program").pause();
      this.$("#ed-preview-badge").hidden = true;
      this.$("#ed-preview").textContent = gettext("Preview");
      this.root.dataset.preview = "off";
    }

    previewTick(t) {
      const end = this.edit.trim_end ?? this.duration;
      if (t >= end - 0.02) { this.stopPreview(); return; }
      if (t < this.cutStart() - 0.25) { this.seek(this.cutStart()); return; }
      for (const h of this.edit.hidden) {
        if (t >= h.start && t < h.end - 0.05) {
          this.root.dataset.skipped = String(Number(this.root.dataset.skipped || 0) + 1);
          this.seek(h.end);
          return;
        }
      }
    }

    loop() {
      const tick = () => {
        const t = this.time;
        if (this.preview && !this.$("#ed-program").paused) this.previewTick(t);
        this.renderPlayhead();
        this.drawings.render(t);
        this.renderMasks(t);
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    }

    cutStart() { return this.edit.trim_start === null ? this.program.offset : this.keyBefore(this.edit.trim_start); }

    // -- edits ---------------------------------------------------------------------------------
    change(label, mutate) {
      const before = JSON.stringify(this.edit);
      const draft = JSON.parse(before);
      const problem = mutate(draft);
      if (problem) { this.hooks.flash(problem, true); return false; }
      if (JSON.stringify(draft) === before) return false;
      this.past.push(before);
      if (this.past.length > 200) this.past.shift();
      this.future = [];
      this.edit = draft;
      this.root.dataset.lastEdit = label;
      this.edited();
      return true;
    }

    edited() {
      this.render();
      this.scheduleSave();
      this.hooks.changed(this.edit);
    }

    undo() {
      if (!this.past.length) return;
      this.future.push(JSON.stringify(this.edit));
      this.edit = JSON.parse(this.past.pop());
      this.selected = null;
      this.edited();
    }

    redo() {
      if (!this.future.length) return;
      this.past.push(JSON.stringify(this.edit));
      this.edit = JSON.parse(this.future.pop());
      this.selected = null;
      this.edited();
    }

    setIn() {
      const t = round3(this.time);
      this.change("in", (d) => {
        if (d.trim_end !== null && t >= d.trim_end) return gettext("The start (%(start)s) must be before the end (%(end)s).", { start: fmt(t), end: fmt(d.trim_end) });
        d.trim_start = t <= 0.001 ? null : t;
      });
    }

    setOut() {
      const t = round3(this.time);
      this.change("out", (d) => {
        if (t <= (d.trim_start ?? 0)) return gettext("The end (%(end)s) must be after the start (%(start)s).", { end: fmt(t), start: fmt(d.trim_start ?? 0) });
        d.trim_end = t >= this.duration - 0.01 ? null : t;
      });
    }

    addChapter() {
      const t = round3(this.time);
      let index = -1;
      this.change("chapter", (d) => {
        if (d.chapters.some((c) => Math.abs(c.start - t) < 0.05)) return gettext("There is already a chapter here.");
        d.chapters.push({ id: null, title: gettext("Chapter %(number)s", { number: d.chapters.length + 1 }), start: t });
        d.chapters.sort((a, b) => a.start - b.start);
        index = d.chapters.findIndex((c) => c.start === t);
      });
      if (index >= 0) { this.selected = { kind: "chapter", index }; this.rename(index); }
    }

    renameChapter(index, title) {
      const clean = title.trim().slice(0, 200);
      if (!clean) return;
      this.change("rename", (d) => { d.chapters[index].title = clean; });
    }

    moveChapter(index, t) {
      this.change("move chapter", (d) => {
        const chapter = d.chapters[index];
        chapter.start = round3(Math.max(0, Math.min(this.duration, t)));
        d.chapters.sort((a, b) => a.start - b.start);
        this.selected = { kind: "chapter", index: d.chapters.indexOf(chapter) };
      });
    }

    hideSelection() {
      const s = this.selection;
      if (!s || s.end - s.start < 0.05) { this.hooks.flash(gettext("Drag across the strip to select the part to hide, then press H."), true); return; }
      this.change("hide", (d) => { d.hidden = mergeHidden([...d.hidden, { start: round3(s.start), end: round3(s.end) }]); });
      this.selection = null;
      this.render();
    }

    removeSelected() {
      const s = this.selected;
      if (!s) return;
      const list = { chapter: "chapters", hidden: "hidden", mask: "masks" }[s.kind];
      this.change(`remove ${s.kind}`, (d) => { d[list].splice(s.index, 1); });
      this.selected = null;
      this.render();
    }

    // -- masks ---------------------------------------------------------------------------------
    startMasking() {
      if (this.masking) { this.stopMasking(); return; }
      this.masking = true;
      this.$("#ed-program").pause();
      for (const tile of Object.values(this.tiles)) tile.classList.add("masking");
      this.hooks.flash(this.selection ? gettext("Drag a box over the view to mask it during the selected part.")
        : gettext("Drag a box over the view to mask it (for 5 s from the playhead; select a part first for another range)."), false);
    }

    stopMasking() {
      this.masking = false;
      for (const tile of Object.values(this.tiles)) tile.classList.remove("masking");
    }

    picture(tile) {
      const video = tile.querySelector("video");
      const box = tile.getBoundingClientRect();
      const vw = video.videoWidth || 16, vh = video.videoHeight || 9;
      const scale = Math.min(box.width / vw, box.height / vh);
      return { left: box.left + (box.width - vw * scale) / 2, top: box.top + (box.height - vh * scale) / 2, w: vw * scale, h: vh * scale, box };
    }

    bindMaskDrawing(tile) {
      tile.addEventListener("mousedown", (e) => {
        if (!this.masking) return;
        e.preventDefault();
        const pic = this.picture(tile);
        const clamp = (v) => Math.max(0, Math.min(1, v));
        const at = (ev) => ({ x: clamp((ev.clientX - pic.left) / pic.w), y: clamp((ev.clientY - pic.top) / pic.h) });
        const a = at(e);
        const layer = tile.querySelector(".ed-masks");
        const ghost = el("div", { class: "ed-mask-box" });
        layer.append(ghost);
        const place = (b) => {
          const x = Math.min(a.x, b.x), y = Math.min(a.y, b.y);
          ghost.style.left = `${pic.left - pic.box.left + x * pic.w}px`;
          ghost.style.top = `${pic.top - pic.box.top + y * pic.h}px`;
          ghost.style.width = `${Math.abs(b.x - a.x) * pic.w}px`;
          ghost.style.height = `${Math.abs(b.y - a.y) * pic.h}px`;
        };
        const move = (ev) => place(at(ev));
        const up = (ev) => {
          window.removeEventListener("mousemove", move);
          window.removeEventListener("mouseup", up);
          ghost.remove();
          const b = at(ev);
          const rect = { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(b.x - a.x), h: Math.abs(b.y - a.y) };
          this.stopMasking();
          if (rect.w < 0.01 || rect.h < 0.01) return;
          const range = this.selection || { start: this.time, end: Math.min(this.duration, this.time + 5) };
          const track = tile.dataset.track || this.program.name;
          this.change("mask", (d) => {
            d.masks.push({ track, start: round3(range.start), end: round3(range.end),
              x: Math.round(rect.x * 1e4) / 1e4, y: Math.round(rect.y * 1e4) / 1e4,
              w: Math.round(Math.min(rect.w, 1 - rect.x) * 1e4) / 1e4, h: Math.round(Math.min(rect.h, 1 - rect.y) * 1e4) / 1e4 });
          });
        };
        window.addEventListener("mousemove", move);
        window.addEventListener("mouseup", up);
      });
    }

    renderMasks(t) {
      for (const [name, tile] of Object.entries(this.tiles)) {
        const layer = tile.querySelector(".ed-masks");
        const live = this.edit.masks.filter((m) => m.track === name && t >= m.start && t < m.end);
        const key = live.map((m) => `${m.x},${m.y},${m.w},${m.h}`).join(";") + `|${tile.clientWidth}x${tile.clientHeight}`;
        if (layer.dataset.key === key) continue;
        layer.dataset.key = key;
        const pic = this.picture(tile);
        layer.replaceChildren(...live.map((m) => {
          const box = el("div", { class: "ed-mask-box" });
          box.style.left = `${pic.left - pic.box.left + m.x * pic.w}px`;
          box.style.top = `${pic.top - pic.box.top + m.y * pic.h}px`;
          box.style.width = `${m.w * pic.w}px`;
          box.style.height = `${m.h * pic.h}px`;
          return box;
        }));
      }
    }

    // -- the timeline ---------------------------------------------------------------------------
    width() { return this.$("#tl-media").clientWidth || 1; }
    x(t) { return (t / this.duration) * this.width(); }
    pct(t) { return `${Math.max(0, Math.min(100, (t / this.duration) * 100))}%`; }
    timeAt(clientX) {
      const box = this.$("#tl-media").getBoundingClientRect();
      return Math.max(0, Math.min(this.duration, ((clientX - box.left) / box.width) * this.duration));
    }

    stripDown(e) {
      if (e.button !== 0) return;
      const target = e.target;
      if (target.classList.contains("tl-handle")) { this.dragTrim(e, target.dataset.edge); return; }
      if (target.dataset.kind) {
        this.selected = { kind: target.dataset.kind, index: Number(target.dataset.index) };
        this.render();
        return;
      }
      e.preventDefault();
      this.stopPreview();
      const x0 = e.clientX, t0 = this.timeAt(e.clientX);
      let dragging = false;
      const move = (ev) => {
        if (!dragging && Math.abs(ev.clientX - x0) < DRAG_PX) return;
        dragging = true;
        const t = this.timeAt(ev.clientX);
        this.selection = { start: Math.min(t0, t), end: Math.max(t0, t) };
        this.renderLayer();
      };
      const up = (ev) => {
        window.removeEventListener("mousemove", move);
        window.removeEventListener("mouseup", up);
        if (!dragging) { this.selection = null; this.selected = null; this.seek(t0); }
        else this.seek(this.selection.start);
        this.render();
      };
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    }

    dragTrim(e, edge) {
      e.preventDefault();
      const handle = e.target;
      let t = null;
      const move = (ev) => {
        t = this.timeAt(ev.clientX);
        handle.style.left = this.pct(t);
        this.seek(t);
      };
      const up = () => {
        window.removeEventListener("mousemove", move);
        window.removeEventListener("mouseup", up);
        if (t === null) return;
        if (edge === "in") this.setIn(); else this.setOut();
        this.render();
      };
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    }

    dragChapter(e, index) {
      if (e.button !== 0 || this.renaming !== null) return;
      e.preventDefault();
      e.stopPropagation();
      this.selected = { kind: "chapter", index };
      const flag = e.currentTarget;
      const x0 = e.clientX;
      let t = null;
      const move = (ev) => {
        if (t === null && Math.abs(ev.clientX - x0) < DRAG_PX) return;
        t = this.timeAt(ev.clientX);
        flag.style.left = this.pct(t);
        flag.style.cursor = "grabbing";
      };
      const up = () => {
        window.removeEventListener("mousemove", move);
        window.removeEventListener("mouseup", up);
        if (t === null) { this.seek(this.edit.chapters[index].start); this.render(); return; }
        this.moveChapter(index, t);
      };
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    }

    rename(index) {
      this.renaming = index;
      this.renderChapterFlags();
      const input = this.$("#tl-chapters input");
      if (!input) return;
      input.focus();
      input.select();
      const done = (keep) => {
        if (this.renaming === null) return;
        this.renaming = null;
        if (keep) this.renameChapter(index, input.value);
        this.render();
        this.root.focus({ preventScroll: true });
      };
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") { ev.preventDefault(); done(true); }
        else if (ev.key === "Escape") { ev.preventDefault(); done(false); }
        ev.stopPropagation();
      });
      input.addEventListener("blur", () => done(true));
    }

    drawStrip() {
      const dpr = window.devicePixelRatio || 1;
      const thumbs = this.$("#tl-thumbs"), wave = this.$("#tl-wave");
      const W = Math.round(thumbs.clientWidth * dpr);
      if (this.sprite) {
        const H = Math.round(thumbs.clientHeight * dpr);
        thumbs.width = W; thumbs.height = H;
        const ctx = thumbs.getContext("2d");
        const info = this.data.thumbnails;
        const tileW = Math.round(H * info.tile_width / info.tile_height);
        ctx.fillStyle = "#05080c"; ctx.fillRect(0, 0, W, H);
        for (let x = 0; x < W; x += tileW) {
          const t = ((x + tileW / 2) / W) * this.duration - (info.offset || 0);
          const i = Math.max(0, Math.min(info.count - 1, Math.floor(t / info.every)));
          const col = i % info.columns, row = Math.floor(i / info.columns);
          ctx.drawImage(this.sprite, col * info.tile_width, row * info.tile_height, info.tile_width, info.tile_height, x, 0, tileW, H);
        }
      }
      const H2 = Math.round(wave.clientHeight * dpr);
      wave.width = W; wave.height = H2;
      const ctx = wave.getContext("2d");
      ctx.fillStyle = "#0b1015"; ctx.fillRect(0, 0, W, H2);
      if (this.waveform) {
        const { rate, offset, peaks } = this.waveform;
        ctx.fillStyle = "#3fb6a8";
        const perPx = (this.duration * rate) / W;
        for (let x = 0; x < W; x++) {
          const from = Math.floor((x * this.duration / W - offset) * rate);
          const to = Math.max(from + 1, Math.floor(from + perPx));
          let peak = 0;
          for (let i = Math.max(0, from); i < Math.min(peaks.length, to); i++) if (peaks[i] > peak) peak = peaks[i];
          const h = Math.max(1, (peak / 255) * (H2 - 4));
          ctx.fillRect(x, (H2 - h) / 2, 1, h);
        }
      } else {
        ctx.fillStyle = "#8b98a5"; ctx.font = `${12 * dpr}px system-ui`; ctx.fillText(gettext("no sound recorded"), 8 * dpr, H2 / 2 + 4 * dpr);
      }
    }

    render() {
      if (!this.data) return;
      this.renderRuler();
      this.renderChapterFlags();
      this.renderLayer();
      this.renderEvents();
      this.renderLists();
      this.renderTalk();
      this.renderTransport();
      this.renderPlayhead();
    }

    renderRuler() {
      const width = this.width();
      const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
      const step = steps.find((s) => (s / this.duration) * width >= 70) || 3600;
      const out = [];
      for (let t = 0; t <= this.duration; t += step) {
        const i = el("i"); i.style.left = this.pct(t);
        const label = el("span", {}, step >= 60 ? fmt(t).replace(/\.\d+$/, "") : fmt(t).replace(/0$/, ""));
        label.style.left = this.pct(t);
        out.push(i, label);
      }
      this.$("#tl-ruler").replaceChildren(...out);
    }

    renderChapterFlags() {
      const flags = this.edit.chapters.map((c, index) => {
        const selected = this.selected && this.selected.kind === "chapter" && this.selected.index === index;
        const flag = el("div", { class: "tl-flag" + (selected ? " selected" : ""), title: gettext("%(title)s · %(position)s (drag to move, double-click to rename)", { title: c.title, position: fmt(c.start) }), "data-index": index });
        flag.style.left = this.pct(c.start);
        if (this.renaming === index) {
          flag.append(el("input", { type: "text", value: c.title, maxlength: "200", "aria-label": gettext("chapter name") }));
        } else {
          flag.append(el("span", { translate: "no" }, c.title));
          flag.addEventListener("mousedown", (e) => this.dragChapter(e, index));
          flag.addEventListener("dblclick", () => this.rename(index));
        }
        return flag;
      });
      this.$("#tl-chapters").replaceChildren(...flags);
    }

    renderLayer() {
      const e = this.edit;
      const parts = [];
      const start = e.trim_start ?? 0, end = e.trim_end ?? this.duration;
      const box = (cls, a, b, attrs = {}) => {
        const d = el("div", { class: cls, ...attrs });
        d.style.left = this.pct(a);
        d.style.width = `calc(${this.pct(b)} - ${this.pct(a)})`;
        return d;
      };
      if (start > 0) parts.push(box("tl-out", 0, start));
      if (end < this.duration) parts.push(box("tl-out", end, this.duration));
      e.hidden.forEach((h, index) => {
        const selected = this.selected && this.selected.kind === "hidden" && this.selected.index === index;
        parts.push(box("tl-hidden" + (selected ? " selected" : ""), h.start, h.end,
          { "data-kind": "hidden", "data-index": index, title: gettext("hidden %(start)s – %(end)s (Del removes it)", { start: fmt(h.start), end: fmt(h.end) }) }));
      });
      e.masks.forEach((m, index) => {
        const selected = this.selected && this.selected.kind === "mask" && this.selected.index === index;
        parts.push(box("tl-maskbar" + (selected ? " selected" : ""), m.start, m.end,
          { "data-kind": "mask", "data-index": index, title: gettext("mask on %(view)s %(start)s – %(end)s (Del removes it)", { view: m.track, start: fmt(m.start), end: fmt(m.end) }) }));
      });
      if (this.selection) parts.push(box("tl-sel", this.selection.start, this.selection.end));
      if (e.trim_start !== null) {
        const cut = el("div", { class: "tl-cut", title: gettext("the cut really falls here (a keyframe)") });
        cut.style.left = this.pct(this.cutStart());
        parts.push(cut);
      }
      for (const [edge, t, label, title] of [["in", start, gettext("start"), gettext("drag to move the start")],
        ["out", end, gettext("end"), gettext("drag to move the end")]]) {
        const handle = el("div", { class: `tl-handle ${edge}`, "data-edge": edge, title }, el("b", {}, label));
        handle.style.left = this.pct(t);
        parts.push(handle);
      }
      this.$("#tl-layer").replaceChildren(...parts);
      this.$("#ed-hide").disabled = !this.selection;
    }

    renderEvents() {
      const names = { marker: gettext("marker"), note: gettext("note"), stroke: gettext("drawing"), chat: gettext("chat") };
      const dots = this.data.events.filter((ev) => names[ev.type]).map((ev) => {
        const text = ev.title || ev.text || "";
        const title = ev.author
          ? gettext("%(position)s %(kind)s · %(author)s: %(text)s", { position: fmt(ev.at), kind: names[ev.type], author: ev.author, text })
          : gettext("%(position)s %(kind)s: %(text)s", { position: fmt(ev.at), kind: names[ev.type], text });
        const dot = el("div", { class: `tl-ev ${ev.type}`, "data-at": ev.at, title });
        dot.style.left = this.pct(ev.at);
        return dot;
      });
      this.$("#tl-events").replaceChildren(...dots);
    }

    renderLists() {
      const e = this.edit;
      const chapters = e.chapters.map((c, index) => el("div", { class: "list-row chapter-row" },
        el("span", { class: "n" }, index + 1),
        el("input", { type: "text", value: c.title, maxlength: "200", translate: "no", "aria-label": gettext("chapter %(number)s title", { number: index + 1 }),
          onchange: (ev) => this.renameChapter(index, ev.target.value) }),
        el("button", { class: "btn btn-small btn-ghost at", title: gettext("Go there"), onclick: () => this.seek(c.start) }, fmt(c.start)),
        el("button", { class: "btn btn-small btn-ghost", title: gettext("Remove chapter"), "aria-label": gettext("Remove chapter"),
          onclick: () => { this.selected = { kind: "chapter", index }; this.removeSelected(); } }, "✕")));
      this.$("#chapters").replaceChildren(...(chapters.length ? chapters : [el("p", { class: "empty" }, gettext("No chapters: press M at the playhead."))]));
      const hidden = e.hidden.map((h, index) => el("div", { class: "list-row seg-row" },
        el("button", { class: "btn btn-small btn-ghost at", onclick: () => this.seek(h.start) }, fmt(h.start)),
        el("span", { class: "at" }, gettext("to %(end)s", { end: fmt(h.end) })),
        el("span", { class: "muted small" }, gettext("hidden")),
        el("button", { class: "btn btn-small btn-ghost", title: gettext("Show this part again"), "aria-label": gettext("Show this part again"),
          onclick: () => { this.selected = { kind: "hidden", index }; this.removeSelected(); } }, "✕")));
      this.$("#segments").replaceChildren(...(hidden.length ? hidden : [el("p", { class: "empty" }, gettext("Nothing hidden: drag across the strip, then H."))]));
      const masks = e.masks.map((m, index) => el("div", { class: "list-row seg-row" },
        el("button", { class: "btn btn-small btn-ghost at", onclick: () => this.seek(m.start) }, fmt(m.start)),
        el("span", { class: "at" }, gettext("to %(end)s", { end: fmt(m.end) })),
        el("span", { class: "muted small" }, gettext("mask on %(view)s", { view: m.track })),
        el("button", { class: "btn btn-small btn-ghost", title: gettext("Remove the mask"), "aria-label": gettext("Remove the mask"),
          onclick: () => { this.selected = { kind: "mask", index }; this.removeSelected(); } }, "✕")));
      this.$("#mask-list").replaceChildren(...masks);
    }

    // What of the classroom conversation the lesson will publish (the privacy gate counts it).
    conversation() {
      if (!this.data) return [];
      return conversation(this.data.events, this.edit, this.cutStart(), this.edit.trim_end ?? this.duration);
    }

    toggleMessage(id) {
      this.change("hide message", (d) => {
        const ids = new Set(d.hidden_messages || []);
        if (ids.has(id)) ids.delete(id); else ids.add(id);
        d.hidden_messages = [...ids].sort();
      });
    }

    renderTalk() {
      const box = this.$("#talk");
      if (!box) return;
      const items = this.conversation();
      const rows = items.map((item) => {
        const hidden = (this.edit.hidden_messages || []).includes(item.id);
        const label = { chat: "", question: gettext("question"), poll: gettext("poll"), speaker: gettext("talkback") }[item.kind];
        const statuses = { pending: gettext("pending"), approved: gettext("approved"), answering: gettext("being answered"),
          answered: gettext("answered"), dismissed: gettext("dismissed") };
        const fate = item.left ? gettext("not published: %(reason)s", { reason: item.left }) : gettext("will be published");
        const meta = item.kind === "question"
          ? (item.anonymous
            ? gettext("%(fate)s · %(status)s, ▲ %(votes)s, anonymous", { fate, status: statuses[item.status] || item.status, votes: i18n.formatNumber(item.votes) })
            : gettext("%(fate)s · %(status)s, ▲ %(votes)s", { fate, status: statuses[item.status] || item.status, votes: i18n.formatNumber(item.votes) }))
          : item.kind === "poll" && item.answered !== null
            ? ngettext("%(fate)s · %(num)s answered", "%(fate)s · %(num)s answered", item.answered, { fate })
            : fate;
        return el("div", { class: "list-row talk-row" + (item.left ? " left-out" : ""), "data-id": item.id, "data-kind": item.kind },
          el("button", { class: "btn btn-small btn-ghost at", title: gettext("Go there"), onclick: () => this.seek(item.at) }, fmt(item.at)),
          el("span", { class: "talk-body" },
            el("b", { translate: "no" }, item.author || "—"), label ? el("span", { class: "talk-tag" }, label) : "",
            el("span", { class: "talk-said", translate: item.kind === "speaker" ? "yes" : "no" }, item.text),
            el("span", { class: "muted small" }, meta)),
          item.hideable
            ? el("button", { class: "btn btn-small" + (hidden ? "" : " btn-ghost"), "aria-pressed": String(hidden),
                title: hidden ? gettext("Publish this message again") : gettext("Leave this message out of the lesson"),
                onclick: () => this.toggleMessage(item.id) }, hidden ? gettext("Show") : gettext("Hide"))
            : el("span"));
      });
      box.replaceChildren(...(rows.length ? rows : [el("p", { class: "empty" }, gettext("No classroom conversation in this recording."))]));
    }

    renderTransport() {
      const v = this.$("#ed-program");
      this.$("#ed-play").textContent = v.paused ? "▶" : "❚❚";
      this.$("#ed-undo").disabled = !this.past.length;
      this.$("#ed-redo").disabled = !this.future.length;
      const e = this.edit;
      const start = this.cutStart();
      const end = e.trim_end ?? this.duration;
      const hidden = e.hidden.reduce((sum, h) => sum + Math.max(0, Math.min(h.end, end) - Math.max(h.start, start)), 0);
      this.$("#ro-cut").textContent = e.trim_start === null ? gettext("start of the recording")
        : start < e.trim_start - 0.001
          ? gettext("%(position)s (keyframe, %(seconds)s s before the start you set)", { position: fmt(start), seconds: secs(e.trim_start - start) })
          : gettext("%(position)s (keyframe)", { position: fmt(start) });
      this.$("#ro-length").textContent = hidden > 0
        ? gettext("%(shown)s shown (%(hidden)s hidden)", { shown: fmt(end - start - hidden), hidden: fmt(hidden) })
        : gettext("%(shown)s shown", { shown: fmt(end - start - hidden) });
    }

    renderPlayhead() {
      const t = this.time;
      const head = this.$("#tl-playhead");
      if (head) head.style.left = this.pct(t);
      const readout = this.$("#ro-time");
      const text = gettext("%(position)s · keyframe %(keyframe)s", { position: fmt(t), keyframe: fmt(this.keyBefore(t)) });
      if (readout.textContent !== text) readout.textContent = text;
      this.root.dataset.time = t.toFixed(3);
    }

    // -- saving --------------------------------------------------------------------------------
    setState(state, text) {
      const badge = document.querySelector("#save-state");
      badge.dataset.state = state;
      badge.textContent = text;
      this.root.dataset.saveState = state;
    }

    scheduleSave() {
      if (canonical(this.edit) === this.saved) { if (!this.saving) this.setState("saved", gettext("Saved")); return; }
      this.setState("unsaved", gettext("Unsaved changes…"));
      clearTimeout(this.saveTimer);
      this.saveTimer = setTimeout(() => this.save(), SAVE_AFTER_MS);
    }

    // Saves now; resolves when everything made so far is saved (or failed).
    async flush() {
      clearTimeout(this.saveTimer);
      while (this.saving) await this.saving;
      if (canonical(this.edit) !== this.saved) await this.save();
    }

    save() {
      if (this.saving) { return this.saving.then(() => this.scheduleSave()); }
      if (this.conflicted) return Promise.resolve();
      const sent = canonical(this.edit);
      const body = JSON.parse(sent);
      body.chapters = this.edit.chapters.map((c) => ({ id: this.serverChapterIds.has(c.id) ? c.id : null, title: c.title, start: round3(c.start) }));
      this.setState("saving", gettext("Saving…"));
      this.saving = (async () => {
        try {
          const response = await fetch(`/api/library/lessons/${this.id}/edit`, {
            method: "PUT", body: JSON.stringify(body),
            headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF, "If-Match": `"v${this.version}"` } });
          const data = await response.json().catch(() => ({}));
          if (response.status === 412) { this.conflict(data); return; }
          if (!response.ok) {
            this.setState("error", gettext("Not saved"));
            this.hooks.flash(gettext("Not saved: %(reason)s", { reason: data.detail || gettext("The server refused (HTTP %(status)s).", { status: response.status }) }), true);
            return;
          }
          this.version = data.version;
          this.root.dataset.version = String(data.version);
          this.serverChapterIds = new Set(data.chapters.map((c) => c.id));
          // New chapters get their ids, where the list still holds them as sent.
          data.chapters.forEach((c, i) => {
            const mine = this.edit.chapters[i];
            if (mine && mine.id === null && mine.title === c.title && Math.abs(mine.start - c.start) < 0.001) mine.id = c.id;
          });
          this.saved = sent;
          if (canonical(this.edit) === sent) this.setState("saved", gettext("Saved at %(time)s", { time: i18n.formatTime(new Date()) }));
        } catch (error) {
          this.setState("error", gettext("Not saved"));
          this.hooks.flash(gettext("Not saved: %(reason)s", { reason: error.message }), true);
        } finally {
          this.saving = null;
        }
        if (!this.conflicted && canonical(this.edit) !== this.saved) this.scheduleSave();
      })();
      return this.saving;
    }

    conflict(data) {
      this.conflicted = data.current_version;
      this.setState("conflict", gettext("Conflict: not saved"));
      const box = document.querySelector("#conflict");
      box.hidden = false;
      document.querySelector("#conflict-text").textContent = data.detail || gettext("Someone else changed this lesson.");
      document.querySelector("#conflict-reload").onclick = () => this.reload();
      document.querySelector("#conflict-keep").onclick = () => {
        this.version = this.conflicted;
        this.conflicted = null;
        box.hidden = true;
        this.save();
      };
    }

    // Their version replaces ours (ours stays one undo away).
    async reload() {
      const response = await fetch(`/api/library/lessons/${this.id}/curation`);
      const data = await response.json();
      this.past.push(JSON.stringify(this.edit));
      this.future = [];
      this.data.events = data.events;
      this.adopt(data.edit);
      this.conflicted = null;
      document.querySelector("#conflict").hidden = true;
      this.setState("saved", gettext("Saved (their version)"));
      this.render();
      this.hooks.changed(this.edit);
      this.hooks.reloaded && this.hooks.reloaded();
    }

    // After the page changed the lesson by another route (details, privacy, publishing), the
    // version moved on: take it if the edit on the server is still the one saved here.
    async refreshVersion() {
      await this.flush();
      const response = await fetch(`/api/library/lessons/${this.id}/curation`);
      if (!response.ok) return;
      const data = await response.json();
      this.status = data.edit.status;
      if (canonical(fromServer(data.edit)) === this.saved) {
        this.version = data.edit.version;
        this.root.dataset.version = String(this.version);
        this.serverChapterIds = new Set(data.edit.chapters.map((c) => c.id));
        data.edit.chapters.forEach((c, i) => { if (this.edit.chapters[i]) this.edit.chapters[i].id = c.id; });
      } else if (data.edit.version !== this.version) {
        this.conflict({ current_version: data.edit.version, detail: gettext("Someone else changed this lesson's cuts while you were editing it.") });
      }
    }
  }

  MedRoom.CutEditor = CutEditor;
  MedRoom.formatTime = fmt;
})();
