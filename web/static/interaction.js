// The live classroom's link (chat, questions, hands, polls): one websocket per page, shared
// by the student panel (watch-interaction.js) and the console's panel (console-interaction.js).
// It remembers the last event number it saw and, when the link drops, rejoins with
// ?since=<that number>: the server sends what was missed (or a fresh snapshot when too much
// was). Everything shown from it is set as text (textContent), never as HTML.
"use strict";
(function () {
  const MedRoom = (window.MedRoom = window.MedRoom || {});

  class ClassroomLink {
    // handlers: message(msg, replayed), welcome(msg), status(state, text)
    constructor(roomId, handlers) {
      this.roomId = roomId;
      this.handlers = handlers;
      this.ws = null;
      this.seq = null;
      this.delay = 500;
      this.replaying = 0;
      this.stopped = false;
    }

    start() { this.connect(); }

    get open() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }

    send(message) {
      if (!this.open) return false;
      this.ws.send(JSON.stringify(message));
      return true;
    }

    connect() {
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      const since = this.seq === null ? "" : `?since=${this.seq}`;
      const ws = (this.ws = new WebSocket(`${scheme}//${window.location.host}/api/rooms/${this.roomId}/interaction${since}`));
      this.handlers.status(this.seq === null ? "connecting" : "reconnecting", "");
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (typeof message.seq === "number" && message.type !== "welcome") {
          this.seq = Math.max(this.seq || 0, message.seq);
        }
        if (message.type === "error" && message.code === "rate_limited" && message.reason) {
          rateReasons.set(message.message, message.reason);
          if (rateReasons.size > 20) rateReasons.delete(rateReasons.keys().next().value);
        }
        if (message.type === "welcome") {
          this.delay = 500;
          this.replaying = message.resumed ? message.missed : 0;
          if (!message.resumed) this.seq = message.seq;
          this.handlers.status("open", "");
          this.handlers.welcome(message);
          return;
        }
        if (message.type === "snapshot") this.seq = message.seq;
        const replayed = this.replaying > 0;
        if (replayed) this.replaying -= 1;
        this.handlers.message(message, replayed);
      };
      ws.onclose = (event) => {
        if (this.ws !== ws) return;
        this.ws = null;
        if (this.stopped) return;
        if (event.code === 4401) { // logged out: log in again
          window.location = "/login?next=" + encodeURIComponent(window.location.pathname);
          return;
        }
        if (event.code === 4403 || event.code === 4404) {
          // The close frame's reason is English and short: the page says it in its language.
          if (event.reason) console.warn("classroom refused:", event.reason);
          this.handlers.status("refused", event.code === 4404 ? gettext("This room does not exist any more.")
            : gettext("You may not join this room's classroom."));
          return;
        }
        let wait = this.delay;
        if (event.code === 4409 || event.code === 4410) {
          // Not live (yet, or any more): a new session starts a new conversation.
          this.seq = null;
          wait = 3000;
          this.handlers.status("waiting", event.code === 4410 ? gettext("The session has ended.") : gettext("The classroom opens when the session goes live."));
        } else {
          if (event.reason) console.warn("classroom closed:", event.code, event.reason);
          this.handlers.status("down", event.code === 4429 ? gettext("Too many refused messages: the classroom rejoins in a moment.") : "");
          this.delay = Math.min(10000, this.delay * 2);
        }
        setTimeout(() => this.connect(), wait);
      };
    }

    stop() {
      this.stopped = true;
      if (this.ws) this.ws.close();
    }
  }

  // Small helpers for the panels: build elements with text only.
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // A time of day in the page's language and the viewer's zone ("14:05", "2:05 PM").
  function clock(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : i18n.formatTime(date);
  }

  // A rate limit's "message" (reason and wait in one sentence, in the socket's language) ->
  // its reason alone, so a notice can count the wait down in the page's own words.
  const rateReasons = new Map();

  // A refusal shown where the person is typing; a rate limit counts down and re-enables.
  class Notice {
    constructor(node, buttons) {
      this.node = node;
      this.buttons = buttons;
      this.timer = null;
    }

    show(text, kind, seconds) {
      clearInterval(this.timer);
      clearTimeout(this.timer);
      this.node.hidden = false;
      this.node.className = "cls-notice cls-notice-" + (kind || "info");
      if (!seconds) {
        this.node.textContent = text;
        this.buttons.forEach((b) => (b.disabled = false));
        if (kind === "info") this.timer = setTimeout(() => this.hide(), 8000); // news fades
        return;
      }
      const until = Date.now() + seconds * 1000;
      const reason = rateReasons.get(text) || text;
      const paint = () => {
        const left = Math.ceil((until - Date.now()) / 1000);
        if (left <= 0) { this.hide(); return; }
        this.node.textContent = gettext("%(reason)s You can send again in %(seconds)s s.", { reason, seconds: i18n.formatNumber(left) });
      };
      this.buttons.forEach((b) => (b.disabled = true));
      paint();
      this.timer = setInterval(paint, 250);
    }

    hide() {
      clearInterval(this.timer);
      clearTimeout(this.timer);
      this.node.hidden = true;
      this.buttons.forEach((b) => (b.disabled = false));
    }
  }

  // What the page knows of the classroom, kept up to date from the link's messages. apply()
  // returns what changed ("chat", "questions", "hands", "polls", "speaking") so the panel
  // redraws only that.
  class ClassroomState {
    constructor() {
      this.me = null;
      this.chat = [];
      this.questions = new Map();
      this.voted = new Set();
      this.hands = { count: 0, speaker: null, position: null, queue: [] };
      this.polls = new Map();
      this.speaking = null;
    }

    apply(message) {
      switch (message.type) {
        case "snapshot":
          this.chat = message.chat.slice();
          this.questions = new Map(message.questions.map((q) => [q.id, q]));
          this.voted = new Set(message.voted);
          this.hands = message.hands;
          this.polls = new Map(message.polls.map((p) => [p.id, { ...p, received: Date.now() }]));
          this.speaking = message.speaking;
          return "all";
        case "chat":
          this.chat.push(message.message);
          if (this.chat.length > 200) this.chat.shift();
          return "chat";
        case "chat.deleted":
          this.chat = this.chat.filter((m) => m.id !== message.id);
          return "chat";
        case "question": {
          const known = this.questions.get(message.question.id);
          // The server marks "mine" only on the asker's own copy: keep it across updates.
          const mine = message.question.mine || (known && known.mine);
          this.questions.set(message.question.id, { ...message.question, mine });
          return "questions";
        }
        case "question.removed":
          this.questions.delete(message.id);
          return "questions";
        case "hands":
          this.hands = message;
          return "hands";
        case "poll": {
          const known = this.polls.get(message.poll.id);
          this.polls.set(message.poll.id, { ...message.poll, mine: known ? known.mine : null, received: Date.now() });
          return "polls";
        }
        case "poll.answered": {
          const poll = this.polls.get(message.id);
          if (poll) poll.mine = message.option;
          return "polls";
        }
        case "speaking":
          this.speaking = message.speaking ? message : null;
          return "speaking";
        default:
          return null;
      }
    }
  }

  MedRoom.ClassroomLink = ClassroomLink;
  MedRoom.ClassroomState = ClassroomState;
  MedRoom.classroom = { el, clock, Notice };
})();
