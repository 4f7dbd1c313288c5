// The console's classroom panel: the question queue with votes (approve, answer live, mark
// answered, dismiss), the hand queue (accept, end), polls (ask, close, show results), chat
// with delete, and who is speaking. Keyboard first: Q questions, A accept the next hand,
// E end the speaker, O a new poll, T chat. The speaker change is also announced as a
// "medroom:speaker" DOM event (for the talkback panel).
"use strict";
(function () {
  const panel = document.getElementById("console-classroom");
  if (!panel) return;
  const roomId = document.querySelector(".console").dataset.room;
  const { el, clock, Notice } = MedRoom.classroom;
  const $ = (id) => document.getElementById(id);
  const state = new MedRoom.ClassroomState();
  const notice = new Notice($("cls-notice"), [$("chat-form").querySelector("button")]);

  const link = new MedRoom.ClassroomLink(roomId, {
    status(kind, text) {
      const labels = { connecting: gettext("Connecting…"), reconnecting: gettext("Reconnecting…"),
                       open: gettext("Open to the room"), down: gettext("Connection lost · reconnecting…"),
                       waiting: gettext("Opens when you go live"), refused: text };
      $("cls-status").textContent = labels[kind] || kind;
      $("cls-status").className = "cls-status cls-status-" + kind;
      panel.dataset.link = kind;
    },
    welcome(message) {
      state.me = message.you;
      if (message.resumed && message.missed > 0) notice.show(ngettext("Back online: %(num)s update caught up.", "Back online: %(num)s updates caught up.", message.missed), "info");
    },
    message(message) {
      if (message.type === "error") {
        notice.show(message.message, message.code === "rate_limited" ? "warn" : "error",
                    message.code === "rate_limited" ? message.retry_after : 0);
        return;
      }
      render(state.apply(message));
    },
  });

  function send(message) {
    if (!link.send(message)) { notice.show(gettext("The classroom is not connected: go live first."), "error"); return false; }
    return true;
  }

  function button(text, className, onClick, label) {
    const b = el("button", "btn btn-small " + (className || ""), text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  // -- questions ------------------------------------------------------------------------------
  const order = { answering: 0, pending: 1, approved: 2, answered: 3, dismissed: 4 };
  const APPROVE = gettext("Approve"), ANSWER_LIVE = gettext("Answer live"), DISMISS = gettext("Dismiss"),
    ANSWERED = gettext("Answered"), BACK = gettext("Back to queue"), AGAIN = gettext("Answer again"),
    RESTORE = gettext("Restore");
  const actions = {
    pending: [[APPROVE, "approved"], [ANSWER_LIVE, "answering"], [DISMISS, "dismissed"]],
    approved: [[ANSWER_LIVE, "answering"], [ANSWERED, "answered"], [DISMISS, "dismissed"]],
    answering: [[ANSWERED, "answered"], [BACK, "approved"], [DISMISS, "dismissed"]],
    answered: [[AGAIN, "answering"]],
    dismissed: [[RESTORE, "approved"]],
  };
  // A question's place in the queue, as the instructor reads it.
  const STATUS = { pending: gettext("waiting for approval"), approved: gettext("approved"),
                   answering: gettext("being answered"), answered: gettext("answered"), dismissed: gettext("dismissed") };

  function questionItem(q) {
    const li = el("li", `cls-q cls-q-${q.status}`);
    li.dataset.id = q.id;
    li.append(el("span", "cls-vote", "▲ " + i18n.formatNumber(q.votes)));
    const body = el("div", "cls-q-body");
    const head = el("div", "cls-msg-head");
    head.append(el("span", "cls-author", q.author ? q.author.name : "?"));
    if (q.anonymous) head.append(el("span", "cls-tag", gettext("anonymous")));
    head.append(el("time", "cls-time", clock(q.at)));
    body.append(head, el("p", "cls-text", q.text), el("span", "cls-q-status", STATUS[q.status] || q.status));
    const row = el("div", "cls-mod-actions");
    actions[q.status].forEach(([text, status]) => row.append(button(text, status === "dismissed" ? "btn-ghost" : "",
      () => send({ type: "question.status", id: q.id, status }),
      gettext("%(action)s: %(question)s", { action: text, question: q.text.slice(0, 60) }))));
    body.append(row);
    li.append(body);
    return li;
  }

  function renderQuestions() {
    const focused = document.activeElement && document.activeElement.closest("#mod-questions li");
    const focusedId = focused ? focused.dataset.id : null;
    const items = [...state.questions.values()].sort((a, b) =>
      order[a.status] - order[b.status] || b.votes - a.votes || a.at.localeCompare(b.at));
    $("mod-questions").replaceChildren(...(items.length ? items.map(questionItem)
      : [el("li", "cls-empty muted", gettext("No questions yet."))]));
    const waiting = items.filter((q) => q.status === "pending").length;
    $("q-count").hidden = waiting === 0;
    $("q-count").textContent = waiting;
    if (focusedId) { // keep the keyboard where it was
      const again = $("mod-questions").querySelector(`li[data-id="${CSS.escape(focusedId)}"] button`);
      if (again) again.focus();
    }
  }

  // -- hands and the speaker -------------------------------------------------------------------
  function renderHands() {
    const h = state.hands;
    const queue = h.queue || [];
    $("mod-hands").replaceChildren(...(queue.length ? queue.map((hand, i) => {
      const li = el("li", "cls-hand");
      li.dataset.key = hand.key;
      const acts = el("div", "cls-mod-actions");
      acts.append(button(gettext("Accept"), "btn-primary", () => send({ type: "hand.accept", key: hand.key }),
                         gettext("Accept %(name)s", { name: hand.name })),
                  button(gettext("Lower"), "btn-ghost", () => send({ type: "hand.lower", key: hand.key }),
                         gettext("Lower the hand of %(name)s", { name: hand.name })));
      li.append(el("span", "cls-hand-place", i18n.formatNumber(i + 1)), el("span", "cls-author", hand.name),
                el("time", "cls-time", clock(hand.since)), acts);
      return li;
    }) : [el("li", "cls-empty muted", gettext("No hands raised."))]));
    $("hand-count").hidden = queue.length === 0;
    $("hand-count").textContent = queue.length;
    $("cls-accept-next").disabled = queue.length === 0;
    const speaker = h.speaker;
    $("cls-speaker").textContent = speaker ? gettext("%(name)s is speaking", { name: speaker.name }) : gettext("No one is speaking");
    $("cls-speaker").className = "cls-speaker-line" + (speaker ? " cls-speaking" : "");
    $("cls-end-speaker").hidden = !speaker;
    document.dispatchEvent(new CustomEvent("medroom:speaker", { detail: { speaker } }));
  }

  function acceptNext() {
    const first = (state.hands.queue || [])[0];
    if (first) send({ type: "hand.accept", key: first.key });
  }
  $("cls-accept-next").addEventListener("click", acceptNext);
  $("cls-end-speaker").addEventListener("click", () => send({ type: "hand.end" }));

  // -- polls ---------------------------------------------------------------------------------
  $("poll-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const options = $("poll-options").value.split("\n").map((o) => o.trim()).filter(Boolean);
    const message = { type: "poll", question: $("poll-question").value.trim(), options,
                      seconds: Number($("poll-seconds").value), presence_check: $("poll-presence").checked };
    if (send(message)) { $("poll-question").value = ""; $("poll-options").value = ""; $("poll-presence").checked = false; }
  });

  function pollItem(p) {
    const li = el("li", "cls-poll" + (p.presence_check ? " cls-poll-presence" : ""));
    li.dataset.id = p.id;
    const head = el("div", "cls-poll-head");
    head.append(el("span", "cls-tag", p.presence_check ? gettext("Presence check") : gettext("Poll")));
    const time = el("span", "cls-poll-time");
    head.append(time);
    li.append(head, el("p", "cls-poll-q", p.question));
    const counts = p.counts || p.options.map(() => 0);
    const total = counts.reduce((a, b) => a + b, 0);
    const options = el("div", "cls-poll-options");
    p.options.forEach((text, i) => {
      const row = el("div", "cls-result");
      const share = total ? Math.round((100 * counts[i]) / total) : 0;
      const bar = el("span", "cls-bar");
      bar.style.width = share + "%";
      row.append(bar, el("span", "cls-result-text", text), el("span", "cls-result-n",
        gettext("%(count)s · %(share)s", { count: i18n.formatNumber(counts[i]), share: i18n.formatNumber(share / 100, { style: "percent" }) })));
      options.append(row);
    });
    li.append(options);
    const row = el("div", "cls-mod-actions");
    row.append(el("span", "muted small", ngettext("%(num)s answered", "%(num)s answered", p.answered || 0)));
    if (p.open) row.append(button(gettext("Close"), "", () => send({ type: "poll.close", id: p.id })));
    if (!p.shown) row.append(button(gettext("Show results"), "", () => send({ type: "poll.show", id: p.id })));
    else row.append(el("span", "muted small", gettext("· results shown to all")));
    li.append(row);
    return li;
  }

  function renderPolls() {
    const items = [...state.polls.values()].reverse();
    $("mod-polls").replaceChildren(...items.map(pollItem));
    tickPolls();
  }

  function tickPolls() {
    document.querySelectorAll("#mod-polls .cls-poll").forEach((card) => {
      const poll = state.polls.get(card.dataset.id);
      const span = card.querySelector(".cls-poll-time");
      if (!poll) return;
      if (!poll.open) { span.textContent = gettext("closed"); return; }
      const left = Math.max(0, Math.ceil(poll.remaining - (Date.now() - poll.received) / 1000));
      span.textContent = left > 0 ? ngettext("%(num)s second left", "%(num)s seconds left", left) : gettext("closing…");
    });
  }
  setInterval(tickPolls, 500);

  // -- chat ----------------------------------------------------------------------------------
  function chatItem(m) {
    const li = el("li", "cls-msg" + (m.moderator ? " cls-msg-mod" : ""));
    li.dataset.id = m.id;
    const head = el("div", "cls-msg-head");
    head.append(el("span", "cls-author", m.author.name), el("time", "cls-time", clock(m.at)));
    const del = el("button", "cls-del", gettext("Delete"));
    del.type = "button";
    del.setAttribute("aria-label", gettext("Delete the message of %(name)s", { name: m.author.name }));
    del.addEventListener("click", () => send({ type: "chat.delete", id: m.id }));
    head.append(del);
    li.append(head, el("p", "cls-text", m.text));
    return li;
  }

  function renderChat() {
    const list = $("chat-list");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren(...(state.chat.length ? state.chat.map(chatItem)
      : [el("li", "cls-empty muted", gettext("No messages yet."))]));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("chat-input").value.trim();
    if (text && send({ type: "chat", text })) $("chat-input").value = "";
  });

  function render(changed) {
    if (!changed) return;
    if (changed === "all" || changed === "chat") renderChat();
    if (changed === "all" || changed === "questions") renderQuestions();
    if (changed === "all" || changed === "hands") renderHands();
    if (changed === "all" || changed === "polls") renderPolls();
  }

  // -- keyboard ------------------------------------------------------------------------------
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "q") {
      event.preventDefault();
      const first = $("mod-questions").querySelector("button");
      (first || $("mod-questions")).focus();
    } else if (key === "a") acceptNext();
    else if (key === "e" && state.hands.speaker) send({ type: "hand.end" });
    else if (key === "o") { event.preventDefault(); $("poll-question").focus(); }
    else if (key === "t") { event.preventDefault(); $("chat-input").focus(); }
  });

  // The classroom exists while the room is live: (re)connect when it goes live.
  document.addEventListener("medroom:state", (event) => {
    if (event.detail.room.state === "live" && !link.started) { link.started = true; link.start(); }
  });
  window.addEventListener("pagehide", () => link.stop());
  MedRoom.classroomLink = link;
})();
