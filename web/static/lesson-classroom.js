// The live classroom replayed beside the video: chat, questions, polls and who had the floor
// appear as the playhead passes their lesson time, the latest one highlighted; seeking back
// takes the later ones away again. Clicking an item seeks there. Everything is set as text:
// what participants typed is never markup.
"use strict";
(function () {
  const MedRoom = (window.MedRoom = window.MedRoom || {});
  const STATUS = { approved: gettext("approved"), answering: gettext("being answered"), answered: gettext("answered") };

  function span(cls, text) {
    const el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  class ClassroomReplay {
    // panel: the section (shown only when there is something to show); list: its <ol>;
    // empty: the line shown before the first item; seek(t): the player's seek.
    constructor(panel, list, empty, items, seek, fmt) {
      this.panel = panel; this.list = list; this.empty = empty;
      this.items = items.filter((i) => typeof i.at === "number").sort((a, b) => a.at - b.at);
      this.shown = -1; this.current = -2;
      this.rows = this.items.map((item) => this.row(item, seek, fmt));
      this.list.append(...this.rows);
      this.panel.hidden = this.items.length === 0;
      this.panel.dataset.items = String(this.items.length);
    }

    row(item, seek, fmt) {
      const li = document.createElement("li");
      li.className = "talk-item kind-" + item.kind;
      li.dataset.id = String(item.id);
      li.hidden = true;
      const b = document.createElement("button");
      b.type = "button";
      b.append(span("at", fmt(item.at)));
      const head = span("talk-head", "");
      const author = span("talk-author", item.author || gettext("Someone"));
      if (item.author) author.translate = false;
      head.append(author);
      if (item.kind === "question") head.append(span("talk-kind", gettext("Question")));
      if (item.kind === "poll") head.append(span("talk-kind", gettext("Poll")));
      b.append(head);
      if (item.kind === "speaker") {
        b.append(span("talk-text talk-floor", typeof item.end === "number"
          ? gettext("speaks to the room until %(time)s", { time: fmt(item.end) }) : gettext("speaks to the room")));
      } else {
        const text = span("talk-text", String(item.text || ""));
        text.translate = false;
        b.append(text);
      }
      if (item.kind === "question") {
        b.append(span("talk-meta", `▲ ${i18n.formatNumber(item.votes || 0)}` + (STATUS[item.status] ? ` · ${STATUS[item.status]}` : "")));
      }
      if (item.kind === "poll" && Array.isArray(item.options)) {
        const counts = Array.isArray(item.counts) ? item.counts : null;
        const total = counts ? counts.reduce((a, c) => a + c, 0) : 0;
        const ul = document.createElement("ul");
        ul.className = "talk-poll";
        item.options.forEach((option, i) => {
          const opt = document.createElement("li");
          const n = counts ? counts[i] || 0 : null;
          const text = span("talk-option", String(option));
          text.translate = false;
          opt.append(text);
          if (n !== null) {
            opt.append(span("talk-count", i18n.formatNumber(n)));
            const bar = span("talk-bar", "");
            bar.style.width = (total ? (100 * n) / total : 0) + "%";
            opt.append(bar);
          }
          ul.append(opt);
        });
        b.append(ul);
        if (item.answered !== null && item.answered !== undefined) {
          b.append(span("talk-meta", ngettext("%(num)s answered", "%(num)s answered", item.answered)));
        }
      }
      b.addEventListener("click", () => seek(item.at));
      li.append(b);
      return li;
    }

    render(t) {
      // How many items the playhead has passed (a little ahead, so a seek onto an item shows it).
      let shown = 0;
      while (shown < this.items.length && this.items[shown].at <= t + 0.05) shown += 1;
      if (shown !== this.shown) {
        const from = Math.min(shown, Math.max(0, this.shown)), to = Math.max(shown, this.shown);
        for (let i = from; i < to; i += 1) this.rows[i].hidden = i >= shown;
        this.shown = shown;
        this.empty.hidden = shown > 0;
        this.panel.dataset.shown = String(shown);
      }
      const current = shown - 1;
      if (current !== this.current) {
        if (this.current >= 0 && this.rows[this.current]) this.rows[this.current].classList.remove("current");
        this.current = current;
        this.panel.dataset.current = current >= 0 ? this.rows[current].dataset.id : "";
        if (current >= 0) {
          const row = this.rows[current];
          row.classList.add("current");
          // Keep the latest in view inside the list, without scrolling the page (the list is
          // position: relative, so offsetTop is within it).
          const list = this.list;
          const top = row.offsetTop, bottom = top + row.offsetHeight;
          if (bottom > list.scrollTop + list.clientHeight || top < list.scrollTop) {
            list.scrollTop = Math.max(0, bottom - list.clientHeight);
          }
        }
      }
    }
  }

  MedRoom.ClassroomReplay = ClassroomReplay;
})();
