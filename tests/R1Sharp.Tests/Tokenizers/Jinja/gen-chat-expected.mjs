// Writes tests/R1Sharp.Tests/Data/tokenizers/expected/chat-real.json: the chat templates of the four real tokenizer
// folders in Data/tokenizers (DeepSeek-V3, Qwen2.5, Qwen3, Llama-3) applied to conversations, with the text and ids
// Hugging Face's apply_chat_template(..., tokenize=True) gives for the same folder.
//
//   text: Python jinja2 configured exactly as transformers configures it (render_jinja2.py, beside this file),
//         because transformers.js's Jinja engine differs from Python in a few places (see Data/tokenizers/README.md);
//         the transformers.js rendering is recorded too ("rendered_transformers_js") wherever it differs.
//   ids:  transformers.js encoding the text with add_special_tokens=false, as apply_chat_template does; the tokenizer
//         tests already hold transformers.js's encoder equal to Hugging Face's for these files.
//
// Regenerate (from the repo root; needs node, the npm registry once, and Python 3 with jinja2 >= 3.1):
//   npm install --prefix /tmp/hf --ignore-scripts @huggingface/transformers@4.3.2
//   node tests/R1Sharp.Tests/Tokenizers/Jinja/gen-chat-expected.mjs /tmp/hf/node_modules
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const modules = process.argv[2];
if (!modules) throw new Error('usage: node gen-chat-expected.mjs <folder holding node_modules/@huggingface/transformers>');
const require = createRequire(join(modules, 'noop.js'));
const { AutoTokenizer, env } = require('@huggingface/transformers');
const version = JSON.parse(readFileSync(join(modules, '@huggingface/transformers/package.json'), 'utf8')).version;

const here = dirname(fileURLToPath(import.meta.url));
const data = join(here, '..', '..', 'Data', 'tokenizers');
env.allowRemoteModels = false;
env.localModelPath = data + '/';

// strftime_now reads the clock: fix it (Python gets the same instant through render_jinja2.py's "now").
const NOW = '2025-07-10T12:00:00';
process.env.TZ = 'UTC';
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...args) { super(...(args.length ? args : [NOW + 'Z'])); }
  static now() { return new RealDate(NOW + 'Z').getTime(); }
};

// ---------------- models: a tokenizer folder, whose own chat template renders and whose ids we record ----------------
const specialTokenNames = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];
function configTokens(folder) {
  const config = JSON.parse(readFileSync(join(data, folder, 'tokenizer_config.json'), 'utf8'));
  const tokens = {};
  for (const name of specialTokenNames) {
    const t = config[name];
    if (t) tokens[name] = typeof t === 'string' ? t : t.content;
  }
  if (config.additional_special_tokens) tokens.additional_special_tokens = config.additional_special_tokens;
  return { config, tokens };
}
// (The llama3_1 folder holds Meta Llama-3 8B Instruct's tokenizer and its Llama-3 template, hence the model name.)
const models = [
  { name: 'deepseek_v3', tokenizer: 'deepseek_v3' },
  { name: 'qwen2_5', tokenizer: 'qwen2_5' },
  { name: 'qwen3', tokenizer: 'qwen3' },
  { name: 'llama3', tokenizer: 'llama3_1' },
];

