#!/usr/bin/env bash
# Encoding speed of R1Sharp's HfTokenizer against Hugging Face's transformers.js, same corpus, same machine, one run.
# Usage (from the repo root): bash bench/tokenizers/run.sh [NODE_MODULES]
#   NODE_MODULES defaults to /tmp/hf/node_modules, installed with:
#   npm install --prefix /tmp/hf --ignore-scripts @huggingface/transformers@4.3.2
# Corpus: every committed .cs and .md file under src/ and docs/, the tokenizer test texts (English, CJK, code, LaTeX, digits,
# whitespace, emoji, special tokens) and the trainer test corpus, one JSONL line per document.
set -euo pipefail
modules=${1:-/tmp/hf/node_modules}
data=tests/R1Sharp.Tests/Data/tokenizers
corpus=$(mktemp --suffix=.jsonl)
trap 'rm -f "$corpus"' EXIT

node -e '
const fs = require("fs");
const [out, data, ...files] = process.argv.slice(1);
const docs = files.map(f => fs.readFileSync(f, "utf8"));
docs.push(...JSON.parse(fs.readFileSync(data + "/corpus.json", "utf8")));
docs.push(fs.readFileSync(data + "/train-corpus.txt", "utf8"));
fs.writeFileSync(out, docs.filter(d => d.length).map(text => JSON.stringify({ text })).join("\n") + "\n");
' "$corpus" "$data" $(git ls-files 'src/*.cs' 'src/*.md' 'docs/*.md')

dotnet build -c Release bench/TokenizerBench -v q -nologo > /dev/null
for name in deepseek_v3 qwen3; do
  ours=$(dotnet bench/TokenizerBench/bin/Release/net10.0/TokenizerBench.dll "$data/$name" "$corpus")
  theirs=$(node bench/tokenizers/bench.mjs "$modules" "$data/$name" "$corpus")
  echo "$ours"
  echo "$theirs"
  node -e '
const [a, b] = process.argv.slice(1).map(JSON.parse);
if (a.tokens !== b.tokens) throw new Error(`token counts differ: ${a.tokens} vs ${b.tokens}`);
console.log(`${a.tokenizer}: ${a.chars} chars -> ${a.tokens} tokens; R1Sharp ${(a.chars_per_second / 1e6).toFixed(2)} M chars/s, ` +
  `transformers.js ${(b.chars_per_second / 1e6).toFixed(2)} M chars/s; speed ratio R1Sharp/transformers.js = ` +
  `${(a.chars_per_second / b.chars_per_second).toFixed(2)}x warm (median pass), ${(b.first_pass_seconds / a.first_pass_seconds).toFixed(2)}x cold (first pass)`);
' "$ours" "$theirs"
done
