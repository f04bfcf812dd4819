// The arena page: a prompt goes to two anonymous contestants whose replies stream side by side (rendered as the chat
// renders them, render.js); the user votes A better / B better / tie / both bad (buttons, or keys 1–4), and only then
// are the names revealed. Each battle is one POST /arena/api/battles whose events are tagged by side.
"use strict";

const $ = id => document.getElementById(id);
const input = $("input"), votes = $("votes"), statusLine = $("status");
const VOTES = { "1": "model_a", "2": "model_b", "3": "tie", "4": "tie (bothbad)" };
const VERDICTS = { "model_a": "A is better", "model_b": "B is better", "tie": "a tie", "tie (bothbad)": "both are bad" };

let battle = null; // { id, controller, replies: { a, b }, voting, decided }

input.addEventListener("keydown", e => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
});
$("composer").addEventListener("submit", e => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text || (battle && !battle.decided && !battle.failed)) return;
  input.value = "";
  start(text);
});
$("new-battle").addEventListener("click", () => { clear(); input.focus(); });
votes.addEventListener("click", e => {
  const button = e.target.closest("button[data-vote]");
  if (button) vote(button.dataset.vote);
});
document.addEventListener("keydown", e => {
  if (votes.hidden || e.target === input || e.ctrlKey || e.metaKey || e.altKey) return;
  if (VOTES[e.key]) { e.preventDefault(); vote(VOTES[e.key]); }
});

function status(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

// Forgets the battle on screen (a battle left unvoted does not count).
function clear() {
  battle?.controller.abort();
  battle = null;
  for (const side of ["a", "b"]) {
    $("pane-" + side).replaceChildren();
    $("name-" + side).textContent = "";
    $("pane-" + side).parentElement.classList.remove("won");
  }
  $("prompt").hidden = true;
  delete document.body.dataset.battle;
  delete document.body.dataset.revealed;
  votes.hidden = true;
  status("");
  setComposing(true);
}

function setComposing(on) {
  input.disabled = !on;
  $("send").disabled = !on;
}

function newReply(side) {
  const element = document.createElement("div");
  element.className = "message assistant";
  element.dataset.side = side;
  $("pane-" + side).append(element);
  return new Reply(element);
}

async function start(prompt) {
  clear();
  $("prompt").textContent = prompt;
  $("prompt").hidden = false;
  const replies = { a: newReply("a"), b: newReply("b") };
  const current = battle = { id: null, controller: new AbortController(), replies, voting: false, decided: false, failed: false };
  const signal = current.controller.signal;
  setComposing(false);
  status("Both models are answering…");
  try {
    const response = await api("/arena/api/battles", { method: "POST", signal, body: JSON.stringify({ prompt }) });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
    }
    let stored = false;
    for await (const event of serverSentEvents(response, signal)) {
      if (event.error) throw new Error(event.error.message);
      if (event.battle) current.id = event.battle;
      const reply = replies[event.side];
      if (reply) {
        if (event.reasoning_content) reply.think(event.reasoning_content);
        if (event.content) reply.say(event.content);
        if (event.finish_reason) reply.finish(event.finish_reason);
      }
      if (event.stored) stored = true;
    }
    if (signal.aborted) return;
    if (!stored) throw new Error("the battle was cut off");
    document.body.dataset.battle = current.id;
    votes.hidden = false;
    status("Which answer is better? Vote to see who is who.");
    votes.querySelector("button").focus();
  } catch (error) {
    if (signal.aborted) return;
    current.failed = true;
    for (const reply of Object.values(replies)) if (!("finish" in reply.element.dataset)) reply.finish("error");
    status(error.message, true);
    setComposing(true);
    input.focus();
  }
}

async function vote(winner) {
  const current = battle;
  if (!current?.id || current.voting || current.decided) return;
  current.voting = true;
  try {
    const response = await api(`/arena/api/battles/${encodeURIComponent(current.id)}/vote`, { method: "POST", body: JSON.stringify({ winner }) });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
    current.decided = true;
    reveal(body);
  } catch (error) {
    status(error.message, true);
  } finally {
    current.voting = false;
  }
}

function reveal(result) {
  $("name-a").textContent = result.model_a;
  $("name-b").textContent = result.model_b;
  if (result.winner === "model_a") $("pane-a").parentElement.classList.add("won");
  if (result.winner === "model_b") $("pane-b").parentElement.classList.add("won");
  votes.hidden = true;
  document.body.dataset.revealed = "";
  status(`You voted: ${VERDICTS[result.winner]}. Model A was ${result.model_a}, model B was ${result.model_b}. Ask again for a new battle.`);
  setComposing(true);
  input.focus();
}

input.focus();
