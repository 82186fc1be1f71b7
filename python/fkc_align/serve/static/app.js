"use strict";
// The rating page of `fkc-align serve`. Everything it shows comes from /api/state; a rating is a
// draft (kept in this browser's localStorage, so a refresh keeps it) until its round is
// submitted, and "saved" only once the server answered that it is on disk.
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  let state = null;
  let shownRound = null;   // the round whose cards are on the page
  let focus = 0;           // index of the highlighted card
  let submitting = false;
  let unreachable = false;

  function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    opts.headers["X-FKC-Token"] = token;
    opts.cache = "no-store";
    return fetch(path, opts);
  }
  function img(path) { return path + "?token=" + encodeURIComponent(token); }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function starText(n) { return n ? "\u2605".repeat(n) + "\u2606".repeat(5 - n) : "?"; }

  // ---------------------------------------------------------------- drafts
  function draftKey(qid) {
    return "fkc-serve:" + state.run.settings_hash + ":" + state.run.created + ":" + qid;
  }
  function draftOf(qid) {
    const v = Number(localStorage.getItem(draftKey(qid)));
    return v >= 1 && v <= 5 ? v : null;
  }
  function setDraft(qid, rating) { localStorage.setItem(draftKey(qid), String(rating)); }
  function dropDraft(qid) { localStorage.removeItem(draftKey(qid)); }

  // ---------------------------------------------------------------- messages
  function say(text, kind) {
    const m = $("message");
    m.hidden = !text;
    m.textContent = text || "";
    m.className = kind || "";
  }

  // ---------------------------------------------------------------- status
  const PHASES = {
    starting: () => "Starting the run\u2026",
    sampling: (s) => {
      const p = samplingPass(s.sampling);
      return "Sampling round " + (s.next_round + 1) + " (the next images to rate)\u2026 step " +
        p.step + " of " + s.sampling.n_steps + (p.pass > 1 ? " (sample " + p.pass + ")" : "");
    },
    waiting: (s) => "Round " + (s.round + 1) + ": rate every image, then submit the round.",
    training: () => "Training the reward model on your answers\u2026",
    report: () => "The budget is spent: writing the report\u2026",
    done: () => "Done: the budget is spent. The report is below.",
    stopped: () => "The server stopped. Every submitted answer is saved; run the same " +
      "command with --resume to continue.",
    error: (s) => "The run failed: " + s.error,
  };

  // a round may draw more than one sample (e.g. a guided and an unguided pool): the step count
  // runs on across them, the bar shows the current one
  function samplingPass(sp) {
    const n = Math.max(1, sp.n_steps);
    return { pass: Math.floor(Math.max(0, sp.step - 1) / n) + 1, step: ((Math.max(1, sp.step) - 1) % n) + 1 };
  }

  function renderStatus(s) {
    if (s.run) {
      const params = Object.entries(s.run.task).filter(([k]) => k !== "name").map(([k, v]) => k + "=" + v);
      $("run").textContent = "task " + s.run.task.name + " (" + params.join(", ") + ") \u00b7 run folder " + s.run.folder;
      const round = s.round !== null ? s.round : Math.min(s.next_round, s.n_rounds - 1);
      $("round-counter").textContent = "round " + (round + 1) + " of " + s.n_rounds;
      $("query-counter").textContent = "queries " + s.queries_used + " / " + s.budget;
      $("eps").textContent = "\u03b5 " + (s.eps === null ? "-" : s.eps.toFixed(2)) +
        (s.eps_round === null ? "" : " (round " + (s.eps_round + 1) + ")");
      $("budget-fill").style.width = (100 * s.queries_used / s.budget) + "%";
    }
    $("phase").textContent = (PHASES[s.phase] || (() => s.phase))(s);
    $("phase").dataset.phase = s.phase;
    const bar = $("sampling");
    bar.hidden = s.phase !== "sampling";
    if (s.phase === "sampling") {
      bar.max = s.sampling.n_steps;
      bar.value = samplingPass(s.sampling).step;
    }
  }

  // ---------------------------------------------------------------- cards
  function renderCards(s) {
    const section = $("rating");
    if (s.phase !== "waiting" || s.round === null || !s.queries.length) {
      section.hidden = true;
      shownRound = null;
      return;
    }
    section.hidden = false;
    $("rating-title").textContent = "Round " + (s.round + 1) + " of " + s.n_rounds + ": rate each image";
    const box = $("cards");
    const ids = s.queries.map((q) => q.id).join(",");
    if (shownRound !== s.round || box.dataset.ids !== ids) {
      box.textContent = "";
      box.dataset.ids = ids;
      s.queries.forEach((q, i) => {
        const card = el("div", { class: "card", "data-qid": q.id, "data-index": String(i) });
        const pic = el("img", { src: img("/api/particle/" + q.id + ".png"), alt: "image " + (i + 1) });
        card.appendChild(pic);
        const stars = el("div", { class: "stars", role: "group", "aria-label": "rating of image " + (i + 1) });
        for (let r = 1; r <= 5; r++) {
          const b = el("button", { type: "button", "data-rating": String(r), "aria-label": r + " star" + (r > 1 ? "s" : "") }, "\u2605");
          b.addEventListener("click", () => { focus = i; rate(q.id, r); });
          stars.appendChild(b);
        }
        card.appendChild(stars);
        card.appendChild(el("div", { class: "note" }));
        card.addEventListener("click", () => { focus = i; paintCards(); });
        box.appendChild(card);
      });
      if (shownRound !== s.round) focus = firstUnrated(s);
      shownRound = s.round;
    }
    paintCards();
  }

  function ratingOf(q) { return q.rating !== null ? q.rating : draftOf(q.id); }
  function firstUnrated(s) {
    const i = s.queries.findIndex((q) => ratingOf(q) === null);
    return i < 0 ? 0 : i;
  }

  function paintCards() {
    if (!state || shownRound === null) return;
    let rated = 0, open = 0;
    state.queries.forEach((q, i) => {
      const card = document.querySelector('.card[data-qid="' + q.id + '"]');
      if (!card) return;
      const saved = q.rating !== null;
      const r = ratingOf(q);
      if (r !== null) rated++;
      if (!saved) open++;
      card.classList.toggle("saved", saved);
      card.classList.toggle("focus", i === focus);
      card.querySelectorAll(".stars button").forEach((b) => {
        b.classList.toggle("on", r !== null && Number(b.dataset.rating) <= r);
        b.disabled = saved;
      });
      card.querySelector(".note").textContent = saved ? "saved: " + starText(r) :
        (r !== null ? "not submitted yet" : "");
    });
    const n = state.queries.length;
    const button = $("submit");
    button.disabled = submitting || open === 0 || rated < n;
    button.textContent = "Submit round (" + rated + "/" + n + " rated)";
    $("draft-note").textContent = open && rated < n ? "rate all " + n + " to submit" : "";
  }

  function rate(qid, rating) {
    const q = state.queries.find((x) => x.id === qid);
    if (!q || q.rating !== null) return;
    setDraft(qid, rating);
    const next = state.queries.findIndex((x, j) => j > focus && ratingOf(x) === null);
    if (next >= 0) focus = next;
    paintCards();
  }

  async function submit() {
    if (!state || state.phase !== "waiting" || submitting) return;
    const open = state.queries.filter((q) => q.rating === null);
    const answers = open.map((q) => ({ id: q.id, rating: draftOf(q.id) }));
    if (!answers.length || answers.some((a) => a.rating === null)) return;
    submitting = true;
    paintCards();
    try {
      const res = await api("/api/answers", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ round: state.round, answers: answers }),
      });
      const body = await res.json().catch(() => ({ detail: "HTTP " + res.status }));
      (body.saved || []).forEach(dropDraft);
      (body.already_answered || []).forEach(dropDraft);
      if (res.ok) say("Saved round " + (state.round + 1) + " (" + body.saved.length + " answers).", "ok");
      else say(body.detail || ("HTTP " + res.status), "error");
    } catch (err) {
      say("Could not reach the server: your ratings are kept in this browser; submit again " +
        "once it is back (" + err + ").", "error");
    } finally {
      submitting = false;
      await poll();
    }
  }

  // ---------------------------------------------------------------- best + report
  function gallery(box, items) {
    box.textContent = "";
    items.forEach((b) => {
      const f = el("figure", { "data-qid": b.id });
      f.appendChild(el("img", { src: img("/api/particle/" + b.id + ".png"), alt: "best image " + b.id }));
      f.appendChild(el("figcaption", {}, (b.rating ? starText(b.rating) : "reward " + b.reward.toFixed(2)) +
        " \u00b7 round " + (b.round + 1)));
      box.appendChild(f);
    });
  }

  function table(t, rows) {
    t.textContent = "";
    rows.forEach((cells, i) => {
      const tr = el("tr");
      cells.forEach((c) => tr.appendChild(el(i === 0 ? "th" : "td", {}, c)));
      t.appendChild(tr);
    });
  }
  function fmt(v, digits) { return v === null || v === undefined ? "-" : Number(v).toFixed(digits); }

  function renderBest(s) {
    const items = s.best || [];
    $("best-section").hidden = !items.length;
    $("best-title").textContent = s.report ? "Best particles (by your stars)" : "Best so far";
    const key = items.map((b) => b.id).join(",");
    if ($("best").dataset.ids !== key) {
      $("best").dataset.ids = key;
      gallery($("best"), items);
    }
  }

  function renderReport(s) {
    const r = s.report;
    $("report").hidden = !r;
    if (!r || $("report").dataset.done) return;
    $("report").dataset.done = "1";
    const m = r.summary;
    table($("summary"), [
      ["queries used", "mean stars, last round", "mean stars, whole run", "best stars"],
      [String(m.queries_used), fmt(m.final_mean_reward + 3, 2), fmt(m.run_mean_reward + 3, 2),
        fmt(m.best_reward + 3, 0)],
    ]);
    table($("rounds"), [["round", "shown", "best by the learned reward", "exploring", "mean stars", "best so far"]]
      .concat(r.rounds.map((x) => [String(x.round + 1), String(x.n_shown), String(x.n_top ?? "-"),
        String(x.n_top === undefined ? "-" : x.n_shown - x.n_top), fmt(x.mean_reward + 3, 2), fmt(x.best_reward_so_far + 3, 0)])));
    $("curves").src = img("/api/report/curves.png");
    $("files").textContent = "Written: " + r.files.join(", ");
  }

  // ---------------------------------------------------------------- polling
  async function poll() {
    let s;
    try {
      const res = await api("/api/state");
      if (res.status === 403) {
        say("403: this page needs the URL printed by fkc-align serve (with its ?token=...).", "error");
        return;
      }
      s = await res.json();
      if (unreachable) { unreachable = false; say(""); }
    } catch (err) {
      unreachable = true;
      say("Cannot reach the server (stopped?). Every submitted answer is saved; restart it " +
        "with fkc-align serve --resume and open the URL it prints.", "error");
      return;
    }
    state = s;
    renderStatus(s);
    if (s.run) {
      renderCards(s);
      renderBest(s);
      renderReport(s);
    }
  }

  function schedule() {
    const quiet = state && (state.phase === "waiting" || state.phase === "done");
    setTimeout(() => poll().finally(schedule), quiet ? 1500 : 400);
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || !state || shownRound === null) return;
    const n = state.queries.length;
    if (ev.key >= "1" && ev.key <= "5") {
      rate(state.queries[focus].id, Number(ev.key));
    } else if (ev.key === "ArrowRight") {
      focus = (focus + 1) % n; paintCards();
    } else if (ev.key === "ArrowLeft") {
      focus = (focus + n - 1) % n; paintCards();
    } else if (ev.key === "Enter") {
      if (ev.target && ev.target.tagName === "BUTTON" && ev.target.id !== "submit") ev.preventDefault();
      if (ev.target && ev.target.id === "submit") return;  // the button's own click submits
      submit();
    } else {
      return;
    }
    ev.preventDefault();
  });
  $("submit").addEventListener("click", submit);
  if (!token) say("This page needs the URL printed by fkc-align serve (with its ?token=...).", "error");
  poll().finally(schedule);
})();
