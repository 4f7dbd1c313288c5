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
    const span = document.createElement("span");
    span.className = "metric" + (cls || "");
    const b = document.createElement("b");
    b.textContent = text;
    span.append(b, label);
    return span;
  }
  const n = (value, digits) => i18n.formatNumber(value, { maximumFractionDigits: digits || 0, minimumFractionDigits: digits || 0 });
  const ROLES = { admin: gettext("admin"), instructor: gettext("instructor"), curator: gettext("curator"), student: gettext("student") };
  // The viewer's WebRTC connection state and network path, in words.
  const LINKS = { new: gettext("new"), connecting: gettext("connecting"), connected: gettext("connected"),
                  disconnected: gettext("disconnected"), failed: gettext("failed"), closed: gettext("closed") };
  const PATHS = { relay: gettext("via relay"), host: gettext("direct (local network)"),
                  srflx: gettext("direct (through NAT)"), prflx: gettext("direct (through NAT)") };

  function row(v) {
    const li = document.createElement("li");
    li.className = "viewer-row";
    li.dataset.viewer = v.id;
    const since = gettext("watching for %(time)s", { time: i18n.formatClock((Date.now() - Date.parse(v.joined_at)) / 1000) });
    const rtt = v.rtt_ms === null ? "–" : gettext("%(ms)s ms", { ms: n(v.rtt_ms) });
    const lossDigits = v.fraction_lost > 0 && v.fraction_lost < 0.1 ? 1 : 0;
    const loss = i18n.formatNumber(v.fraction_lost, { style: "percent", minimumFractionDigits: lossDigits, maximumFractionDigits: lossDigits });
    const connected = v.connection_state === "connected";
    li.innerHTML =
      `<div class="viewer-head"><span class="viewer-name" translate="no"></span>` +
      `<span class="role role-${v.role}"></span>` +
      `<span class="badge badge-quality"></span>` +
      `<span class="badge badge-codec"></span></div>` +
      `<div class="viewer-metrics"></div><div class="muted small viewer-link"></div>`;
    li.querySelector(".role").textContent = ROLES[v.role] || v.role;
    li.querySelector(".badge-quality").textContent = v.rendition;
    const codec = li.querySelector(".badge-codec");
    codec.textContent = v.codec === "vp8" ? "VP8" : "H.264";
    codec.title = gettext("Video codec");
    li.querySelector(".viewer-metrics").append(
      metric("RTT", rtt, level(v.rtt_ms, 150, 300)),
      metric("fps", n(v.fps), connected ? (v.fps < 15 ? " metric-bad" : v.fps < 25 ? " metric-warn" : "") : ""),
      metric(gettext("loss"), loss, level(v.fraction_lost, 0.02, 0.1)),
      metric("NACK", n(v.nacks), ""),
      metric("kbit/s", n(v.bitrate_kbps), ""));
    const link = [since, LINKS[v.connection_state] || v.connection_state];
    if (v.path) link.push(PATHS[v.path] || v.path);
    if (v.packets_lost) link.push(ngettext("%(num)s packet lost", "%(num)s packets lost", v.packets_lost));
    li.querySelector(".viewer-link").textContent = link.join(" · ");
    // A classroom's shared screen: many people behind one link, named by its classroom.
    li.querySelector(".viewer-name").textContent = v.classroom || v.subject;
    if (v.classroom) li.classList.add("viewer-classroom");
    li.title = v.remb_kbps !== null
      ? ngettext("%(who)s: %(num)s keyframe request, bandwidth estimate %(kbps)s kbit/s",
                 "%(who)s: %(num)s keyframe requests, bandwidth estimate %(kbps)s kbit/s",
                 v.keyframe_requests, { who: v.subject, kbps: n(v.remb_kbps) })
      : ngettext("%(who)s: %(num)s keyframe request", "%(who)s: %(num)s keyframe requests",
                 v.keyframe_requests, { who: v.subject });
    return li;
  }

  function render(viewers) {
    list.replaceChildren(...viewers.map(row));
    if (!viewers.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = gettext("No one is watching yet.");
      list.replaceChildren(li);
    }
  }

  async function poll() {
    try {
      render(await MedRoom.api(`/api/rooms/${roomId}/viewers`));
    } catch (error) {
      list.innerHTML = "";
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = gettext("Viewer figures unavailable: %(reason)s", { reason: error.message });
      list.appendChild(li);
    }
    setTimeout(poll, 1500);
  }
  poll();
})();
