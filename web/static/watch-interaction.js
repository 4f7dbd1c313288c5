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
      const labels = { connecting: gettext("Connecting…"), reconnecting: gettext("Reconnecting…"), open: gettext("Classroom open"),
                       down: text || gettext("Connection lost · reconnecting…"), waiting: text, refused: text };
      $("cls-status").textContent = labels[kind] || kind;
      $("cls-status").className = "cls-status cls-status-" + kind;
      panel.dataset.link = kind;
      const usable = kind === "open";
      [$("chat-input"), $("question-input"), $("hand-btn"), ...sendButtons].forEach((n) => (n.disabled = !usable));
    },
    welcome(message) {
      state.me = message.you;
      if (message.resumed && message.missed > 0) {
        notice.show(ngettext("Back online: %(num)s update you missed is marked below.",
                             "Back online: %(num)s updates you missed are marked below.", message.missed), "info");
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
    const limited = message.code === "rate_limited";
    notice.show(limited ? message.reason || message.message : message.message, limited ? "warn" : "error",
                limited ? message.retry_after : 0);
  }

  function send(message) {
    if (!link.send(message)) { notice.show(gettext("Not connected: wait a moment and try again."), "error"); return false; }
    return true;
  }

  // -- chat ----------------------------------------------------------------------------------
  function chatItem(m) {
    const li = el("li", "cls-msg" + (m.moderator ? " cls-msg-mod" : "") + (missedIds.has(m.id) ? " cls-missed" : ""));
    li.dataset.id = m.id;
    const head = el("div", "cls-msg-head");
    const author = el("span", "cls-author", m.author.name);
    author.translate = false;
    head.append(author);
    if (m.moderator) head.append(el("span", "cls-tag", gettext("instructor")));
    const at = el("time", "cls-time", clock(m.at));
    at.dateTime = m.at;
    head.append(at);
    const text = el("p", "cls-text", m.text);
    text.translate = false;
    li.append(head, text);
    return li;
  }

  function renderChat() {
    const list = $("chat-list");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren(...(state.chat.length ? state.chat.map(chatItem)
      : [el("li", "cls-empty muted", gettext("No messages yet. Say hello."))]));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  chatForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text) return;
    if (send({ type: "chat", text })) { $("chat-input").value = ""; const l = $("chat-list"); l.scrollTop = l.scrollHeight; }
  });

  // -- questions ------------------------------------------------------------------------------
  const statusText = { pending: gettext("Waiting for the instructor"), approved: "", answering: gettext("Being answered now"),
                       answered: gettext("Answered"), dismissed: gettext("Not taken") };

  function questionItem(q) {
    const li = el("li", `cls-q cls-q-${q.status}` + (q.mine ? " cls-q-mine" : ""));
    li.dataset.id = q.id;
    const vote = el("button", "cls-vote", "▲ " + i18n.formatNumber(q.votes));
    vote.type = "button";
    const voted = state.voted.has(q.id);
    vote.setAttribute("aria-label", ngettext("Vote for this question (%(num)s vote)", "Vote for this question (%(num)s votes)", q.votes));
    vote.setAttribute("aria-pressed", String(voted));
    vote.disabled = q.mine || voted || q.status === "answered" || q.status === "dismissed";
    vote.addEventListener("click", () => {
      if (send({ type: "question.vote", id: q.id })) { state.voted.add(q.id); renderQuestions(); }
    });
    const body = el("div", "cls-q-body");
    const who = q.mine ? (q.anonymous ? gettext("You (anonymous to others)") : gettext("You")) : (q.author ? q.author.name : gettext("Anonymous"));
    const head = el("div", "cls-msg-head");
    const author = el("span", "cls-author", who);
    author.translate = !(q.author && !q.mine);
    const at = el("time", "cls-time", clock(q.at));
    at.dateTime = q.at;
    head.append(author, at);
    const text = el("p", "cls-text", q.text);
    text.translate = false;
    body.append(head, text);
    if (statusText[q.status]) body.append(el("span", "cls-q-status", statusText[q.status]));
    li.append(vote, body);
    return li;
  }

  const order = { answering: 0, approved: 1, pending: 2, answered: 3, dismissed: 4 };
  function renderQuestions() {
    const items = [...state.questions.values()].sort((a, b) =>
      order[a.status] - order[b.status] || b.votes - a.votes || a.at.localeCompare(b.at));
    $("question-list").replaceChildren(...(items.length ? items.map(questionItem)
      : [el("li", "cls-empty muted", gettext("No questions yet."))]));
    const open = items.filter((q) => q.status !== "answered" && q.status !== "dismissed").length;
    $("q-count").hidden = open === 0;
    $("q-count").textContent = i18n.formatNumber(open);
  }

  questionForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("question-input").value.trim();
    if (!text) return;
    if (send({ type: "question", text, anonymous: $("question-anon").checked })) {
      $("question-input").value = "";
      notice.show(gettext("Your question was sent. Others see it once the instructor takes it."), "info");
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
    button.textContent = raised ? gettext("Lower hand") : gettext("Raise hand");
    button.setAttribute("aria-pressed", String(raised));
    button.classList.toggle("btn-on", raised);
    button.hidden = speaking;
    line.hidden = !(raised || speaking || h.speaker);
    line.className = "cls-hand-state" + (speaking ? " cls-speaking" : "");
    if (speaking) line.textContent = gettext("You have the floor: the instructor accepted your hand.");
    else if (raised) line.textContent = h.position === 1 ? gettext("Your hand is up: you are next.")
      : gettext("Your hand is up: number %(position)s in the queue.", { position: i18n.formatNumber(h.position) });
    else if (h.speaker) line.textContent = gettext("%(name)s is speaking.", { name: h.speaker.name });
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
    head.append(el("span", "cls-tag", p.presence_check ? gettext("Presence check") : gettext("Poll")));
    const left = el("span", "cls-poll-time");
    left.dataset.remaining = p.open ? String(p.remaining) : "";
    head.append(left);
    const question = el("p", "cls-poll-q", p.question);
    question.translate = false;
    card.append(head, question);
    const total = p.counts ? p.counts.reduce((a, b) => a + b, 0) : 0;
    const options = el("div", "cls-poll-options");
    p.options.forEach((text, i) => {
      if (p.counts) {
        const row = el("div", "cls-result" + (p.mine === i ? " cls-result-mine" : ""));
        const share = total ? p.counts[i] / total : 0;
        const bar = el("span", "cls-bar");
        bar.style.width = Math.round(100 * share) + "%";
        const option = el("span", "cls-result-text", text);
        option.translate = false;
        row.append(bar, option, el("span", "cls-result-n",
          `${i18n.formatNumber(p.counts[i])} · ${i18n.formatNumber(share, { style: "percent" })}`));
        options.append(row);
      } else {
        const b = el("button", "btn btn-small cls-option" + (p.mine === i ? " btn-on" : ""), text);
        b.type = "button";
        b.translate = false;
        b.disabled = !p.open || p.mine !== null && p.mine !== undefined;
        b.addEventListener("click", () => send({ type: "poll.answer", id: p.id, option: i }));
        options.append(b);
      }
    });
    card.append(options);
    const answered = p.mine !== null && p.mine !== undefined;
    const foot = p.open ? (answered ? gettext("Answer sent.") : "")
      : (p.counts ? gettext("Results") : (answered ? gettext("Closed · answer sent.") : gettext("Closed.")));
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
      span.textContent = left > 0 ? gettext("%(seconds)s s left", { seconds: i18n.formatNumber(left) }) : gettext("closing…");
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
