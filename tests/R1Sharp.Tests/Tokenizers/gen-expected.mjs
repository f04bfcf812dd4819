// Writes the reference outputs the tokenizer tests compare against, using Hugging Face's own JavaScript
// implementation (transformers.js), loaded from local files only:
//   tests/R1Sharp.Tests/Data/tokenizers/gpt2_style/tokenizer.json  a small fixture derived from byte/ (see below)
//   tests/R1Sharp.Tests/Data/tokenizers/expected/{deepseek_v3,qwen3,trained,byte,gpt2_style}.json  ids and decodings
//   tests/R1Sharp.Tests/Data/tokenizers/expected/chat.json  conversations rendered by our Jinja chat templates
//   tests/R1Sharp.Tests/Data/tokenizers/expected/nfc.json   Unicode NFC of BMP decompositions and mark sequences
//
// Regenerate (from the repo root; needs node and the npm registry):
//   npm install --prefix /tmp/hf --ignore-scripts @huggingface/transformers@4.3.2
//   node tests/R1Sharp.Tests/Tokenizers/gen-expected.mjs /tmp/hf/node_modules
// If the trainer, the byte tokenizer or a chat template changed, first refresh the inputs:
//   D=tests/R1Sharp.Tests/Data/tokenizers
//   dotnet run --project src/R1Sharp.Cli -- tokenizer train --corpus $D/train-corpus.txt --vocab-size 1000 --out $D/trained
//   dotnet run --project src/R1Sharp.Cli -- tokenizer byte --out $D/byte
//   and $D/chat-templates.json as printed by the failing ChatTemplateTests.JinjaTextsAreTheCommittedOnes.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const modules = process.argv[2];
if (!modules) throw new Error('usage: node gen-expected.mjs <folder holding node_modules/@huggingface/transformers>');
const require = createRequire(join(modules, 'noop.js'));
const { AutoTokenizer, env } = require('@huggingface/transformers');
const { Template } = require('@huggingface/jinja');
const version = JSON.parse(readFileSync(join(modules, '@huggingface/transformers/package.json'), 'utf8')).version;

const data = join(dirname(fileURLToPath(import.meta.url)), '..', 'Data', 'tokenizers');
env.allowRemoteModels = false;
env.localModelPath = data + '/';

