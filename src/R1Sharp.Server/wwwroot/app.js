// The R1Sharp web chat: streams /v1/chat/completions and shows the model's thinking (reasoning_content) live in a
// block above the answer; the block folds, titled "Thought for N s", as soon as the answer begins (render.js).
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

showModel();
input.focus();
