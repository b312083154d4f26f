#!/usr/bin/env bash
# canopy as a drop-in proxy before Triton, end to end, on this machine:
#   1. prepare a model (CANOPY_EXAMPLE_MODEL: smollm2-135m-instruct by default,
#      tiny-random for a quick smoke run);
#   2. start a real Triton on the reference model repository (models/triton);
#   3. start `canopy serve` before it with examples/canopy.config.yaml;
#   4. talk to canopy as to Triton (health, generate) and as to OpenAI.
# Everything it started stops when it exits. Needs `npm install` (which builds
# canopy), Python 3.11/3.12 and PyPI the first time (for Triton), and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

model="${CANOPY_EXAMPLE_MODEL:-smollm2-135m-instruct}"
work="$(mktemp -d)"
canopy_pid=""
cleanup() {
  if [ -n "$canopy_pid" ]; then kill -TERM "$canopy_pid" 2>/dev/null || true; fi
  node bin/canopy.js triton stop --run-dir "$work/triton" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }

echo "== 1. prepare $model" >&2
if [ "$model" = tiny-random ]; then
  node bin/canopy.js prepare-model --tiny >/dev/null
else
  node bin/canopy.js prepare-model >/dev/null
fi

echo "== 2. start Triton" >&2
triton="$(node bin/canopy.js triton start --model "$model" --run-dir "$work/triton")"
echo "Triton: $triton" >&2

echo "== 3. start canopy before it" >&2
node bin/canopy.js serve --config examples/canopy.config.yaml \
  --upstream "$(field "$triton" http)" --upstream-grpc "$(field "$triton" grpc)" \
  --port 0 --grpc-port 0 >"$work/endpoints" 2>"$work/canopy.log" &
canopy_pid=$!
for _ in $(seq 1 600); do
  [ -s "$work/endpoints" ] && break
  kill -0 "$canopy_pid" 2>/dev/null || { cat "$work/canopy.log" >&2; exit 1; }
  sleep 0.1
done
endpoints="$(cat "$work/endpoints")"
echo "canopy: $endpoints" >&2
proxy="$(field "$endpoints" http)"

echo "== 4. use it" >&2
# Triton's own API passes through unchanged.
curl -sf "$proxy/v2/health/ready" && echo "ready (answered by Triton, through canopy)"
# Triton's generate extension, answered by canopy with speculative decoding.
curl -sf -X POST "$proxy/v2/models/canopy_lm/generate" \
  -d '{"text_input": "The capital of France is", "parameters": {"max_tokens": 24, "temperature": 0}}'
echo
# The OpenAI API on the same model (the model's chat template applies).
curl -sf -X POST "$proxy/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model": "canopy_lm", "messages": [{"role": "user", "content": "Name three colours."}], "max_tokens": 24, "temperature": 0}'
echo
# What speculation did so far.
curl -sf "$proxy/metrics" | grep -E '^canopy_spec_decode_(num_accepted_tokens_total|mean_accepted_length)'

kill -TERM "$canopy_pid"
wait "$canopy_pid"
canopy_pid=""
echo "== canopy stopped gracefully" >&2
