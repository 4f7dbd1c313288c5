// The final test: start (or resume) an attempt, show its questions on one page with the
// server's deadline counting down, submit the answers. The page never holds a correct answer:
// the server scores the attempt and says how it went.
(() => {
  const intro = document.getElementById("quiz-intro");
  if (!intro) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const startButton = document.getElementById("quiz-start");
  const message = document.getElementById("quiz-message");
  const form = document.getElementById("quiz-form");
  const list = document.getElementById("quiz-questions");
  const progress = document.getElementById("quiz-progress");
  const timerBox = document.getElementById("quiz-timer-box");
  const timer = document.getElementById("quiz-timer");
  const result = document.getElementById("quiz-result");
  let attempt = null;
  let deadline = 0;
  let ticking = null;

  const say = (text, kind = "") => { message.className = `message ${kind}`; message.textContent = text; };

  async function call(url, options = {}) {
    const response = await fetch(url, {
      ...options,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, ...(options.headers || {}) },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw Object.assign(new Error(body.detail || response.statusText), { code: body.code });
    return body;
  }

  function render(data) {
    attempt = data;
    list.replaceChildren();
    data.questions.forEach((q) => {
      const li = document.createElement("li");
      li.dataset.question = q.question_id;
      const text = document.createElement("div");
      text.className = "qtext";
      text.textContent = q.text;
      const hint = document.createElement("span");
      hint.className = "hint";
      hint.textContent = q.kind === "multiple" ? gettext("choose every right answer") : gettext("one answer");
      text.append(hint);
      li.append(text);
      q.options.forEach((option, index) => {
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.type = q.kind === "multiple" ? "checkbox" : "radio";
        input.name = `q${q.question_id}`;
        input.value = String(index);
        label.append(input, document.createTextNode(option));
        li.append(label);
      });
      list.append(li);
    });
    intro.hidden = true;
    form.hidden = false;
    timerBox.hidden = false;
    // The server's seconds_left, counted from now: the page's clock may be wrong, the
    // interval is not.
    deadline = performance.now() + data.seconds_left * 1000;
    tick();
    ticking = setInterval(tick, 250);
    updateProgress();
  }

  function tick() {
    const left = Math.max(0, Math.round((deadline - performance.now()) / 1000));
    const minutes = Math.floor(left / 60), seconds = left % 60;
    timer.textContent = i18n.formatClock(left);
    timerBox.classList.toggle("low", left <= 60 && left > 0);
    timerBox.classList.toggle("out", left === 0);
    if (left === 0 && ticking) {
      clearInterval(ticking);
      ticking = null;
      submit(true);
    }
  }

  function answers() {
    const sheet = {};
    list.querySelectorAll("li[data-question]").forEach((li) => {
      const chosen = [...li.querySelectorAll("input:checked")].map((i) => Number(i.value));
      li.classList.toggle("answered", chosen.length > 0);
      if (chosen.length) sheet[li.dataset.question] = chosen;
    });
    return sheet;
  }

  function updateProgress() {
    const done = Object.keys(answers()).length;
    progress.textContent = gettext("%(done)s of %(total)s answered", { done, total: attempt.questions.length });
  }

  function showResult(data, note = "") {
    clearInterval(ticking);
    form.hidden = true;
    timerBox.hidden = true;
    result.hidden = false;
    const passed = data.passed;
    result.innerHTML = "";
    const head = document.createElement("div");
    head.className = "big " + (passed ? "ok" : "no");
    head.textContent = passed ? gettext("Passed") : gettext("Not passed");
    const detail = document.createElement("p");
    const score = gettext("%(correct)s of %(total)s correct (%(percent)s); the pass mark is %(pass)s.", {
      correct: data.correct, total: data.total,
      percent: i18n.formatNumber(data.percent / 100, { style: "percent", maximumFractionDigits: 1 }),
      pass: i18n.formatNumber(data.pass_percent / 100, { style: "percent", maximumFractionDigits: 1 }) });
    const next = passed ? gettext("The result now counts towards your credits.") :
      data.number < data.allowed ? gettext("You may try once more (attempt %(number)s of %(allowed)s).", { number: data.number, allowed: data.allowed }) :
        gettext("No attempts are left.");
    detail.textContent = `${score} ${next}`;
    result.append(head, detail);
    if (note) { const p = document.createElement("p"); p.className = "message message-error"; p.textContent = note; result.append(p); }
    const back = document.createElement("a");
    back.className = "btn"; back.href = location.pathname; back.textContent = gettext("Back to the test");
    result.append(back);
  }

  async function submit(timeUp = false) {
    const button = document.getElementById("quiz-submit");
    button.disabled = true;
    try {
      const data = await call(`/api/cme/attempts/${attempt.id}/answers`, {
        method: "POST", body: JSON.stringify({ answers: answers() }),
      });
      showResult(data);
    } catch (error) {
      if (timeUp || error.code === "time_is_up") {
        const data = await call(`/api/cme/attempts/${attempt.id}`).catch(() => null);
        if (data && data.state !== "running") { showResult(data, error.message); return; }
      }
      button.disabled = false;
      progress.textContent = error.message;
      progress.className = "message message-error";
    }
  }

  startButton.addEventListener("click", async () => {
    startButton.disabled = true;
    say(gettext("Drawing your questions…"));
    try {
      const running = intro.dataset.running;
      render(running ? await call(`/api/cme/attempts/${running}`)
        : await call(`/api/cme/programmes/${intro.dataset.programme}/test/attempts`, { method: "POST" }));
    } catch (error) {
      say(error.message, "message-error");
      startButton.disabled = false;
    }
  });
  list.addEventListener("change", updateProgress);
  form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
})();
