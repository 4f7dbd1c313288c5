// The console's live link to the room: a websocket that receives the room's state whenever it
// changes, and carries the PTZ pad's moves. It reconnects by itself with a growing pause
// (0.5 s doubling up to 10 s) and shows a "reconnecting" bar while the link is down, so the
// instructor never mistakes a stale console for a quiet room.
"use strict";
(function () {
  const MedRoom = (window.MedRoom = window.MedRoom || {});

  class RoomSocket {
    constructor(roomId, banner) {
      this.roomId = roomId;
      this.banner = banner;
      this.ws = null;
      this.delay = 500;
      this.retryAt = 0;
      this.countdown = null;
    }

    start() { this.connect(); }

    get open() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }

    // Send a message when connected; false when not (the caller falls back to the REST API).
    send(message) {
      if (!this.open) return false;
      this.ws.send(JSON.stringify(message));
      return true;
    }

    connect() {
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      const ws = (this.ws = new WebSocket(`${scheme}//${window.location.host}/api/rooms/${this.roomId}/events`));
      ws.onopen = () => { this.delay = 500; this.showBanner(null); };
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "state") document.dispatchEvent(new CustomEvent("medroom:state", { detail: message }));
        else if (message.type === "error") document.dispatchEvent(new CustomEvent("medroom:error", { detail: message }));
      };
      ws.onclose = (event) => {
        if (this.ws !== ws) return;
        this.ws = null;
        if (event.code === 4401) { // the session ended: log in again
          window.location = "/login?next=" + encodeURIComponent(window.location.pathname);
          return;
        }
        document.dispatchEvent(new CustomEvent("medroom:disconnected"));
        const why = event.code === 4403 || event.code === 4404 ? event.reason : "";
        this.retryAt = Date.now() + this.delay;
        this.showBanner(why);
        setTimeout(() => this.connect(), this.delay);
        this.delay = Math.min(10000, this.delay * 2);
      };
    }

    showBanner(why) {
      clearInterval(this.countdown);
      // What the console shows is stale while the link is down: it is dimmed until it is back.
      document.body.classList.toggle("link-down", why !== null);
      if (why === null) { this.banner.hidden = true; return; }
      const paint = () => {
        const seconds = Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000));
        const lost = seconds > 0
          ? ngettext("Connection to the room lost · reconnecting in %(num)s second…",
                     "Connection to the room lost · reconnecting in %(num)s seconds…", seconds)
          : gettext("Connection to the room lost · reconnecting…");
        this.banner.textContent = why ? gettext("%(reason)s · %(status)s", { reason: why, status: lost }) : lost;
      };
      paint();
      this.banner.hidden = false;
      this.countdown = setInterval(paint, 500);
    }
  }

  MedRoom.RoomSocket = RoomSocket;
})();
