#!/usr/bin/env bash
# "Add reasoning to your model", end to end on the CPU (docs/recipe-add-reasoning.md): a `small`-preset student that
# only answers directly gets reasoning from a teacher served over HTTP by `r1 serve` — LoRA SFT on the teacher's
# verified traces, then LoRA GRPO on the task — and full fine-tuning gets the same wall-clock for comparison.
#
#   bench/recipe-add-reasoning.sh [OUT]      (default OUT: recipe-run; a non-empty OUT is refused)
#
# Environment:
#   R1=COMMAND      how to run r1 (default: r1; e.g. "dotnet run --project src/R1Sharp.Cli -c Release --")
#   TEACHER=DIR     a quickstart RL model (<quickstart run>/models/rl) to serve; default: `r1 quickstart` makes one
#   PORT=N          the teacher's port on 127.0.0.1 (default 8093)
#   RECIPE_SIZE     full (default, ~55 min on 2 idle cores plus the teacher) or tiny (seconds; the test's)
# Writes OUT/table.md (the measured table), OUT/eval/<row>-<split>/eval.json, OUT/times.tsv and the runs in OUT/runs.
set -euo pipefail

out=${1:-recipe-run}
read -ra r1_command <<< "${R1:-r1}"
r1() { "${r1_command[@]}" "$@"; }
port=${PORT:-8093}

case ${RECIPE_SIZE:-full} in
  full)
    quickstart=(); preset=small; lora_r=16
    pretrain_steps=500; pretrain_batch=32; pretrain_seq=64
    sample_prompts=4000; keep=correct
    sft_steps=800; sft_batch=32
    grpo_steps=60; prompts_per_step=16; generations=8; max_tokens=64
    eval_prompts=200; eval_samples=4 ;;
  tiny)
    quickstart=(--tiny); preset=tiny; lora_r=4
    pretrain_steps=3; pretrain_batch=4; pretrain_seq=32
    sample_prompts=6; keep=all            # a seconds-long teacher is never right: keep every well-formed trace
    sft_steps=3; sft_batch=4
    grpo_steps=2; prompts_per_step=2; generations=2; max_tokens=16
    eval_prompts=3; eval_samples=2 ;;
  *) echo "error: RECIPE_SIZE must be full or tiny, not '${RECIPE_SIZE}'" >&2; exit 2 ;;
esac

if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then echo "error: $out exists and is not empty" >&2; exit 2; fi
mkdir -p "$out/eval"
runs=$out/runs
printf 'stage\tseconds\n' > "$out/times.tsv"
# Runs a stage and records its wall-clock (the whole command: loading, training, saving). Its output goes to stderr:
# standard output is the table alone.
stage() {
  local name=$1 start=$SECONDS; shift
  echo "== $name: $*" >&2
  "$@" >&2
  printf '%s\t%s\n' "$name" $((SECONDS - start)) >> "$out/times.tsv"
}
# The first number a JSON file gives a key (the files read here are r1's own, one key per name).
json_number() { grep -o "\"$2\": *[-0-9.eE+]*" "$1" | head -n 1 | sed 's/.*: *//'; }

# 1. The teacher: a quickstart RL model (R1-Zero at laptop scale: it thinks in worked column additions).
teacher=${TEACHER:-}
if [ -z "$teacher" ]; then
  stage teacher r1 quickstart "${quickstart[@]}" --runs-dir "$runs" --name teacher
  teacher=$runs/teacher/models/rl
fi

# 2. The student: the small preset with the teacher's tokenizer (so the teacher's traces are its text), pretrained on
#    the quickstart's problems answered directly only — no worked columns, nothing inside <think>.
echo '{"direct_share": 1, "harder_direct_share": 1, "direct_forget_carry_share": 0}' > "$out/direct.json"
stage corpus r1 quickstart corpus "${quickstart[@]}" --config "$out/direct.json" --out "$out/direct.jsonl"
stage init r1 init --arch llama --preset "$preset" --tokenizer "$teacher" --seed 1 --out "$out/student-init"
cat > "$out/pretrain.json" <<JSON
{"max_steps": $pretrain_steps, "batch_size": $pretrain_batch, "max_seq_length": $pretrain_seq, "learning_rate": 1e-3,
 "warmup_steps": $(( pretrain_steps / 10 )), "eval_steps": $(( pretrain_steps / 4 > 0 ? pretrain_steps / 4 : 1 )), "save_steps": 0, "seed": 1}
JSON
stage pretrain r1 pretrain --model "$out/student-init" --data "$out/direct.jsonl" --config "$out/pretrain.json" \
  --runs-dir "$runs" --name student-pretrain --out "$out/student-base"

# 3. The teacher over HTTP: r1 serve on loopback; verified traces from it; its own scores by the same protocol.
"${r1_command[@]}" serve --model "$teacher" --host 127.0.0.1 --port "$port" --max-batch 32 >&2 &
serve_pid=$!   # the server's own process (not a subshell's), so kill stops it
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "error: r1 serve stopped before it listened on port $port" >&2; exit 1; }
  sleep 0.5
done
endpoint=(--endpoint "http://127.0.0.1:$port/v1" --endpoint-model "$(basename "$teacher")")
stage sample r1 sample "${endpoint[@]}" --task quickstart --samples 1 --prompts "$sample_prompts" --temperature 1.0 --top-p 1.0 \
  --max-tokens "$max_tokens" --keep "$keep" --concurrency 16 --seed 1 --out "$out/traces.jsonl"
