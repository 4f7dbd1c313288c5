// Talkback: the student whose hand the instructor accepted speaks to the room.
//
// MedRoom.startTalkback(grant) asks for the microphone (and the camera only when the grant
// allows it) with the browser's echo cancellation, noise suppression and gain control on (a
// lecture hall's loudspeakers must not come back through its microphone), publishes it by
// WHIP with the grant's own token, and shows "You are speaking" with a stop button.
// grant = what GET /api/rooms/{room}/talkback/grant answers:
//   { id, room_id, user_id, allow_camera, expires_at, token, whip_url }
// (MedRoom.fetchTalkbackGrant(roomId) fetches it). It resolves to { ok: true } once the room
// hears the student, or { ok: false, error: "<DOMException name or HTTP status>" } with the
// reason shown in the page. MedRoom.stopTalkback() ends it (the student's stop button does the
// same: DELETE on the WHIP session URL). When the instructor ends it, the server closes the
// connection; the page notices that (or its grant being gone) and ends cleanly.
// Each change is told as a "medroom:talkback" event on document: detail { state, message }.
"use strict";
(function () {
  const MedRoom = (window.MedRoom = window.MedRoom || {});
  const $ = (id) => document.getElementById(id);
  let current = null;

  const WHY = {
    NotAllowedError: gettext("The microphone is blocked for this page. Allow it in your browser (the microphone or lock icon next to the address), then raise your hand again."),
    SecurityError: gettext("The browser does not allow the microphone on this page. Allow it in your browser's site settings, then raise your hand again."),
    NotFoundError: gettext("No microphone was found. Connect one (or switch it on in the system's sound settings), then raise your hand again."),
    OverconstrainedError: gettext("No microphone was found that can be used. Connect one, then raise your hand again."),
    NotReadableError: gettext("The microphone could not be opened: another program may be using it. Close that program, then raise your hand again."),
    NotSupportedError: gettext("This browser cannot use a microphone here. Use a current Chrome, Edge, Firefox or Safari."),
  };

  let shownCount = 0;  // which message is on screen: a timer clears only its own
  // Hide an ended turn's message after a while, unless something newer (another turn, its
  // end) has been shown since: an earlier turn's timer must not clear a later turn's message.
  function clearLater(ms) {
    const mine = shownCount;  // the message just shown
    setTimeout(() => { if (!current && shownCount === mine) show("idle", ""); }, ms);
  }

  function show(state, title, detail) {
    shownCount += 1;
    const box = $("talkback");
    if (box) {
      box.hidden = state === "idle";
      box.dataset.state = state;
      $("talkback-title").textContent = title;
      $("talkback-detail").textContent = detail || "";
      $("talkback-stop").hidden = !(state === "speaking" || state === "connecting");
    }
    document.dispatchEvent(new CustomEvent("medroom:talkback",
      { detail: { state, message: detail || title } }));
  }

  // Why the WHIP publish failed, for the person, from its status (the server's detail goes to
  // the developer console: talkback's errors are written for the console's operators).
  function refusal(error) {
    if (error.detail) console.warn("talkback refused:", error.detail);
    const status = Number(error.name);
    if (status === 401 || status === 403 || status === 404) return gettext("Your turn to speak is no longer valid: raise your hand again.");
    if (status >= 500) return gettext("The server could not connect your microphone. Raise your hand again in a moment.");
    return gettext("Your microphone could not be connected. Raise your hand again.");
  }

  MedRoom.fetchTalkbackGrant = (roomId) => MedRoom.api(`/api/rooms/${roomId}/talkback/grant`);

  async function openMicrophone(allowCamera) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const error = new Error("no getUserMedia");
      error.name = "NotSupportedError";
      throw error;
    }
    const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    if (allowCamera) {
      try {
        return await navigator.mediaDevices.getUserMedia(
          { audio, video: { width: { ideal: 640 }, height: { ideal: 360 } } });
      } catch (error) {
        // No camera (or it is busy) still lets the student speak; a refusal does not.
        if (error.name === "NotAllowedError" || error.name === "SecurityError") throw error;
      }
    }
    return navigator.mediaDevices.getUserMedia({ audio, video: false });
  }

  function gathered(pc, timeout) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
      const check = () => pc.iceGatheringState === "complete" && done();
      pc.addEventListener("icegatheringstatechange", check);
      setTimeout(done, timeout);
    });
  }

  async function iceServers(roomId) {
    try { return await MedRoom.api(`/api/rooms/${roomId}/ice-servers`); } catch (e) { return []; }
  }

  // The student's own level: a meter fed by WebAudio, so they see the room can hear them.
  function meter(session) {
    const bar = $("talkback-level");
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!bar || !Context) return;
    const context = new Context();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(session.stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    session.context = context;
    session.meterTimer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const db = 20 * Math.log10(Math.sqrt(sum / samples.length) || 1e-6);
      const level = Math.max(0, Math.min(1, (db + 60) / 60));
      bar.style.setProperty("--level", String(level));
      bar.dataset.db = db.toFixed(1);
    }, 100);
  }

  function release(session) {
    clearInterval(session.meterTimer);
    clearInterval(session.grantTimer);
    if (session.context) session.context.close().catch(() => {});
    if (session.stream) session.stream.getTracks().forEach((t) => t.stop());
    if (session.pc) {
      session.pc.onconnectionstatechange = null;
      session.pc.close();
    }
    const bar = $("talkback-level");
    if (bar) bar.style.setProperty("--level", "0");
  }

  // The server ended it (the instructor, or the connection): clean up and say so.
  function ended(session, detail) {
    if (session.over) return;
    session.over = true;
    release(session);
    if (current === session) current = null;
    show("ended", gettext("Your turn to speak has ended"), detail);
    clearLater(6000);
  }

  MedRoom.startTalkback = async function (grant) {
    if (current) await MedRoom.stopTalkback();
    const session = { grant, stream: null, pc: null, location: null, over: false };
    current = session;
    show("asking", gettext("Allow the microphone to speak"), grant.allow_camera
      ? gettext("Your browser asks for the microphone and the camera.") : gettext("Your browser asks for the microphone."));
    try {
      session.stream = await openMicrophone(grant.allow_camera);
    } catch (error) {
      const name = error.name || "Error";
      release(session);
      if (current === session) current = null;
      session.over = true;
      show("refused", gettext("The room cannot hear you"), WHY[name] ||
        gettext("The microphone could not be used (%(error)s).", { error: error.message || name }));
      return { ok: false, error: name };
    }
    if (session.over) { release(session); return { ok: false, error: "stopped" }; }
    show("connecting", gettext("Connecting your microphone…"), gettext("The room will hear you in a moment."));
    const pc = new RTCPeerConnection({ iceServers: await iceServers(grant.room_id) });
    session.pc = pc;
    for (const track of session.stream.getTracks()) {
      pc.addTransceiver(track, { direction: "sendonly", streams: [session.stream] });
    }
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected" && !session.over) {
        show("speaking", gettext("You are speaking"),
          gettext("The room hears you. Your own voice is left out of the sound you hear."));
      } else if (pc.connectionState === "failed" || pc.connectionState === "closed") {
        ended(session, gettext("The connection closed."));
      }
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, 2000);
      const response = await fetch(grant.whip_url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + grant.token },
        body: pc.localDescription.sdp,
      });
      if (response.status !== 201) {
        let detail = null;
        try { detail = (await response.json()).detail; } catch (e) { /* not JSON */ }
        const error = new Error(detail || response.statusText);
        error.detail = typeof detail === "string" ? detail : null;
        error.name = String(response.status);
        throw error;
      }
      session.location = response.headers.get("Location");
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    } catch (error) {
      session.over = true;
      release(session);
      if (current === session) current = null;
      show("refused", gettext("The room cannot hear you"), refusal(error));
      return { ok: false, error: error.name || "Error" };
    }
    meter(session);
    // The instructor's end closes the connection; a grant that is gone says so too.
    session.grantTimer = setInterval(async () => {
      try { await MedRoom.fetchTalkbackGrant(grant.room_id); } catch (error) {
        if (error.status === 404) ended(session, gettext("The instructor ended your turn."));
      }
    }, 3000);
    return { ok: true };
  };

  // The instructor ended the turn (the classroom says so before the connection closes).
  MedRoom.endTalkback = function (detail) {
    if (current) ended(current, detail || gettext("The instructor ended your turn."));
  };

  MedRoom.stopTalkback = async function () {
    const session = current;
    if (!session) return;
    current = null;
    session.over = true;
    if (session.location) {
      await fetch(session.location, { method: "DELETE", keepalive: true }).catch(() => {});
    }
    release(session);
    show("ended", gettext("You stopped speaking"), gettext("Raise your hand again to speak."));
    clearLater(4000);
  };

  document.addEventListener("DOMContentLoaded", () => {
    const stop = $("talkback-stop");
    if (stop) stop.addEventListener("click", () => MedRoom.stopTalkback());
  });
  if (document.readyState !== "loading") {
    const stop = $("talkback-stop");
    if (stop) stop.addEventListener("click", () => MedRoom.stopTalkback());
  }
  window.addEventListener("pagehide", () => {
    if (current && current.location) fetch(current.location, { method: "DELETE", keepalive: true }).catch(() => {});
  });
})();
