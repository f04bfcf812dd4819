// Usage: node bench.mjs NODE_MODULES TOKENIZER_DIR CORPUS_JSONL [PASSES]
// transformers.js counterpart of bench/TokenizerBench (same corpus, passes and output fields).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

const [modules, tokenizerDir, corpus, passesArg] = process.argv.slice(2);
const passes = Number(passesArg ?? 5);
const require = createRequire(resolve(modules, 'noop.js'));
const { AutoTokenizer, env } = require('@huggingface/transformers');
env.allowRemoteModels = false;
env.localModelPath = dirname(resolve(tokenizerDir)) + '/';

let start = performance.now();
const tokenizer = await AutoTokenizer.from_pretrained(basename(resolve(tokenizerDir)));
const loadSeconds = (performance.now() - start) / 1000;
const texts = readFileSync(corpus, 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l).text);
const chars = texts.reduce((n, t) => n + t.length, 0);

let tokens = 0;
const seconds = [];
let firstPassSeconds = 0;
for (let pass = 0; pass <= passes; pass++) {
  start = performance.now();
  tokens = 0;
  for (const text of texts) tokens += tokenizer.encode(text, { add_special_tokens: false }).length;
  const elapsed = (performance.now() - start) / 1000;
  if (pass === 0) firstPassSeconds = elapsed; // cold: JIT and caches warm up
  else seconds.push(elapsed);
}
seconds.sort((a, b) => a - b);
const median = seconds[Math.floor(seconds.length / 2)];
console.log(JSON.stringify({
  implementation: 'transformers.js ' + JSON.parse(readFileSync(resolve(modules, '@huggingface/transformers/package.json'), 'utf8')).version,
  tokenizer: basename(resolve(tokenizerDir)),
  load_seconds: +loadSeconds.toFixed(3),
  chars, tokens,
  first_pass_seconds: +firstPassSeconds.toFixed(4),
  median_seconds: +median.toFixed(4),
  chars_per_second: Math.round(chars / median),
  tokens_per_second: Math.round(tokens / median),
}));