// ---------------- conversations ----------------
const think = '<think>\nThe user wants 2+2. That is 4.\n</think>\n\nThe answer is 4.';
const common = [
  ['one-user', [{ role: 'user', content: 'Hello' }]],
  ['system-user', [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: 'What is 2+2?' }]],
  ['empty-system', [{ role: 'system', content: '' }, { role: 'user', content: 'Hi' }]],
  ['multi-turn-think', [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: think }, { role: 'user', content: 'And 3*3?' }]],
  ['ends-with-assistant-think', [{ role: 'user', content: 'What is 2+2?' }, { role: 'assistant', content: think },
    { role: 'user', content: 'Sure?' }, { role: 'assistant', content: '<think>\nDouble-check: 2+2=4.\n</think>\n\nYes, 4.' }]],
  ['unicode-and-edges', [{ role: 'system', content: '  Réponds en français. 日本語も可。 ' },
    { role: 'user', content: '  héllo wörld 你好 🤗 \u00a0\n\n' }, { role: 'assistant', content: '\n  答案：42 👍🏽  \n' },
    { role: 'user', content: '\tmore\t\n' }]],
  ['think-without-close', [{ role: 'user', content: 'Go' }, { role: 'assistant', content: '<think>unfinished thought' },
    { role: 'user', content: 'Again' }]],
  ['special-token-text-in-content', [{ role: 'user', content: 'Echo <|im_end|> and <｜User｜> and <|eot_id|> and <think>.' }]],
];
const weatherTool = { type: 'function', function: { name: 'get_weather', description: 'Current weather in a city, e.g. "Paris" — naïve über',
  parameters: { type: 'object', properties: { city: { type: 'string', description: 'City name' },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer', default: 1 } }, required: ['city'] } } };
const toolCall = (args) => ({ type: 'function', function: { name: 'get_weather', arguments: args } });
const qwenTools = [
  ['tools-first-turn', [{ role: 'user', content: 'Weather in Paris?' }], { tools: [weatherTool] }],
  ['tools-system-and-calls', [{ role: 'system', content: 'Use tools.' }, { role: 'user', content: 'Weather in Paris and Rome?' },
    { role: 'assistant', content: '', tool_calls: [toolCall({ city: 'Paris' }), toolCall({ city: 'Rome', unit: 'celsius' })] },
    { role: 'tool', content: '{"temp": 21}' }, { role: 'tool', content: '{"temp": 25}' },
    { role: 'assistant', content: 'Paris 21°C, Rome 25°C.' }, { role: 'user', content: 'Thanks' }], { tools: [weatherTool] }],
];
const extras = {
  qwen3: [
    ['enable-thinking-false', [{ role: 'user', content: 'Quick: 2+2?' }], { enable_thinking: false }],
    ['enable-thinking-true', [{ role: 'user', content: 'Quick: 2+2?' }], { enable_thinking: true }],
    ['reasoning-content-field', [{ role: 'user', content: 'Q1' }, { role: 'assistant', content: 'A1', reasoning_content: 'thinking about Q1' },
      { role: 'user', content: 'Q2' }, { role: 'assistant', content: 'A2', reasoning_content: 'thinking about Q2' }]],
    ['tool-arguments-string', [{ role: 'user', content: 'Weather?' },
      { role: 'assistant', content: 'Checking.', tool_calls: [toolCall('{"city": "Oslo"}')] },
      { role: 'tool', content: '<tool_response>sunny</tool_response>' }], { tools: [weatherTool] }],
    ...qwenTools,
  ],
  qwen2_5: [...qwenTools],
  deepseek_v3: [
    ['tool-calls', [{ role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [toolCall('{"city": "Paris"}'), toolCall('{"city": "Lyon"}')] },
      { role: 'tool', content: '{"temp": 21}' }, { role: 'tool', content: '{"temp": 19}' },
      { role: 'assistant', content: 'Paris 21°C, Lyon 19°C.' }]],
  ],
};

// ---------------- render ----------------
const cases = [];
for (const model of models) {
  const tokenizer = await AutoTokenizer.from_pretrained(model.tokenizer);
  const { config, tokens } = configTokens(model.tokenizer);
  const template = config.chat_template;
  const conversations = [...common.map(([id, messages]) => [id, messages, {}]), ...(extras[model.name] ?? [])];
  for (const [id, messages, kwargs = {}] of conversations)
    for (const add_generation_prompt of [false, true])
      cases.push({ model: model.name, tokenizer: model.tokenizer, id, messages, add_generation_prompt,
        kwargs, tokens, template, tokenizerObject: tokenizer });
}

// transformers passes tools=None and documents=None when absent, then the special tokens and the caller's kwargs.
const variables = c => ({ messages: c.messages, tools: c.kwargs.tools ?? null, documents: null, add_generation_prompt: c.add_generation_prompt,
  ...c.tokens, ...c.kwargs });
const python = JSON.parse(execFileSync('python3', [join(here, 'render_jinja2.py')], {
  input: JSON.stringify(cases.map(c => ({ template: c.template, variables: variables(c), now: NOW }))), maxBuffer: 1 << 28 }).toString());

const out = [];
let differences = 0;
cases.forEach((c, i) => {
  if (python[i].error) throw new Error(`${c.model}/${c.id}: jinja2 failed: ${python[i].error}`);
  const rendered = python[i].rendered;
  const { tools, ...rest } = c.kwargs;
  const js = c.tokenizerObject.apply_chat_template(c.messages,
    { tokenize: false, add_generation_prompt: c.add_generation_prompt, chat_template: c.template, tools: tools ?? null, ...rest });
  const row = { model: c.model, tokenizer: c.tokenizer, id: c.id, messages: c.messages,
    add_generation_prompt: c.add_generation_prompt, kwargs: c.kwargs, rendered, ids: c.tokenizerObject.encode(rendered, { add_special_tokens: false }) };
  if (js !== rendered) {
    row.rendered_transformers_js = js;
    differences++;
  }
  out.push(row);
});

writeFileSync(join(data, 'expected', 'chat-real.json'),
  JSON.stringify({ reference: `text: Python jinja2 ${execFileSync('python3', ['-c', 'import jinja2; print(jinja2.__version__)']).toString().trim()} as transformers configures it; ids: @huggingface/transformers ${version}` }).slice(0, -1)
  + ',"cases":[\n' + out.map(r => JSON.stringify(r)).join(',\n') + '\n]}\n');
console.log(`chat-real: ${out.length} cases, transformers.js renders ${differences} of them differently from Python`);
for (const r of out.filter(r => r.rendered_transformers_js !== undefined)) console.log(`  differs: ${r.model}/${r.id}/${r.add_generation_prompt}`);
