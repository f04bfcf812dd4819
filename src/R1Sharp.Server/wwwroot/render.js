// What the web chat (app.js) and the arena (arena/arena.js) share: API calls that ask for the key on a 401, the
// stream of server-sent events, and a reply shown as the chat shows it — thinking live in a block that folds when the
// answer begins, the answer as sanitised markdown with KaTeX math in text nodes only.
"use strict";

function apiHeaders() {
  const headers = { "Content-Type": "application/json" };
  const key = localStorage.getItem("r1sharp-api-key");
  if (key) headers.Authorization = "Bearer " + key;
  return headers;
}

async function api(path, init = {}) {
  let response = await fetch(path, { ...init, headers: apiHeaders() });
  if (response.status === 401) {
    const key = prompt("This server needs an API key:");
    if (key) {
      localStorage.setItem("r1sharp-api-key", key);
      response = await fetch(path, { ...init, headers: apiHeaders() });
    }
  }
  return response;
}

// Yields the JSON of each "data:" event until "[DONE]".
async function* serverSentEvents(response, signal) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
  let buffer = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

// One assistant reply: a thinking block (made on the first reasoning text) and the answer rendered as markdown.
class Reply {
  constructor(element) {
    this.element = element;
    this.reasoning = "";
    this.answer = "";
    this.started = performance.now();
    this.thinking = null;
    this.answerView = document.createElement("div");
    this.answerView.className = "answer";
    element.append(this.answerView);
    this.pending = false;
    this.thinkingChanged = false;
    this.answerChanged = true; // the first render shows the empty answer
  }

  think(text) {
    if (!this.thinking) {
      this.thinking = document.createElement("details");
      this.thinking.className = "thinking";
      this.thinking.open = true;
      this.thinking.dataset.live = "";
      this.thinking.innerHTML = '<summary>Thinking…</summary><div class="thinking-body"></div>';
      this.element.prepend(this.thinking);
    }
    this.reasoning += text;
    this.thinkingChanged = true;
    this.schedule();
  }

  // The thinking is over: title it with its duration, and fold it away when the answer begins.
  endThinking(fold) {
    if (!this.thinking || !("live" in this.thinking.dataset)) return;
    delete this.thinking.dataset.live;
    const seconds = (performance.now() - this.started) / 1000;
    this.thinking.querySelector("summary").textContent = `Thought for ${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
    if (fold) this.thinking.open = false;
  }

  say(text) {
    this.endThinking(true);
    this.answer += text;
    this.answerChanged = true;
    this.schedule();
  }

  // Text is shown once per frame, not per token: setting it and reading the layout per token grows with the reply's
  // length, and a fast model's long reply froze the page.
  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.render(); });
  }

  render() {
    if (this.thinkingChanged) this.thinking.querySelector(".thinking-body").textContent = this.reasoning;
    if (this.answerChanged) this.answerView.replaceChildren(renderMarkdown(this.answer));
    this.thinkingChanged = this.answerChanged = false;
    this.scroll();
  }

  finish(reason) {
    this.endThinking(false); // still thinking when it ended (max tokens, stop, error): leave it open
    this.render();
    this.element.dataset.finish = reason;
    if (reason === "length" || reason === "stopped") {
      const note = document.createElement("div");
      note.className = "stopped";
      note.textContent = reason === "length" ? "(cut at the max tokens limit)" : "(stopped)";
      this.element.append(note);
    }
  }

  // Keeps the newest text in view in whatever scrolls the reply (the chat's list, an arena side).
  scroll() { const view = this.element.parentElement; if (view) view.scrollTop = view.scrollHeight; }
}

// Markdown with LaTeX, as a DOM fragment: math ($…$, $$…$$, \(…\), \[…\]) is set aside behind placeholders before
// markdown runs (which would eat its backslashes and underscores), the HTML is sanitised into DOM nodes, then each
// placeholder in a text node is replaced by KaTeX's rendering of its formula. Math never goes into an HTML string or an
// attribute, so it cannot reopen what sanitising closed; a placeholder inside an attribute stays inert text.
const HOLD_OPEN = "\uE000", HOLD_CLOSE = "\uE001";

function renderMarkdown(text) {
  const formulas = [];
  const hold = (tex, display) => `${HOLD_OPEN}${formulas.push({ tex, display }) - 1}${HOLD_CLOSE}`;
  // The reply's own placeholder characters would otherwise pass for ours.
  const withoutMath = text.replace(/[\uE000\uE001]/g, "\uFFFD")
    .replace(/\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]/g, (_, a, b) => hold(a ?? b, true))
    .replace(/\\\(([\s\S]+?)\\\)|\$([^\s$](?:[^$\n]*?[^\s$])?)\$/g, (_, a, b) => hold(a ?? b, false));
  const fragment = DOMPurify.sanitize(marked.parse(withoutMath), { RETURN_DOM_FRAGMENT: true });
  const walker = document.createTreeWalker(fragment, NodeFilter.SHOW_TEXT);
  const held = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode())
    if (node.data.includes(HOLD_OPEN)) held.push(node);
  for (const node of held) {
    const parts = node.data.split(/\uE000(\d+)\uE001/); // text, index, text, index, …, text
    node.replaceWith(...parts.map((part, k) => {
      if (k % 2 === 0) return document.createTextNode(part);
      const formula = formulas[Number(part)];
      if (!formula) return document.createTextNode(HOLD_OPEN + part + HOLD_CLOSE);
      const math = document.createElement("span");
      katex.render(formula.tex, math, { displayMode: formula.display, throwOnError: false });
      return math;
    }));
  }
  return fragment;
}

