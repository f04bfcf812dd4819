// The R1Sharp web chat: streams /v1/chat/completions and shows the model's thinking (reasoning_content) live in a
// block above the answer; the block folds, titled "Thought for N s", as soon as the answer begins.
"use strict";

const $ = id => document.getElementById(id);
const messagesView = $("messages"), input = $("input"), sendButton = $("send"), stopButton = $("stop");
const temperature = $("temperature"), maxTokens = $("max-tokens");

let history = [];        // the conversation sent to the server: earlier answers only, never their thinking
let running = null;      // AbortController of the reply being streamed

temperature.addEventListener("input", () => { $("temperature-value").value = temperature.value; });
$("new-chat").addEventListener("click", () => { running?.abort(); history = []; messagesView.replaceChildren(); input.focus(); });
stopButton.addEventListener("click", () => running?.abort());
input.addEventListener("keydown", e => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
});
$("composer").addEventListener("submit", e => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text || running) return;
  input.value = "";
  send(text);
});

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

async function showModel() {
  try {
    const response = await fetch("v1/models", { headers: apiHeaders() });
    if (response.ok) $("model").textContent = (await response.json()).data[0].id;
  } catch { /* the name is only decoration */ }
}

function addMessage(role) {
  const message = document.createElement("div");
  message.className = "message " + role;
  messagesView.append(message);
  return message;
}

function showError(text) {
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.textContent = text;
  addMessage("error").append(bubble);
}

async function send(text) {
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.textContent = text;
  addMessage("user").append(bubble);
  history.push({ role: "user", content: text });

  const reply = new Reply(addMessage("assistant"));
  running = new AbortController();
  sendButton.hidden = true;
  stopButton.hidden = false;
  try {
    const response = await api("v1/chat/completions", {
      method: "POST",
      signal: running.signal,
      body: JSON.stringify({
        messages: history, stream: true, stream_options: { include_usage: true },
        temperature: Number(temperature.value), max_tokens: Number(maxTokens.value),
      }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
    }
    let finish = null;
    for await (const chunk of serverSentEvents(response, running.signal)) {
      if (chunk.error) throw new Error(chunk.error.message);
      const delta = chunk.choices?.[0]?.delta;
      if (delta?.reasoning_content) reply.think(delta.reasoning_content);
      if (delta?.content) reply.say(delta.content);
      finish ??= chunk.choices?.[0]?.finish_reason;
    }
    if (!finish && !running.signal.aborted) throw new Error("the reply was cut off");
    reply.finish(finish ?? "stopped");
    history.push({ role: "assistant", content: reply.answer });
  } catch (error) {
    if (running.signal.aborted) {
      reply.finish("stopped");
      history.push({ role: "assistant", content: reply.answer });
    } else {
      reply.finish("error");
      history.pop();
      showError(error.message);
    }
  } finally {
    running = null;
    sendButton.hidden = false;
    stopButton.hidden = true;
    input.focus();
  }
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
    this.thinking.querySelector(".thinking-body").textContent = this.reasoning;
    this.scroll();
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
    // Re-rendering markdown per token is wasteful: once per frame is enough.
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.render(); });
    }
  }

  render() {
    this.answerView.replaceChildren(renderMarkdown(this.answer));
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

  scroll() { messagesView.scrollTop = messagesView.scrollHeight; }
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

showModel();
input.focus();
