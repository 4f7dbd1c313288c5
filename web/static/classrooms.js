// Classrooms (admins): register a hall, pair its screen with the code the screen shows, unpair.
"use strict";
(function () {
  const list = document.getElementById("classroom-list");
  const message = document.getElementById("classrooms-message");
  const when = (iso) => iso ? i18n.formatDateTime(iso) : "–";

  function say(text, error) {
    message.textContent = text;
    message.classList.toggle("message-error", !!error);
  }

  // A translated sentence with a name in it: the name is content, not words to translate.
  function withName(text, name, value) {
    const span = el("span", "", String(value));
    span.translate = false;
    const [before, after] = text.split(`%(${name})s`);
    const out = document.createDocumentFragment();
    out.append(before, span, after === undefined ? "" : after);
    return out;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  async function screenRows(c, ul) {
    const screens = await MedRoom.api(`/api/classrooms/${c.id}/screens`);
    ul.replaceChildren();
    const live = screens.filter((s) => !s.revoked_at);
    if (!live.length) ul.append(el("li", "muted small", gettext("No screen paired yet.")));
    for (const s of live) {
      const li = el("li", "screen-row");
      li.dataset.screen = s.id;
      li.append(el("span", "", gettext("Screen %(id)s", { id: s.id })),
        el("span", "badge " + (s.connected ? "badge-live" : "badge-idle"), s.connected ? gettext("showing video") : gettext("idle")),
        el("span", "muted small", gettext("paired %(paired)s · last seen %(seen)s", { paired: when(s.paired_at), seen: when(s.last_seen_at) })));
      const unpair = el("button", "btn btn-small btn-danger", gettext("Unpair"));
      unpair.type = "button";
      unpair.addEventListener("click", async () => {
        if (!window.confirm(gettext("Unpair screen %(id)s of %(classroom)s? It stops at once and shows a new pairing code.", { id: s.id, classroom: c.name }))) return;
        try {
          await MedRoom.api(`/api/classrooms/${c.id}/screens/${s.id}`, { method: "DELETE" });
          say(gettext("Screen %(id)s of %(classroom)s is unpaired.", { id: s.id, classroom: c.name }));
          load();
        } catch (error) { say(error.message, true); }
      });
      li.append(unpair);
      ul.append(li);
    }
  }

  function row(c) {
    const li = el("li", "classroom-row");
    li.dataset.classroom = c.id;
    const head = el("div", "classroom-head");
    const name = el("strong", "", c.name);
    const where = el("span", "muted", `${c.institution} · ${c.city} · ${c.timezone}`);
    name.translate = false; where.translate = false;
    const badge = el("span", "badge");
    badge.append(withName(gettext("room %(room)s"), "room", c.room_id));
    head.append(name, where, badge);
    const screens = el("ul", "screen-list");
    const form = el("form", "pair-form");
    const input = el("input");
    input.name = "code"; input.maxLength = 12; input.placeholder = gettext("Screen code, e.g. %(example)s", { example: "K7QM-4PX2" });
    input.required = true; input.autocomplete = "off"; input.setAttribute("aria-label", gettext("Pairing code for %(classroom)s", { classroom: c.name }));
    const button = el("button", "btn btn-small btn-primary", gettext("Pair screen"));
    button.type = "submit";
    form.append(input, button);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await MedRoom.api(`/api/classrooms/${c.id}/screens`, { method: "POST", json: { code: input.value } });
        say(gettext("Paired: the screen now shows %(classroom)s.", { classroom: c.name }));
        input.value = "";
        screenRows(c, screens);
      } catch (error) { say(error.message, true); }
    });
    li.append(head, screens, form);
    screenRows(c, screens).catch((error) => say(error.message, true));
    return li;
  }

  async function load() {
    try {
      const classrooms = await MedRoom.api("/api/classrooms");
      list.replaceChildren(...classrooms.map(row));
      if (!classrooms.length) list.replaceChildren(el("li", "muted", gettext("No classroom yet: register the first below.")));
    } catch (error) { say(error.message, true); }
  }

  document.getElementById("classroom-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target).entries());
    try {
      const c = await MedRoom.api("/api/classrooms", { method: "POST", json: data });
      say(gettext("%(classroom)s is registered. Open /screen on its computer and pair it.", { classroom: c.name }));
      event.target.reset();
      load();
    } catch (error) { say(error.message, true); }
  });
  load();
})();