// Deterministic random strings built from units that stress the pre-tokenizers: scripts, digits, marks,
// astral characters, whitespace runs and special tokens glued to text.
let seed = 1234;
function random() { // mulberry32
  seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
// One case per line keeps the files small and their diffs readable.
const write = (file, header, cases) => writeFileSync(join(data, 'expected', file),
  JSON.stringify(header).slice(0, -1) + ',"cases":[\n' + cases.map(c => JSON.stringify(c)).join(',\n') + '\n]}\n');
const pick = a => a[Math.floor(random() * a.length)];
const units = [
  ...'abcxyzABCXYZ0123456789', ...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  ' ', '  ', '   ', '\n', '\n\n', '\t', '\r\n', ' \n ', '\u00a0', '\u3000',
  'the', ' hello', 'World', ' 1234567', '3.14', "'s", "'ll", "'RE", ' don\'t',
  ...'一丁七万中国人深度求索龥龦', ...'ぁあゟアヿ・ーｱ', ...'한국', 'é', 'Å', 'ñ', 'e\u0301', 'A\u030a', '\u0301', '\u0308',
  '\u0323', '\u302a', '\u20dd', '\u1100', '\u1161', '\u11a8', ...'яЖλΩعبहिก',
  '😀', '👍🏽', '🇯🇵', '👨‍👩‍👧', '𝐀', '𝑎', '𠀀', '𪚥', '𝟎', '𝟗', '𐍈', '🀄',
  '<think>', '</think>', '<｜User｜>', '<｜Assistant｜>', '<|im_start|>', '<|endoftext|>', '<｜end▁of▁sentence｜>', '<answer>',
];
const randomTexts = [];
for (let i = 0; i < 300; i++) {
  let s = '';
  const n = 1 + Math.floor(random() * 30);
  for (let j = 0; j < n; j++) s += pick(units);
  randomTexts.push(s);
}
const texts = [...JSON.parse(readFileSync(join(data, 'corpus.json'), 'utf8')), ...randomTexts];

// GPT-2/Llama-3 features none of the files above use: the ByteLevel pre-tokenizer's own regex (use_regex),
// ignore_merges with vocabulary words no merge reaches ("abc", "Ġhello", "ĠĠ"), and decoding with
// clean_up_tokenization_spaces (" ." -> "." etc.).
const gpt2 = JSON.parse(readFileSync(join(data, 'byte', 'tokenizer.json'), 'utf8'));
gpt2.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
gpt2.model.ignore_merges = true;
['ab', 'abc', 'Ġh', 'Ġhe', 'll', 'Ġhello', 'ĠĠ'].forEach((token, i) => { gpt2.model.vocab[token] = 265 + i; });
gpt2.model.merges = ['a b', 'Ġ h', 'Ġh e', 'l l'];
mkdirSync(join(data, 'gpt2_style'), { recursive: true });
writeFileSync(join(data, 'gpt2_style', 'tokenizer.json'), JSON.stringify(gpt2, null, 1) + '\n');
writeFileSync(join(data, 'gpt2_style', 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', clean_up_tokenization_spaces: true }) + '\n');

mkdirSync(join(data, 'expected'), { recursive: true });
for (const name of ['deepseek_v3', 'qwen3', 'trained', 'byte', 'gpt2_style']) {
  const tokenizer = await AutoTokenizer.from_pretrained(name);
  const cases = texts.map(text => {
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    return {
      text, ids,
      // transformers.js refuses to decode an empty list; the answer is the empty string.
      decoded: ids.length ? tokenizer.decode(ids) : '',
      decoded_skip_special: ids.length ? tokenizer.decode(ids, { skip_special_tokens: true }) : '',
    };
  });
  write(`${name}.json`, { reference: `@huggingface/transformers ${version}`, tokenizer: name }, cases);
  console.log(`${name}: ${cases.length} cases`);
}

// Our Jinja chat templates, rendered by Hugging Face's Jinja engine.
const templates = JSON.parse(readFileSync(join(data, 'chat-templates.json'), 'utf8'));
const bos_token = '<｜begin▁of▁sentence｜>';
const conversations = [
  [],
  [{ role: 'user', content: 'What is 2+2?' }],
  [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hi' }],
  [{ role: 'system', content: 'Rule one.' }, { role: 'system', content: 'Rule two.' }, { role: 'user', content: 'Go' }],
  [{ role: 'user', content: 'What is 3*4?' }, { role: 'assistant', content: '<think>\n3*4 = 12\n</think>\n\n12' },
   { role: 'user', content: 'And 5*6?' }],
  [{ role: 'user', content: 'A' }, { role: 'assistant', content: 'no reasoning here' }, { role: 'user', content: 'B' },
   { role: 'assistant', content: 'x</think>y</think>\n\nfinal' }],
  [{ role: 'system', content: '多语言 🤗' }, { role: 'user', content: 'line1\nline2' }, { role: 'assistant', content: '</think>' }],
];
const chat = [];
for (const [name, text] of Object.entries(templates)) {
  const template = new Template(text);
  for (const messages of conversations)
    for (const add_generation_prompt of [false, true])
      chat.push({ template: name, messages, add_generation_prompt, rendered: template.render({ messages, add_generation_prompt, bos_token }) });
}
// The trained tokenizer's config must render like the template it names.
const trained = await AutoTokenizer.from_pretrained('trained');
for (const c of chat.filter(c => c.template === 'deepseek-r1' && c.messages.length > 0)) {
  const viaTokenizer = trained.apply_chat_template(c.messages, { tokenize: false, add_generation_prompt: c.add_generation_prompt });
  if (viaTokenizer !== c.rendered) throw new Error(`apply_chat_template differs: ${JSON.stringify(viaTokenizer)}`);
}
write('chat.json', { reference: `@huggingface/jinja via transformers.js ${version}` }, chat);
console.log(`chat: ${chat.length} cases`);

// NFC as node's ICU does it. BMP only: later Unicode versions than our table's added compositions in astral scripts.
const nfc = [];
for (let cp = 0; cp < 0x10000; cp++) {
  if (cp >= 0xd800 && cp < 0xe000) continue;
  if (cp >= 0xac00 && cp <= 0xd7a3 && cp % 101 !== 0) continue; // Hangul syllables are arithmetic: a sample will do
  const c = String.fromCodePoint(cp), d = c.normalize('NFD');
  if (d !== c) nfc.push({ text: c, nfc: c.normalize('NFC') }, { text: d, nfc: d.normalize('NFC') });
}
const bases = [...'aeiouAEOqsSdDnNk', 'ᄀ', 'ᄒ', '가', 'ㄱ', 'ᅡ', 'ᆨ', 'ᅵ', 'ᆷ', 'か', 'ウ', 'ه', 'क', 'ଓ', 'ா'];
const marks = ['\u0300', '\u0301', '\u0302', '\u0303', '\u0307', '\u0308', '\u030a', '\u030c', '\u0323', '\u0327', '\u0328',
  '\u0331', '\u0345', '\u302a', '\u3099', '\u309a', '\u094d', '\u093c', '\u0b3e', '\u0b56', '\u0bbe', '\u0654', '\u0655', '\u1161', '\u11a8'];
for (let i = 0; i < 400; i++) {
  let s = '';
  const n = 1 + Math.floor(random() * 8);
  for (let j = 0; j < n; j++) s += random() < 0.35 ? pick(bases) : pick(marks);
  nfc.push({ text: s, nfc: s.normalize('NFC') });
}
write('nfc.json', { reference: `node ${process.version} String.prototype.normalize (Unicode ${process.versions.unicode})` }, nfc);
console.log(`nfc: ${nfc.length} cases`);
