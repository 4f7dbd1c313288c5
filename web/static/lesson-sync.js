// Lesson views in sync: one master <video> (the program) is the lesson clock; every other
// view follows it. A view's own time is the lesson time minus its offset (where its first
// frame plays on the lesson clock). Small drift is absorbed by nudging the follower's
// playback rate, large drift (a seek, a stall) by jumping it to the right time.
"use strict";
(function () {
  const MedRoom = (window.MedRoom = window.MedRoom || {});
  const JUMP_AT = 0.3;    // seconds of drift that a rate change would take too long to absorb
  const NUDGE_AT = 0.04;  // below this the views are in sync (about a frame at 25 fps)
  const NUDGE = 0.05;     // ±5 % speed: unnoticeable, absorbs 0.3 s in 6 s

  class SyncedViews {
    constructor(master, followers, onSoundBlocked) {
      this.master = master;               // {video, offset}
      this.followers = followers;         // [{video, offset}]; an <audio> follows the same way
      this.onSoundBlocked = onSoundBlocked || (() => {});
      this.timer = null;
      const m = master.video;
      m.addEventListener("play", () => this.each((f) => this.align(f, true)));
      m.addEventListener("pause", () => this.each((f) => { f.video.pause(); this.align(f, false); }));
      m.addEventListener("seeked", () => this.each((f) => this.align(f, !m.paused)));
      m.addEventListener("ratechange", () => this.each((f) => { f.video.playbackRate = m.playbackRate; }));
      m.addEventListener("waiting", () => this.each((f) => f.video.pause()));
      m.addEventListener("playing", () => this.each((f) => this.align(f, true)));
      this.timer = setInterval(() => this.correct(), 250);
    }

    each(fn) { this.followers.forEach(fn); }

    // Lesson seconds now.
    get time() { return this.master.video.currentTime + this.master.offset; }

    target(f) { return this.time - f.offset; }

    // Put a follower at the master's time; play it if the master plays and it has media there.
    align(f, play) {
      const v = f.video, t = this.target(f);
      const inside = t >= 0 && (!v.duration || t < v.duration);
      f.outside = !inside;
      if (v.classList) v.classList.toggle("off-air", !inside);
      if (!inside) { v.pause(); return; }
      if (Math.abs(v.currentTime - t) > NUDGE_AT) v.currentTime = t;
      v.playbackRate = this.master.video.playbackRate;
      if (play && v.paused) {
        // Autoplay rules may refuse sound without a click: the pictures go on, the page asks.
        v.play().catch((e) => { if (f.sound && e.name === "NotAllowedError" && !f.blocked) { f.blocked = true; this.onSoundBlocked(); } });
      }
    }

    correct() {
      const m = this.master.video;
      if (m.paused || m.seeking || m.readyState < 3) return;
      this.each((f) => {
        const v = f.video, t = this.target(f);
        if (f.outside || v.paused) { if (t >= 0 && (!v.duration || t < v.duration)) this.align(f, true); return; }
        if (v.seeking) return;
        const drift = v.currentTime - t;
        f.drift = drift;
        if (Math.abs(drift) > JUMP_AT) v.currentTime = t;
        else if (Math.abs(drift) > NUDGE_AT) v.playbackRate = m.playbackRate * (drift > 0 ? 1 - NUDGE : 1 + NUDGE);
        else v.playbackRate = m.playbackRate;
      });
    }

    seek(lessonSeconds) {
      const m = this.master.video;
      const end = m.duration || Infinity;
      m.currentTime = Math.max(0, Math.min(lessonSeconds - this.master.offset, end - 0.05));
    }

    stop() { clearInterval(this.timer); }
  }

  MedRoom.SyncedViews = SyncedViews;
})();
