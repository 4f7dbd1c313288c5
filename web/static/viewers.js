// Console viewers panel: who is watching and how well (RTT, frame rate, loss, NACKs, quality).
// The server samples each viewer's link once a second; this panel asks for the figures every
// 1.5 s while the console is open.
"use strict";
(function () {
  const root = document.querySelector(".console");
  if (!root) return;
  const roomId = root.dataset.room;
  const list = document.getElementById("viewer-list");

  // A figure turns amber or red when a viewer will notice: late talk-back, stutter, losses.
  function level(value, warn, bad) {
    if (value === null || value === undefined) return "";
    return value >= bad ? " metric-bad" : value >= warn ? " metric-warn" : "";
  }

  function metric(label, text, cls) {
    return `<span class="metric${cls || ""}"><b>${text}</b>${label}</span>`;
  }

  function row(v) {
    const li = document.createElement("li");
    li.className = "viewer-row";
    li.dataset.viewer = v.id;
    const since = MedRoom.formatDuration((Date.now() - Date.parse(v.joined_at)) / 1000);
    const rtt = v.rtt_ms === null ? "–" : Math.round(v.rtt_ms) + " ms";
    const loss = (v.fraction_lost * 100).toFixed(v.fraction_lost > 0 && v.fraction_lost < 0.1 ? 1 : 0) + " %";
    const connected = v.connection_state === "connected";
    li.innerHTML =
      `<div class="viewer-head"><span class="viewer-name"></span>` +
      `<span class="role role-${v.role}">${v.role}</span>` +
      `<span class="badge badge-quality">${v.rendition}</span>` +
      `<span class="badge badge-codec" title="video codec">${v.codec === "vp8" ? "VP8" : "H.264"}</span></div>` +
      `<div class="viewer-metrics">` +
      metric("RTT", rtt, level(v.rtt_ms, 150, 300)) +
      metric("fps", v.fps.toFixed(0), connected ? (v.fps < 15 ? " metric-bad" : v.fps < 25 ? " metric-warn" : "") : "") +
      metric("loss", loss, level(v.fraction_lost, 0.02, 0.1)) +
      metric("NACK", String(v.nacks), "") +
      metric("kbit/s", v.bitrate_kbps.toFixed(0), "") +
      `</div>` +
      `<div class="muted small">${since} · ${v.connection_state}${v.path ? " · " + v.path : ""}` +
      `${v.packets_lost ? " · " + v.packets_lost + " packets lost" : ""}</div>`;
    // A classroom's shared screen: many people behind one link, named by its classroom.
    li.querySelector(".viewer-name").textContent = v.classroom || v.subject;
    if (v.classroom) li.classList.add("viewer-classroom");
    li.title = `${v.subject}: ${v.keyframe_requests} keyframe requests` +
      (v.remb_kbps !== null ? `, bandwidth estimate ${Math.round(v.remb_kbps)} kbit/s` : "");
    return li;
  }

  function render(viewers) {
    list.replaceChildren(...viewers.map(row));
    if (!viewers.length) list.innerHTML = '<li class="muted">No one is watching yet.</li>';
  }

  async function poll() {
    try {
      render(await MedRoom.api(`/api/rooms/${roomId}/viewers`));
    } catch (error) {
      list.innerHTML = "";
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "Viewer figures unavailable: " + error.message;
      list.appendChild(li);
    }
    setTimeout(poll, 1500);
  }
  poll();
})();
