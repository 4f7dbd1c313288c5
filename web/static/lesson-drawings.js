// The instructor's drawings replayed over the program at their lesson time: a stroke grows
// from its first to its last point between started_at and ended_at, as it was drawn, stays
// for HOLD seconds and fades out over FADE seconds. Points are 0..1 of the picture, so the
// canvas maps them onto the video's displayed picture (object-fit: contain letterboxing).
"use strict";
(function () {
  const MedRoom = (window.MedRoom = window.MedRoom || {});
  const HOLD = 5, FADE = 1;

  class DrawingReplay {
    constructor(canvas, video, strokes) {
      this.canvas = canvas;
      this.video = video;
      this.strokes = strokes.slice().sort((a, b) => a.started_at - b.started_at);
      this.drawn = 0;
    }

    // The picture's rectangle inside the element, in CSS pixels.
    picture() {
      const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
      const vw = this.video.videoWidth || 16, vh = this.video.videoHeight || 9;
      const scale = Math.min(w / vw, h / vh);
      return { x: (w - vw * scale) / 2, y: (h - vh * scale) / 2, w: vw * scale, h: vh * scale, scale };
    }

    render(t) {
      const c = this.canvas, dpr = window.devicePixelRatio || 1;
      const W = Math.round(c.clientWidth * dpr), H = Math.round(c.clientHeight * dpr);
      if (c.width !== W || c.height !== H) { c.width = W; c.height = H; }
      const ctx = c.getContext("2d");
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, W, H);
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const pic = this.picture();
      let drawn = 0;
      for (const s of this.strokes) {
        if (t < s.started_at) break;
        const end = s.ended_at + HOLD + FADE;
        if (t >= end) continue;
        const span = Math.max(0.001, s.ended_at - s.started_at);
        const grown = Math.min(1, (t - s.started_at) / span);
        const count = Math.max(1, Math.ceil(grown * s.points.length));
        const alpha = t > s.ended_at + HOLD ? 1 - (t - s.ended_at - HOLD) / FADE : 1;
        ctx.globalAlpha = Math.max(0, alpha);
        ctx.strokeStyle = s.colour;
        ctx.fillStyle = s.colour;
        // Width was chosen on the 1280-pixel-wide program: scale with the picture.
        ctx.lineWidth = Math.max(1.5, s.width * pic.w / 1280);
        ctx.lineCap = "round"; ctx.lineJoin = "round";
        ctx.beginPath();
        s.points.slice(0, count).forEach(([x, y], i) => {
          const px = pic.x + x * pic.w, py = pic.y + y * pic.h;
          if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
        });
        if (count === 1) {
          const [x, y] = s.points[0];
          ctx.arc(pic.x + x * pic.w, pic.y + y * pic.h, ctx.lineWidth / 2, 0, 2 * Math.PI);
          ctx.fill();
        } else {
          ctx.stroke();
        }
        drawn += 1;
      }
      ctx.globalAlpha = 1;
      this.drawn = drawn;
      c.dataset.strokes = String(drawn);  // how many strokes are on screen (tests read it)
    }
  }

  MedRoom.DrawingReplay = DrawingReplay;
})();