evaluate() {  # evaluate ROW MODEL-FLAGS...: held-out and harder splits, R1's protocol (k samples at T 0.6, top-p 0.95)
  local row=$1; shift
  for split in test harder; do
    stage "eval $row $split" r1 eval "$@" --task quickstart --split "$split" --prompts "$eval_prompts" --samples "$eval_samples" \
      --max-tokens "$max_tokens" --out "$out/eval/$row-$split"
  done
}
evaluate teacher "${endpoint[@]}"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
trap - EXIT

evaluate base --model "$out/student-base"

# 4. LoRA SFT on the verified traces: the student learns to think as the teacher does (R1's cold start / distillation).
cat > "$out/sft.json" <<JSON
{"batch_size": $sft_batch, "max_seq_length": 128, "eval_steps": 0, "save_steps": 0, "seed": 1}
JSON
stage lora-sft r1 sft --model "$out/student-base" --data "$out/traces.jsonl" --config "$out/sft.json" --max-steps "$sft_steps" \
  --lora-r "$lora_r" --learning-rate 2e-3 --runs-dir "$runs" --name lora-sft --out "$out/lora-sft"
evaluate lora-sft --model "$out/student-base" --adapter "$out/lora-sft"

# 5. LoRA GRPO on the task (R1's reasoning RL), a second adapter over the SFT model (the first one merged in).
stage merge r1 merge --model "$out/student-base" --adapter "$out/lora-sft" --out "$out/student-sft"
grpo=(--task quickstart --num-generations "$generations" --prompts-per-step "$prompts_per_step" --max-completion-length "$max_tokens"
      --temperature 1.0 --loss-type dapo --beta 0 --max-steps "$grpo_steps" --seed 1)
stage lora-grpo r1 grpo --model "$out/student-sft" "${grpo[@]}" --lora-r "$lora_r" --learning-rate 3e-4 \
  --runs-dir "$runs" --name lora-grpo --out "$out/lora-grpo"
evaluate lora-grpo --model "$out/student-sft" --adapter "$out/lora-grpo"

# 6. Full fine-tuning for the same wall-clock: the same two stages on every weight (at full fine-tuning's usual, lower
#    learning rates), each stopped after the training seconds its LoRA stage took.
train_seconds() { grep -o '"elapsed_seconds": *[0-9.eE+-]*' "$runs/$1"/checkpoints/*/trainer_state.json | tail -n 1 | sed 's/.*: *//'; }
stage full-sft r1 sft --model "$out/student-base" --data "$out/traces.jsonl" --config "$out/sft.json" --max-steps "$sft_steps" \
  --max-seconds "$(train_seconds lora-sft)" --learning-rate 3e-4 --runs-dir "$runs" --name full-sft --out "$out/full-sft"
evaluate full-sft --model "$out/full-sft"
stage full-grpo r1 grpo --model "$out/full-sft" "${grpo[@]}" --max-seconds "$(train_seconds lora-grpo)" --learning-rate 1e-4 \
  --runs-dir "$runs" --name full-grpo --out "$out/full-grpo"
evaluate full-grpo --model "$out/full-grpo"

# 7. The table.
percent() { awk -v x="$1" 'BEGIN { printf "%.1f", 100 * x }'; }
bytes() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
model_bytes=$(bytes "$out/student-base/model.safetensors")
{
  echo "| model | held-out pass@1 | held-out cons@$eval_samples | harder pass@1 | harder cons@$eval_samples | held-out response tokens | trained and saved | training s | steps |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  row() {  # row LABEL EVAL-ROW SAVED RUN
    local test=$out/eval/$2-test/eval.json harder=$out/eval/$2-harder/eval.json seconds="" steps=""
    if [ -n "$4" ]; then seconds=$(printf '%.0f' "$(train_seconds "$4")"); steps=$(grep -o '"step": *[0-9]*' "$runs/$4/metrics.jsonl" | tail -n 1 | sed 's/.*: *//'); fi
    echo "| $1 | $(percent "$(json_number "$test" 'pass@1')") | $(percent "$(json_number "$test" 'cons@k')") |" \
         "$(percent "$(json_number "$harder" 'pass@1')") | $(percent "$(json_number "$harder" 'cons@k')") |" \
         "$(printf '%.1f' "$(json_number "$test" mean_response_tokens)") | $3 | $seconds | $steps |"
  }
  row "student base (direct answers only)" base "$(mib "$model_bytes") MiB model" student-pretrain
  row "+ LoRA SFT on the teacher's traces (r = $lora_r)" lora-sft "$(mib "$(bytes "$out/lora-sft/adapter_model.safetensors")") MiB adapter" lora-sft
  row "+ LoRA GRPO (second adapter, r = $lora_r)" lora-grpo "$(mib "$(bytes "$out/lora-grpo/adapter_model.safetensors")") MiB adapter" lora-grpo
  row "full SFT, LoRA SFT's wall-clock" full-sft "$(mib "$(bytes "$out/full-sft/model.safetensors")") MiB model" full-sft
  row "+ full GRPO, LoRA GRPO's wall-clock" full-grpo "$(mib "$(bytes "$out/full-grpo/model.safetensors")") MiB model" full-grpo
  row "teacher: quickstart RL over r1 serve" teacher "" ""
  echo
  echo "traces: $(json_number "$out/traces.summary.json" traces_written) written ($keep) from $sample_prompts prompts;" \
       "model $model_bytes bytes, LoRA SFT adapter $(bytes "$out/lora-sft/adapter_model.safetensors") bytes"
  echo "code: $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown);" \
       "CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores," \
       "flags: $(grep -o -w -E 'avx512f|avx512_bf16|avx512_vnni|amx_tile|amx_bf16' /proc/cpuinfo 2>/dev/null | sort -u | tr '\n' ' ')"
} > "$out/table.md"
cat "$out/table.md"
echo "done: $out/table.md (stage wall-clock in $out/times.tsv, $SECONDS s in all)" >&2
