// Live drawing over the program, on the console and on every watch page (streaming/overlay.py).
// Strokes travel on the WHEP session's "overlay" data channel. Each carries the media ticks of
// the frame it was drawn on (f); this page learns its own RTP origin from the server ("clock"),
// so a displayed frame's ticks are rtpTimestamp - origin (requestVideoFrameCallback), and a
// stroke is drawn once the frame on screen has reached its ticks, and fades over FADE ticks
// after its end: the drawing stays on its frame whatever this viewer's delay.
// Points are 0..1 of the picture (object-fit: contain letterboxing is taken into account).
"use strict";
(function () {
  const MedRoom = (window.MedRoom = window.MedRoom || {});
  const CLOCK = 90000, FADE = 4 * CLOCK, WRAP = 4294967296;
  const SEND_EVERY_MS = 16, MAX_SEGMENT = 64, MAX_POINTS = 2000;
  const delta = (a, b) => { const d = ((a - b) % WRAP + WRAP) % WRAP; return d >= WRAP / 2 ? d - WRAP : d; };
  const wall = () => performance.timeOrigin + performance.now();

  class LiveOverlay {
    // video: the <video> showing the program; canvas: laid over it.
    // options.onRights(rights), options.onRefused(why), options.onStroke(stroke): this page's
    // own finished strokes (the console keeps them on the recording's timeline).
    constructor(video, canvas, options) {
      this.video = video;
      this.canvas = canvas;
      this.options = options || {};
      this.channel = null;
      this.origin = null;
      this.ticks = null;       // media ticks of the frame on screen
      this.active = true;      // false while the video shows another view than the program
      this.rights = { draw: false, colour: null, leads: false };
      this.local_ = false;      // may draw here without the channel (the console while recording)
      this.strokes = new Map(); // id -> {c, w, points: [[x, y, f]], end, by}
      this.shown = [];          // trace for the benchmark: [{id, n, f, ticks, at}]
      this.colour = "#ffd400";
      this.drawing = false;
      this.local = null;        // the stroke being drawn here
      this.pending = [];
      this.nextId = 1;
      this.lastSend = 0;
      this.sendTimer = null;
      this.onFrame = this.onFrame.bind(this);
      if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(this.onFrame);
      else setInterval(() => this.render(), 50);  // no frame callbacks: paint (and fade) anyway
      this.bindPointer();
    }

    // Called by the WHEP player with every new peer connection, before its offer.
    attach(pc) {
      const channel = pc.createDataChannel("overlay");
      this.channel = channel;
      this.origin = null;
      this.ticks = null;
      channel.onmessage = (event) => this.receive(event.data);
      channel.onclose = () => {
        if (this.channel !== channel) return;
        this.channel = null;
        this.setRights({ draw: false, colour: null, leads: false });
      };
    }

    receive(text) {
      let m;
      try { m = JSON.parse(text); } catch (e) { return; }
      if (m.t === "clock") this.origin = m.origin;
      else if (m.t === "rights") this.setRights(m);
      else if (m.t === "refused") { if (this.options.onRefused) this.options.onRefused(m.why, m.code); }
      else if (m.t === "seg") {
        let s = this.strokes.get(m.id);
        if (!s) { s = { c: m.c, w: m.w, by: m.by, points: [], end: null, endWall: null, n: 0 }; this.strokes.set(m.id, s); }
        for (const [x, y] of m.p) s.points.push([x, y, m.f, wall()]);
        this.render();
      } else if (m.t === "end") {
        const s = this.strokes.get(m.id);
        if (s) { s.end = m.f; s.endWall = wall(); }
      }
    }

    setRights(rights) {
      this.rights = rights;
      if (rights.colour && !rights.leads) this.colour = rights.colour;
      if (!this.canDraw) this.setDrawing(false);
      if (this.options.onRights) this.options.onRights(rights, this.canDraw);
    }

    // The console draws while recording even when not live: its strokes then go to the
    // recording only (onStroke), fading here by the wall clock.
    setLocal(on) {
      this.local_ = !!on;
      this.setRights(this.rights);
    }

    get canDraw() { return this.rights.draw || this.local_; }

    onFrame(now, meta) {
      if (meta && meta.rtpTimestamp !== undefined && this.origin !== null)
        this.ticks = ((meta.rtpTimestamp - this.origin) % WRAP + WRAP) % WRAP;
      this.render(meta && meta.expectedDisplayTime ? performance.timeOrigin + meta.expectedDisplayTime : 0);
      this.video.requestVideoFrameCallback(this.onFrame);
    }

    // Whether a point drawn on frame f is on screen now, and the stroke's fade (1..0).
    visible(f) {
      if (this.ticks === null || f === null) return true;  // no clock yet: show as it comes
      return delta(this.ticks, f) >= 0;
    }

    alpha(s) {
      if (s.endWall === null) return 1;
      if (this.ticks !== null && s.end !== null) return 1 - Math.max(0, delta(this.ticks, s.end)) / FADE;
      return 1 - (wall() - s.endWall) / (FADE / CLOCK * 1000);
    }

    picture() {
      const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
      const vw = this.video.videoWidth || 16, vh = this.video.videoHeight || 9;
      const scale = Math.min(w / vw, h / vh);
      return { x: (w - vw * scale) / 2, y: (h - vh * scale) / 2, w: vw * scale, h: vh * scale };
    }

    render(presented) {
      const c = this.canvas, dpr = window.devicePixelRatio || 1;
      const W = Math.round(c.clientWidth * dpr), H = Math.round(c.clientHeight * dpr);
      if (c.width !== W || c.height !== H) { c.width = W; c.height = H; }
      const ctx = c.getContext("2d");
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, W, H);
      let count = 0;
      if (!this.active) { c.dataset.strokes = "0"; return; }
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      // When this canvas reaches the screen: with the frame being presented, or (a stroke that
      // arrived between frames) at the next paint.
      const pic = this.picture(), at = presented || wall();
      ctx.lineCap = ctx.lineJoin = "round";
      for (const [id, s] of this.strokes) {
        const alpha = this.alpha(s);
        if (alpha <= 0) { this.strokes.delete(id); continue; }
        const pts = s.points.filter((p) => this.visible(p[2]));
        if (!pts.length) continue;
        for (; s.n < pts.length; s.n++) {  // newly on screen: note when, and on which frame
          const p = pts[s.n];
          this.shown.push({ id, x: p[0], y: p[1], f: p[2], ticks: this.ticks, arrived: p[3], at });
        }
        if (this.shown.length > 4000) this.shown.splice(0, 2000);
        count += 1;
        ctx.globalAlpha = Math.min(1, alpha);
        ctx.strokeStyle = ctx.fillStyle = s.c;
        ctx.lineWidth = Math.max(2, s.w * pic.w);
        ctx.beginPath();
        pts.forEach(([x, y], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, pic.x + x * pic.w, pic.y + y * pic.h));
        if (pts.length === 1) { ctx.arc(pic.x + pts[0][0] * pic.w, pic.y + pts[0][1] * pic.h, ctx.lineWidth / 2, 0, 2 * Math.PI); ctx.fill(); }
        else ctx.stroke();
      }
      ctx.globalAlpha = 1;
      c.dataset.strokes = String(count);  // strokes on screen now (tests read it)
    }

    // -- drawing here ------------------------------------------------------------------
    setDrawing(on) {
      this.drawing = !!on && this.canDraw && this.active;
      this.canvas.classList.toggle("drawing-on", this.drawing);
      document.body.classList.toggle("drawing", this.drawing);
      if (!this.drawing) this.finish();
      if (this.options.onDrawing) this.options.onDrawing(this.drawing);
      return this.drawing;
    }

    point(event) {
      const r = this.canvas.getBoundingClientRect(), pic = this.picture();
      const clamp = (v) => Math.min(1, Math.max(0, Math.round(v * 10000) / 10000));
      return [clamp((event.clientX - r.left - pic.x) / pic.w), clamp((event.clientY - r.top - pic.y) / pic.h)];
    }

    bindPointer() {
      const c = this.canvas;
      c.addEventListener("pointerdown", (event) => {
        if (!this.drawing) return;
        c.setPointerCapture(event.pointerId);
        const id = "me-" + this.nextId;
        this.local = { id, s: this.nextId++, points: 0, started: wall(), all: [] };
        this.strokes.set(id, { c: this.colour, w: 0.006, by: "me", points: [], end: null, endWall: null, n: 0 });
        this.add(event);
      });
      c.addEventListener("pointermove", (event) => { if (this.local) this.add(event); });
      const up = () => this.finish();
      c.addEventListener("pointerup", up);
      c.addEventListener("pointercancel", up);
    }

    add(event) {
      const local = this.local;
      if (!local || local.points >= MAX_POINTS) return;
      const [x, y] = this.point(event);
      local.points += 1;
      local.all.push([x, y]);
      const f = this.ticks;
      // Drawn here on the frame on screen: shown at once, fading on this page's frames too.
      this.strokes.get(local.id).points.push([x, y, f, wall()]);
      this.pending.push([x, y]);
      (this.trace || (this.trace = [])).push({ x, y, f, at: wall() });
      if (this.trace.length > 2000) this.trace.splice(0, 1000);
      this.render();
      this.flush(false);
    }

    flush(final) {
      clearTimeout(this.sendTimer);
      const local = this.local;
      if (!local) return;
      const since = performance.now() - this.lastSend;
      if (this.pending.length && (final || since >= SEND_EVERY_MS || this.pending.length >= MAX_SEGMENT)) {
        const seg = { t: "seg", s: local.s, p: this.pending.splice(0, MAX_SEGMENT) };
        if (this.ticks !== null) seg.f = this.ticks;
        if (this.rights.leads) seg.c = this.colour;
        this.send(seg);
        this.lastSend = performance.now();
      }
      if (this.pending.length) this.sendTimer = setTimeout(() => this.flush(final), final ? 0 : SEND_EVERY_MS - since);
    }

    finish() {
      const local = this.local;
      if (!local) return;
      this.flush(true);
      while (this.pending.length) this.flush(true);
      const end = { t: "end", s: local.s };
      if (this.ticks !== null) end.f = this.ticks;
      this.send(end);
      const s = this.strokes.get(local.id);
      if (s) { s.end = this.ticks; s.endWall = wall(); }
      this.local = null;
      if (this.options.onStroke && local.all.length)
        this.options.onStroke({ points: local.all, colour: this.colour, seconds: (wall() - local.started) / 1000 });
    }

    send(message) {
      if (this.channel && this.channel.readyState === "open") this.channel.send(JSON.stringify(message));
    }
  }

  // What a page says when the server refused a drawing message (the server's own "why" is
  // English, for the developer console).
  MedRoom.overlayRefusal = function (why, code) {
    if (why) console.warn("drawing refused:", why);
    if (code === "rate_limited") return gettext("You are drawing too fast: the room missed part of the stroke.");
    if (code === "not_allowed") return gettext("You may not draw now: the instructor has not given you the floor.");
    return gettext("The drawing could not be sent.");
  };

  MedRoom.LiveOverlay = LiveOverlay;
})();
