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
    if (!response.ok) throw new Error(body.detail || response.statusText);
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
      hint.textContent = q.kind === "multiple" ? "choose every right answer" : "one answer";
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
    timer.textContent = `${minutes}:${String(seconds).padStart(2, "0")}`;
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
    progress.textContent = `${done} of ${attempt.questions.length} answered`;
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
    head.textContent = passed ? "Passed" : "Not passed";
    const detail = document.createElement("p");
    detail.textContent = `${data.correct} of ${data.total} correct (${data.percent}%); the pass mark is ${data.pass_percent}%. ` +
      (passed ? "The result now counts towards your credits." :
        data.number < data.allowed ? `You may try once more (attempt ${data.number} of ${data.allowed}).` :
          "No attempts are left.");
    result.append(head, detail);
    if (note) { const p = document.createElement("p"); p.className = "message message-error"; p.textContent = note; result.append(p); }
    const back = document.createElement("a");
    back.className = "btn"; back.href = location.pathname; back.textContent = "Back to the test";
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
      if (timeUp || /time is up/.test(error.message)) {
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
    say("Drawing your questions…");
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
