// The lesson player page: views in sync, chapters, notes, drawings, the classroom's
// conversation, keyboard, resume, progress.
"use strict";
(function () {
  const root = document.getElementById("lesson");
  if (!root) return;
  const lessonId = root.dataset.lesson;
  const $ = (id) => document.getElementById(id);
  const fmt = (s) => i18n.formatClock(s);
  const PING_EVERY_MS = 5000;
  const RESUME_MIN = 5;  // not worth resuming in the first seconds
  let info = null, sync = null, master = null, drawings = null, sound = null, classroom = null;
  let views = [];
  let watched = 0, lastTime = null, toastTimer = null;

  function toast(text, action) {
    const el = $("toast");
    el.textContent = text;
    if (action) {
      const b = document.createElement("button");
      b.className = "btn btn-small"; b.type = "button"; b.textContent = action.label;
      b.addEventListener("click", () => { action.run(); el.hidden = true; });
      el.append(" ", b);
    }
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, action ? 8000 : 2500);
  }

  // -- views ---------------------------------------------------------------------------------
  function buildViews() {
    const box = $("views");
    views = info.tracks.map((track, index) => {
      const view = document.createElement("div");
      view.className = "view" + (index === 0 ? " large" : "");
      view.dataset.index = String(index);
      view.dataset.kind = track.kind;
      const video = document.createElement("video");
      video.src = track.url;
      video.preload = "auto";
      video.playsInline = true;
      video.muted = index > 0;  // one sound source: the program
      if (index === 0) video.poster = info.poster_url;
      view.append(video);
      if (index === 0) {
        const chapters = document.createElement("track");
        chapters.kind = "chapters"; chapters.src = info.chapters_url; chapters.default = true;
        chapters.srclang = i18n.tag; chapters.label = gettext("Chapters");
        video.append(chapters);
        chapters.track.mode = "hidden";  // cues load, the browser draws nothing of its own
        const canvas = document.createElement("canvas");
        canvas.className = "drawings"; canvas.id = "drawings";
        view.append(canvas);
        drawings = new MedRoom.DrawingReplay(canvas, video, info.strokes);
      }
      const label = document.createElement("span");
      label.className = "view-label";
      label.innerHTML = `<kbd>${index + 1}</kbd> `;
      const name = document.createElement("span");
      name.textContent = track.label;
      if (track.kind !== "program") name.translate = false;  // a source's own name
      label.append(name);
      view.append(label);
      view.addEventListener("click", () => {
        if (view.classList.contains("large")) togglePlay(); else makeLarge(index);
      });
      box.append(view);
      return { view, video, offset: track.offset, track };
    });
    box.dataset.count = String(views.length);
    master = views[0].video;
    master.muted = true;  // the sound is a track of its own, following the program like a view
    const followers = views.slice(1);
    if (info.audio_url) {
      sound = document.createElement("audio");
      sound.src = info.audio_url; sound.preload = "auto";
      root.append(sound);
      followers.push({ video: sound, offset: info.audio_offset, sound: true });
    }
    sync = new MedRoom.SyncedViews(views[0], followers, () => {
      toast(gettext("The browser held the sound back."), { label: gettext("Turn sound on"), run: () => sound.play() });
    });
  }

  function makeLarge(index) {
    if (!views[index]) return;
    views.forEach((v, i) => v.view.classList.toggle("large", i === index));
    toast(gettext("%(view)s is the large view", { view: views[index].track.label }));
  }

  // -- time, chapters, notes -----------------------------------------------------------------
  const now = () => sync ? sync.time : 0;
  const duration = () => info.duration || (master && master.duration) || 0;
  const currentChapter = (t) => {
    let found = -1;
    info.chapters.forEach((c, i) => { if (t >= c.start - 0.01) found = i; });
    return found;
  };

  function seek(t, why) {
    sync.seek(t);
    lastTime = null;
    if (why) toast(why);
  }

  function nextChapter(step) {
    const t = now(), i = currentChapter(t);
    let target = step > 0 ? i + 1 : (i >= 0 && t - info.chapters[i].start > 2 ? i : i - 1);
    target = Math.max(0, Math.min(info.chapters.length - 1, target));
    if (info.chapters[target]) seek(info.chapters[target].start, info.chapters[target].title);
  }

  function listItem(list, at, title, text) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.innerHTML = `<span class="at">${fmt(at)}</span>`;
    const t = document.createElement("span");
    t.className = "item-title"; t.textContent = title;
    b.append(t);
    if (text) { const p = document.createElement("span"); p.className = "item-text"; p.textContent = text; b.append(p); }
    b.addEventListener("click", () => { seek(at); master.play().catch(() => {}); });
    li.append(b);
    list.append(li);
    return li;
  }

  function buildLists() {
    info.chapters.forEach((c) => listItem($("chapter-list"), c.start, c.title));
    info.notes.forEach((n) => listItem($("note-list"), n.at, n.text, n.author ? "— " + n.author : ""));
    $("no-notes").hidden = info.notes.length > 0;
    const talk = info.conversation || [];
    classroom = new MedRoom.ClassroomReplay($("classroom"), $("talk-list"), $("talk-empty"), talk,
      (at) => { seek(at); master.play().catch(() => {}); }, fmt);
    $("classroom-count").textContent = ngettext("%(num)s item", "%(num)s items", talk.length);
    const marks = $("scrub-marks"), d = duration() || 1;
    info.chapters.forEach((c, i) => {
      if (i === 0 && c.start < 0.5) return;
      const m = document.createElement("span");
      m.className = "mark"; m.style.left = (100 * c.start / d) + "%"; m.title = c.title;
      marks.append(m);
    });
    info.hidden.forEach((h) => {
      const m = document.createElement("span");
      m.className = "hidden-part"; m.title = gettext("Hidden by the curator: skipped");
      m.style.left = (100 * h.start / d) + "%"; m.style.width = (100 * (h.end - h.start) / d) + "%";
      marks.append(m);
    });
    if (info.counts) {
      const c = info.counts;
      $("counts").hidden = false;
      $("counts").textContent = [
        ngettext("%(num)s page view", "%(num)s page views", c.page_views),
        ngettext("%(num)s play", "%(num)s plays", c.media_sessions),
        ngettext("%(num)s person", "%(num)s people", c.viewers),
        gettext("%(time)s watched in all", { time: i18n.formatDuration(c.seconds_watched) }),
      ].join(" · ");
    }
  }

  // -- scrubber with thumbnails --------------------------------------------------------------
  let thumbs = [];
  async function loadThumbnails() {
    if (!info.thumbnails_url || !info.sprite_url) return;
    try {
      const text = await (await fetch(info.thumbnails_url, { credentials: "same-origin" })).text();
      const toS = (s) => s.split(":").reduce((a, p) => a * 60 + parseFloat(p), 0);
      const re = /([\d:.]+) --> ([\d:.]+)\s*\n[^\n#]*#xywh=(\d+),(\d+),(\d+),(\d+)/g;
      let m;
      while ((m = re.exec(text))) thumbs.push({ start: toS(m[1]), end: toS(m[2]), x: +m[3], y: +m[4], w: +m[5], h: +m[6] });
    } catch (e) { thumbs = []; }
  }

  function scrubAt(event) {
    const r = $("scrubber").getBoundingClientRect();
    return Math.max(0, Math.min(1, (event.clientX - r.left) / r.width)) * duration();
  }

  function bindScrubber() {
    const bar = $("scrubber");
    let dragging = false;
    bar.addEventListener("pointerdown", (e) => { dragging = true; bar.setPointerCapture(e.pointerId); seek(scrubAt(e)); });
    bar.addEventListener("pointermove", (e) => {
      const t = scrubAt(e);
      if (dragging) seek(t);
      const hover = $("scrub-hover"), r = bar.getBoundingClientRect();
      hover.hidden = false;
      hover.style.left = Math.max(60, Math.min(r.width - 60, e.clientX - r.left)) + "px";
      const ch = info.chapters[currentChapter(t)];
      $("scrub-time").textContent = fmt(t) + (ch ? " · " + ch.title : "");
      const th = thumbs.find((x) => t >= x.start && t < x.end);
      const box = $("scrub-thumb");
      box.hidden = !th;
      if (th) {
        box.style.width = th.w + "px"; box.style.height = th.h + "px";
        box.style.background = `url("${info.sprite_url}") -${th.x}px -${th.y}px`;
      }
    });
    bar.addEventListener("pointerup", () => { dragging = false; });
    bar.addEventListener("pointerleave", () => { if (!dragging) $("scrub-hover").hidden = true; });
  }

  // -- the loop: hidden parts, drawings, time display ----------------------------------------
  function tick() {
    if (master && info) {
      const t = now();
      const hidden = info.hidden.find((h) => t >= h.start && t < h.end - 0.05);
      if (hidden && !master.seeking) seek(hidden.end, gettext("Skipped a part the curator hid"));
      drawings.render(t);
      classroom.render(t);
      const d = duration();
      $("scrub-played").style.width = (d ? 100 * t / d : 0) + "%";
      if (master.buffered.length) $("scrub-buffered").style.width = (100 * master.buffered.end(master.buffered.length - 1) / (d || 1)) + "%";
      $("time").textContent = `${fmt(t)} / ${fmt(d)}`;
      $("scrubber").setAttribute("aria-valuenow", String(Math.round(t)));
      const ci = currentChapter(t);
      $("chapter-now").textContent = ci >= 0 ? info.chapters[ci].title : "";
      document.querySelectorAll("#chapter-list li").forEach((li, i) => li.classList.toggle("current", i === ci));
      if (!master.paused && lastTime !== null && t > lastTime && t - lastTime < 1.5) watched += t - lastTime;
      lastTime = master.paused ? null : t;
    }
    requestAnimationFrame(tick);
  }

  // -- progress ------------------------------------------------------------------------------
  function ping(keepalive) {
    if (!info) return;
    const body = JSON.stringify({ view_id: info.view_id, position: now(), watched: Math.min(3600, watched) });
    watched = 0;
    fetch(`/api/lessons/${lessonId}/progress`, {
      method: "PUT", keepalive: !!keepalive, credentials: "same-origin", body,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": MedRoom.csrf() },
    }).catch(() => {});
  }

  // -- controls and keys ---------------------------------------------------------------------
  function togglePlay() { if (master.paused) master.play().catch(() => {}); else master.pause(); }
  function fullScreen() {
    if (document.fullscreenElement) document.exitFullscreen(); else $("stage").requestFullscreen().catch(() => {});
  }
  function help(show) { $("help").hidden = show === undefined ? !$("help").hidden : !show; }

  function bindControls() {
    $("play").addEventListener("click", togglePlay);
    $("back").addEventListener("click", () => seek(now() - 5));
    $("fwd").addEventListener("click", () => seek(now() + 5));
    $("fullscreen").addEventListener("click", fullScreen);
    $("help-button").addEventListener("click", () => help());
    $("help-close").addEventListener("click", () => help(false));
    $("speed").addEventListener("change", (e) => { master.playbackRate = parseFloat(e.target.value); });
    master.addEventListener("play", () => {
      $("play").textContent = "❚❚"; $("play").setAttribute("aria-label", gettext("Pause (space)")); root.dataset.state = "playing";
    });
    master.addEventListener("pause", () => {
      $("play").textContent = "▶"; $("play").setAttribute("aria-label", gettext("Play (space)")); root.dataset.state = "paused";
    });
    master.addEventListener("waiting", () => { $("stage-overlay").hidden = false; });
    master.addEventListener("playing", () => { $("stage-overlay").hidden = true; });
    master.addEventListener("canplay", () => { $("stage-overlay").hidden = true; });
    master.addEventListener("error", () => toast(gettext("The video could not be loaded: reload the page.")));
    document.addEventListener("keydown", (e) => {
      if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
      const k = e.key;
      const actions = {
        " ": togglePlay, k: togglePlay, ArrowLeft: () => seek(now() - 5), ArrowRight: () => seek(now() + 5),
        j: () => seek(now() - 10), l: () => seek(now() + 10), c: () => nextChapter(1), C: () => nextChapter(-1),
        f: fullScreen, "?": () => help(), Escape: () => help(false),
        m: () => { if (sound) { sound.muted = !sound.muted; toast(sound.muted ? gettext("Sound off") : gettext("Sound on")); } },
        1: () => makeLarge(0), 2: () => makeLarge(1), 3: () => makeLarge(2),
      };
      const act = actions[k] || actions[k.toLowerCase()];
      if (!act) return;
      e.preventDefault();
      act();
    });
  }

  // -- start ---------------------------------------------------------------------------------
  function startAt() {
    const hash = /#t=([\d.]+)/.exec(window.location.hash);
    if (hash) return { t: parseFloat(hash[1]), why: null };
    const d = duration();
    if (info.resume_at > RESUME_MIN && (!d || info.resume_at < d - RESUME_MIN)) return { t: info.resume_at, why: "resume" };
    return null;
  }

  async function start() {
    try {
      // The page carries its playback (signed links included): no round trip before the video.
      const inline = document.getElementById("playback");
      info = inline ? JSON.parse(inline.textContent) : await MedRoom.api(`/api/lessons/${lessonId}/playback`);
    } catch (error) {
      $("stage-overlay").innerHTML = "";
      $("stage-overlay").textContent = error.message;
      root.dataset.state = "error";
      return;
    }
    buildViews();
    buildLists();
    bindControls();
    bindScrubber();
    loadThumbnails();
    // First frame on screen, measured from the navigation (the page's own start).
    if (master.requestVideoFrameCallback) {
      master.requestVideoFrameCallback(() => { root.dataset.firstFrameMs = String(Math.round(performance.now())); });
    }
    master.addEventListener("loadedmetadata", () => {
      const at = startAt();
      if (at) {
        seek(at.t);
        if (at.why === "resume") toast(gettext("Resumed where you left off (%(time)s).", { time: fmt(at.t) }), { label: gettext("Start over"), run: () => seek(0) });
      }
      master.play().catch(() => { root.dataset.state = "paused"; });
    }, { once: true });
    window.addEventListener("hashchange", () => { const at = startAt(); if (at) seek(at.t); });
    setInterval(() => { if (!master.paused || watched > 0) ping(false); }, PING_EVERY_MS);
    window.addEventListener("pagehide", () => ping(true));
    document.addEventListener("visibilitychange", () => { if (document.hidden) ping(true); });
    requestAnimationFrame(tick);
  }

  start();
})();
