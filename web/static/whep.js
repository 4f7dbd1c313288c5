// MedRoom's WHEP player: one peer connection that receives the room's program.
// It asks the page's session for a short-lived bearer token, offers H.264, waits for the room
// to be live, and rejoins by itself when the network drops.
"use strict";

const MedRoom = (window.MedRoom = window.MedRoom || {});

MedRoom.csrf = () => document.querySelector('meta[name="csrf-token"]').content;

MedRoom.api = async function (path, options = {}) {
  const headers = Object.assign({ "X-CSRF-Token": MedRoom.csrf() }, options.headers || {});
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options, { headers }));
  if (response.status === 401) {
    window.location = "/login?next=" + encodeURIComponent(window.location.pathname);
    throw new Error("not logged in");
  }
  let body = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("application/json")) body = await response.json();
  if (!response.ok) {
    const error = new Error((body && body.detail) || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
};

class WhepPlayer {
  // options.views: multi-view, what each video line carries ("program" or source ids);
  // options.onTrack(index, stream) then receives each line's stream (index in views).
  // options.overlay: live drawing over the program (overlay.js), on a data channel of the same
  // connection; a third-party player without it simply sees no drawing.
  constructor(roomId, video, onState, options) {
    this.roomId = roomId;
    this.video = video;
    this.onState = onState || (() => {});
    this.views = (options && options.views) || null;
    this.onTrack = (options && options.onTrack) || null;
    // options.audio: an <audio> element for the program sound (none: video only).
    this.audio = (options && options.audio) || null;
    // options.sound: what that audio plays ("talkback": the speakers alone, for the console).
    this.sound = (options && options.sound) || null;
    // options.overlay: a MedRoom.LiveOverlay; its data channel rides this connection.
    this.overlay = (options && options.overlay) || null;
    // A classroom screen joins with its device cookie instead of a person's token:
    // options.joinUrl, options.joinHeaders and options.iceServers (it has no session to ask).
    this.joinUrl = (options && options.joinUrl) || null;
    this.joinHeaders = (options && options.joinHeaders) || {};
    if (options && options.iceServers) this.iceServers = options.iceServers;
    this.pc = null;
    this.location = null;
    this.token = null;
    this.iceServers = null;
    this.stopped = true;
    this.retryDelay = 1000;
    this.retryTimer = null;
    this.state = "idle";
  }

  setState(state, detail) {
    this.state = state;
    this.onState(state, detail || "");
  }

  async getToken() {
    if (!this.token) {
      const body = await MedRoom.api(`/api/rooms/${this.roomId}/token`, { method: "POST" });
      this.token = body.token;
    }
    return this.token;
  }

  // The deployment's STUN/TURN servers (the same as the WHEP answer's Link headers), asked
  // for before the offer so that a browser behind a NAT gathers relay candidates.
  async getIceServers() {
    if (!this.iceServers) {
      try { this.iceServers = await MedRoom.api(`/api/rooms/${this.roomId}/ice-servers`); }
      catch (error) { return []; }  // host candidates still work on the hospital network
    }
    return this.iceServers;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  async connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    this.teardown(false);
    this.setState("connecting");
    const iceServers = await this.getIceServers();
    if (this.stopped) return;
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    const caps = window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities && RTCRtpReceiver.getCapabilities("video");
    const lines = [];
    for (let i = 0; i < (this.views ? this.views.length : 1); i++) {
      const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
      if (caps && transceiver.setCodecPreferences) {
        const h264 = caps.codecs.filter((c) => /h264|rtx/i.test(c.mimeType));
        if (h264.some((c) => /h264/i.test(c.mimeType))) transceiver.setCodecPreferences(h264);
      }
      lines.push(transceiver);
    }
    if (this.audio) pc.addTransceiver("audio", { direction: "recvonly" });
    if (this.overlay) this.overlay.attach(pc);
    pc.ontrack = (event) => {
      const stream = new MediaStream([event.track]);
      if (event.track.kind === "audio") {
        if (this.audio) { this.audio.srcObject = stream; this.audio.play().catch(() => {}); }
        return;
      }
      const index = lines.indexOf(event.transceiver);
      if (this.onTrack) { this.onTrack(index, stream); return; }
      this.video.srcObject = event.streams[0] || stream;
      this.video.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const s = pc.connectionState;
      if (s === "connected") {
        this.retryDelay = 1000;
        this.setState("live");
      } else if (s === "disconnected") {
        this.setState("reconnecting", "connection interrupted");
        // Give ICE a moment to recover on its own before starting over.
        this.retryTimer = setTimeout(() => pc.connectionState !== "connected" && this.retry("lost"), 3000);
      } else if (s === "failed" || s === "closed") {
        this.retry("connection " + s);
      }
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await this.gathered(pc, 2000);
      const headers = Object.assign({ "Content-Type": "application/sdp" }, this.joinHeaders);
      if (!this.joinUrl) headers.Authorization = "Bearer " + (await this.getToken());
      const params = new URLSearchParams();
      if (this.views) params.set("views", this.views.join(","));
      if (this.sound) params.set("sound", this.sound);
      const query = params.toString() ? "?" + params.toString() : "";
      const response = await fetch(this.joinUrl || `/api/rooms/${this.roomId}/whep${query}`, {
        method: "POST", headers, body: pc.localDescription.sdp,
      });
      if (response.status === 401) { this.token = null; throw new Error("token refused"); }
      if (response.status === 409) {
        this.teardown(false);
        this.setState("waiting", gettext("The session has not started yet."));
        this.retryTimer = setTimeout(() => this.connect(), 2000);
        return;
      }
      if (response.status !== 201) {
        let detail = response.statusText;
        try { detail = (await response.json()).detail; } catch (e) {}
        throw new Error(detail);
      }
      this.location = response.headers.get("Location");
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    } catch (error) {
      if (pc === this.pc) this.retry(error.message || String(error));
    }
  }

  gathered(pc, timeout) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
      const check = () => pc.iceGatheringState === "complete" && done();
      pc.addEventListener("icegatheringstatechange", check);
      setTimeout(done, timeout);
    });
  }

  retry(reason) {
    if (this.stopped) return;
    this.teardown(true);
    this.setState("reconnecting", reason);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 8000);
  }

  teardown(leave) {
    if (this.location && leave !== false) this.leave();
    this.location = null;
    if (this.pc) {
      const pc = this.pc;
      this.pc = null;
      pc.ontrack = pc.onconnectionstatechange = null;
      pc.close();
    }
  }

  leave() {
    if (!this.location || (!this.token && !this.joinUrl)) return;
    // The session URL is the capability; a person's player sends its token along.
    const headers = this.token ? { Authorization: "Bearer " + this.token } : {};
    fetch(this.location, { method: "DELETE", keepalive: true, headers }).catch(() => {});
    this.location = null;
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.leave();
    this.teardown(true);
    this.video.srcObject = null;
    if (this.audio) this.audio.srcObject = null;
    this.setState("idle");
  }
}

MedRoom.WhepPlayer = WhepPlayer;

// A length or a position as a clock, "1:02:03" (i18n.js's formatClock where the page has it).
MedRoom.formatDuration = function (seconds) {
  if (window.i18n) return window.i18n.formatClock(seconds);
  seconds = Math.max(0, Math.floor(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return (h ? h + ":" : "") + String(m).padStart(h ? 2 : 1, "0") + ":" + String(s).padStart(2, "0");
};
