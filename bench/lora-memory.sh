#!/usr/bin/env bash
# The training-phase peak resident memory of `r1 sft` on the 1.5B shape (docs/benchmarks.md, "LoRA and gradient
# checkpointing"): VmRSS polled every 0.2 s from the run's first logged step to its exit — the process's lifetime peak
# (VmHWM) is set while the float32 checkpoint loads, which says nothing about LoRA or checkpointing.
#
#   bench/lora-memory.sh NAME [r1 sft flags...]    in a folder holding q15b/, sft.jsonl and bench15.json (see the doc)
set -euo pipefail
name=${1:?usage: bench/lora-memory.sh NAME [r1 sft flags...]}; shift
read -ra r1_command <<< "${R1:-r1}"
rm -rf "bench-runs/$name"
"${r1_command[@]}" sft --model q15b --data sft.jsonl --config bench15.json --runs-dir bench-runs --name "$name" "$@" > "$name.log" 2>&1 &
pid=$!
peak=0; training=0; lifetime=0
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
  hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$hwm" ] && lifetime=$hwm
  if [ "$training" = 0 ] && grep -q '^step 1/' "$name.log"; then training=1; fi
  if [ "$training" = 1 ] && [ -n "$rss" ] && [ "$rss" -gt "$peak" ]; then peak=$rss; fi
  sleep 0.2
done
status=0; wait "$pid" || status=$?
echo "$name [$*] training-phase peak ${peak} kB, lifetime peak ${lifetime} kB, exit $status"
exit "$status"
