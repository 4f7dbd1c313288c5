// The student's classroom panel on the watch page: chat, questions (ask, vote), the raised
// hand and its place in the queue, polls to answer. On a network drop the link rejoins and
// the panel says how many updates were missed (they are shown, marked). Who is speaking and
// the speaker's own grant are also announced as a "medroom:speaking" DOM event, for talkback.
"use strict";
(function () {
  const panel = document.getElementById("classroom");
  if (!panel) return;
  const roomId = document.querySelector(".watch").dataset.room;
  const { el, clock, Notice } = MedRoom.classroom;
  const $ = (id) => document.getElementById(id);
  const state = new MedRoom.ClassroomState();
  const chatForm = $("chat-form");
  const questionForm = $("question-form");
  const sendButtons = [chatForm.querySelector("button"), questionForm.querySelector("button")];
  const notice = new Notice($("cls-notice"), sendButtons);
  let missedIds = new Set();

  const link = new MedRoom.ClassroomLink(roomId, {
    status(kind, text) {
      const labels = { connecting: "Connecting…", reconnecting: "Reconnecting…", open: "Classroom open",
                       down: "Connection lost · reconnecting…", waiting: text, refused: text };
      $("cls-status").textContent = labels[kind] || kind;
      $("cls-status").className = "cls-status cls-status-" + kind;
      panel.dataset.link = kind;
      const usable = kind === "open";
      [$("chat-input"), $("question-input"), $("hand-btn"), ...sendButtons].forEach((n) => (n.disabled = !usable));
    },
    welcome(message) {
      state.me = message.you;
      if (message.resumed && message.missed > 0) {
        notice.show(`Back online: ${message.missed} update${message.missed === 1 ? "" : "s"} you missed ${message.missed === 1 ? "is" : "are"} marked below.`, "info");
      } else if (message.resumed) {
        notice.hide();
      }
    },
    message(message, replayed) {
      if (message.type === "error") { showError(message); return; }
      if (replayed && message.type === "chat") missedIds.add(message.message.id);
      if (message.type === "snapshot") missedIds = new Set();
      const changed = state.apply(message);
      render(changed);
    },
  });

  function showError(message) {
    notice.show(message.message, message.code === "rate_limited" ? "warn" : "error",
                message.code === "rate_limited" ? message.retry_after : 0);
  }

  function send(message) {
    if (!link.send(message)) { notice.show("Not connected: wait a moment and try again.", "error"); return false; }
    return true;
  }

  // -- chat ----------------------------------------------------------------------------------
  function chatItem(m) {
    const li = el("li", "cls-msg" + (m.moderator ? " cls-msg-mod" : "") + (missedIds.has(m.id) ? " cls-missed" : ""));
    li.dataset.id = m.id;
    const head = el("div", "cls-msg-head");
    head.append(el("span", "cls-author", m.author.name));
    if (m.moderator) head.append(el("span", "cls-tag", "instructor"));
    head.append(el("time", "cls-time", clock(m.at)));
    li.append(head, el("p", "cls-text", m.text));
    return li;
  }

  function renderChat() {
    const list = $("chat-list");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren(...(state.chat.length ? state.chat.map(chatItem)
      : [el("li", "cls-empty muted", "No messages yet. Say hello.")]));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  chatForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text) return;
    if (send({ type: "chat", text })) { $("chat-input").value = ""; const l = $("chat-list"); l.scrollTop = l.scrollHeight; }
  });

  // -- questions ------------------------------------------------------------------------------
  const statusText = { pending: "Waiting for the instructor", approved: "", answering: "Being answered now",
                       answered: "Answered", dismissed: "Not taken" };

  function questionItem(q) {
    const li = el("li", `cls-q cls-q-${q.status}` + (q.mine ? " cls-q-mine" : ""));
    li.dataset.id = q.id;
    const vote = el("button", "cls-vote", "▲ " + q.votes);
    vote.type = "button";
    const voted = state.voted.has(q.id);
    vote.setAttribute("aria-label", `Vote for this question (${q.votes} votes)`);
    vote.setAttribute("aria-pressed", String(voted));
    vote.disabled = q.mine || voted || q.status === "answered" || q.status === "dismissed";
    vote.addEventListener("click", () => {
      if (send({ type: "question.vote", id: q.id })) { state.voted.add(q.id); renderQuestions(); }
    });
    const body = el("div", "cls-q-body");
    const who = q.mine ? (q.anonymous ? "You (anonymous to others)" : "You") : (q.author ? q.author.name : "Anonymous");
    const head = el("div", "cls-msg-head");
    head.append(el("span", "cls-author", who), el("time", "cls-time", clock(q.at)));
    body.append(head, el("p", "cls-text", q.text));
    if (statusText[q.status]) body.append(el("span", "cls-q-status", statusText[q.status]));
    li.append(vote, body);
    return li;
  }

  const order = { answering: 0, approved: 1, pending: 2, answered: 3, dismissed: 4 };
  function renderQuestions() {
    const items = [...state.questions.values()].sort((a, b) =>
      order[a.status] - order[b.status] || b.votes - a.votes || a.at.localeCompare(b.at));
    $("question-list").replaceChildren(...(items.length ? items.map(questionItem)
      : [el("li", "cls-empty muted", "No questions yet.")]));
    const open = items.filter((q) => q.status !== "answered" && q.status !== "dismissed").length;
    $("q-count").hidden = open === 0;
    $("q-count").textContent = open;
  }

  questionForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("question-input").value.trim();
    if (!text) return;
    if (send({ type: "question", text, anonymous: $("question-anon").checked })) {
      $("question-input").value = "";
      notice.show("Your question was sent. Others see it once the instructor takes it.", "info");
    }
  });

  // -- tabs ----------------------------------------------------------------------------------
  const tabs = [["chat", $("tab-btn-chat"), $("tab-chat")], ["questions", $("tab-btn-questions"), $("tab-questions")]];
  tabs.forEach(([, button]) => button.addEventListener("click", () => {
    tabs.forEach(([, b, pane]) => { const on = b === button; b.setAttribute("aria-selected", String(on)); pane.hidden = !on; });
  }));

  // -- hand ----------------------------------------------------------------------------------
  function renderHand() {
    const h = state.hands;
    const button = $("hand-btn");
    const line = $("hand-state");
    const me = state.me && state.me.key;
    const speaking = state.speaking !== null || (h.speaker && h.speaker.key === me);
    const raised = h.position !== null && h.position !== undefined;
    button.textContent = raised ? "Lower hand" : "Raise hand";
    button.setAttribute("aria-pressed", String(raised));
    button.classList.toggle("btn-on", raised);
    button.hidden = speaking;
    line.hidden = !(raised || speaking || h.speaker);
    line.className = "cls-hand-state" + (speaking ? " cls-speaking" : "");
    if (speaking) line.textContent = "You have the floor: the instructor accepted your hand.";
    else if (raised) line.textContent = h.position === 1 ? "Your hand is up: you are next." : `Your hand is up: ${h.position} in the queue.`;
    else if (h.speaker) line.textContent = `${h.speaker.name} is speaking.`;
  }

  $("hand-btn").addEventListener("click", () => {
    const raised = state.hands.position !== null && state.hands.position !== undefined;
    send({ type: raised ? "hand.lower" : "hand.raise" });
  });

  // -- polls ---------------------------------------------------------------------------------
  function pollCard(p) {
    const card = el("div", "cls-poll" + (p.presence_check ? " cls-poll-presence" : ""));
    card.dataset.id = p.id;
    const head = el("div", "cls-poll-head");
    head.append(el("span", "cls-tag", p.presence_check ? "Presence check" : "Poll"));
    const left = el("span", "cls-poll-time");
    left.dataset.remaining = p.open ? String(p.remaining) : "";
    head.append(left);
    card.append(head, el("p", "cls-poll-q", p.question));
    const total = p.counts ? p.counts.reduce((a, b) => a + b, 0) : 0;
    const options = el("div", "cls-poll-options");
    p.options.forEach((text, i) => {
      if (p.counts) {
        const row = el("div", "cls-result" + (p.mine === i ? " cls-result-mine" : ""));
        const share = total ? Math.round((100 * p.counts[i]) / total) : 0;
        const bar = el("span", "cls-bar");
        bar.style.width = share + "%";
        row.append(bar, el("span", "cls-result-text", text), el("span", "cls-result-n", `${p.counts[i]} · ${share}%`));
        options.append(row);
      } else {
        const b = el("button", "btn btn-small cls-option" + (p.mine === i ? " btn-on" : ""), text);
        b.type = "button";
        b.disabled = !p.open || p.mine !== null && p.mine !== undefined;
        b.addEventListener("click", () => send({ type: "poll.answer", id: p.id, option: i }));
        options.append(b);
      }
    });
    card.append(options);
    const answered = p.mine !== null && p.mine !== undefined;
    const foot = p.open ? (answered ? "Answer sent." : "") : (p.counts ? "Results" : (answered ? "Closed · answer sent." : "Closed."));
    if (foot) card.append(el("p", "cls-poll-foot muted small", foot));
    return card;
  }

  function renderPolls() {
    // Open polls, and closed ones whose results the instructor showed; the newest first.
    const shown = [...state.polls.values()].filter((p) => p.open || p.shown).reverse().slice(0, 2);
    $("poll-box").replaceChildren(...shown.map(pollCard));
    tickPolls();
  }

  function tickPolls() {
    document.querySelectorAll("#poll-box .cls-poll").forEach((card) => {
      const poll = state.polls.get(card.dataset.id);
      const span = card.querySelector(".cls-poll-time");
      if (!poll || !poll.open) { span.textContent = ""; return; }
      const left = Math.max(0, Math.ceil(poll.remaining - (Date.now() - poll.received) / 1000));
      span.textContent = left > 0 ? `${left} s left` : "closing…";
    });
  }
  setInterval(tickPolls, 500);

  function render(changed) {
    if (!changed) return;
    if (changed === "all" || changed === "chat") renderChat();
    if (changed === "all" || changed === "questions") renderQuestions();
    if (changed === "all" || changed === "hands" || changed === "speaking") renderHand();
    if (changed === "all" || changed === "polls") renderPolls();
    if (changed === "all" || changed === "speaking") {
      document.dispatchEvent(new CustomEvent("medroom:speaking", { detail: state.speaking || { speaking: false, grant: null } }));
    }
  }

  link.start();
  window.addEventListener("pagehide", () => link.stop());
  MedRoom.classroomLink = link; // for talkback and drawing helpers (and tests)
})();
