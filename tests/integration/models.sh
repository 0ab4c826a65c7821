#!/bin/sh
# models.sh — run, compare, sweep and embed end to end, on a `gguf random` model and on the
# loopback API server (build/tests/fakeapi: an echo model speaking the OpenAI and Anthropic
# wire formats), and the rule that an API key never appears in any output of any command.
# Prints "ok NAME" per check and exits non-zero at the first failure.
set -u
LLMKIT=${LLMKIT:-build/llmkit}
FAKEAPI=${FAKEAPI:-build/tests/fakeapi}
TD=${LK_TESTDATA:-../shared/testdata}
T=$(mktemp -d)
FPID=""
cleanup() { [ -n "$FPID" ] && kill "$FPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/  stderr: /' "$T/err" | head -20; exit 1; }
ok() { echo "ok $1"; }

if [ ! -f "$TD/tokenizers/ggml-vocab-llama-spm.gguf" ]; then
    if [ "${CI:-}" = "true" ]; then echo "FAIL testdata missing at $TD (required under CI)"; exit 1; fi
    echo "skip models: test data folder $TD is absent"; exit 0
fi
# every command goes through a wrapper that also appends its output to $T/all, so that the last
# check can look for the API key in everything any command printed
REAL_LLMKIT=$LLMKIT
LLMKIT=$T/llmkit
cat > "$LLMKIT" <<WRAP
#!/bin/sh
o=\$(mktemp); e=\$(mktemp)
"$REAL_LLMKIT" "\$@" > "\$o" 2> "\$e"; rc=\$?
cat "\$o"; cat "\$e" >&2; cat "\$o" "\$e" >> "$T/all"; rm -f "\$o" "\$e"; exit \$rc
WRAP
chmod +x "$LLMKIT"

"$LLMKIT" gguf random --vocab-from "$TD/tokenizers/ggml-vocab-llama-spm.gguf" --layers 2 --dim 64 --heads 4 \
    --kv-heads 2 --ffn 128 --type q8_0 --seed 3 -o "$T/a.gguf" 2>"$T/err" || fail "gguf random"

# the loopback API server, with a key; a FIFO keeps its stdin open until we are done
KEY="sk-test-0123456789abcdefSECRET"
mkfifo "$T/fifo"
"$FAKEAPI" --key "$KEY" --split 7 < "$T/fifo" > "$T/port" 2>"$T/fake.err" &
FPID=$!
exec 9>"$T/fifo"
i=0; while [ ! -s "$T/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
PORT=$(head -1 "$T/port")
[ -n "$PORT" ] || fail "fakeapi did not start"
URL="http://127.0.0.1:$PORT"
export OPENAI_API_KEY="$KEY" ANTHROPIC_API_KEY="$KEY" LLMKIT_API_KEY="$KEY"
export OPENAI_BASE_URL="$URL/v1" ANTHROPIC_BASE_URL="$URL"

# run: the same command for every kind of model
for spec in "$T/a.gguf" "openai:gpt-4o-mini" "anthropic:claude-haiku-4-5" "$URL/v1#echo"; do
    "$LLMKIT" run -m "$spec" -p "alpha beta gamma" -n 4 --temp 0 > "$T/out" 2>"$T/err" || fail "run $spec"
    [ -s "$T/out" ] || fail "run $spec printed an answer"
    grep -q "first token .* ms | generated .* tokens" "$T/err" || fail "run $spec prints timings"
    "$LLMKIT" run -m "$spec" -p "alpha beta gamma" -n 4 --temp 0 --json --no-stream > "$T/out" 2>"$T/err" || fail "run --json $spec"
    python3 - "$T/out" <<'PY' || fail "run --json $spec has the common response shape"
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("text", "tool_calls", "finish_reason", "model", "id", "usage", "timings", "cost_usd", "warnings"):
    assert k in r, k
assert r["usage"]["prompt_tokens"] > 0 and r["usage"]["completion_tokens"] > 0, r
assert r["timings"]["total_s"] > 0, r
PY
done
"$LLMKIT" run -m "openai:gpt-4o-mini" -p "alpha beta" -n 3 > "$T/out" 2>"$T/err" || fail "run openai"
grep -q '^echo: alpha beta' "$T/out" || fail "openai answer streamed: $(cat "$T/out")"
grep -q '| \$0.0000' "$T/err" || fail "run prints the cost of an openai model"
"$LLMKIT" run -m "anthropic:claude-haiku-4-5" -p "x" --min-p 0.1 -n 2 > /dev/null 2>"$T/err" || fail "run anthropic --min-p"
grep -q "warning: min_p: ignored" "$T/err" || fail "an unsupported setting is reported"
"$LLMKIT" run -m "anthropic:claude-haiku-4-5" -p "x" --min-p 0.1 --strict 2>"$T/err"; [ $? -eq 1 ] || fail "--strict fails"
grep -q "cannot honour min_p" "$T/err" || fail "--strict names the setting"
ok run-every-backend

# errors: a wrong key is the provider's 401 with its message, and the key is not in it
OPENAI_API_KEY="sk-wrong-key-000000000000SECRET" "$LLMKIT" run -m openai:gpt-4o-mini -p x > "$T/out" 2>"$T/err"
[ $? -eq 1 ] || fail "wrong key exits 1"
grep -q "HTTP 401" "$T/err" || fail "401 reported"
grep -q "SECRET" "$T/out" "$T/err" && fail "the wrong key leaked into the output"
unset LLMKIT_API_KEY
"$LLMKIT" run -m "http://127.0.0.1:1/v1#m" -p x --retries 1 --timeout 5 2>"$T/err"; [ $? -eq 1 ] || fail "refused connection exits 1"
grep -q "127.0.0.1:1" "$T/err" || fail "refused connection names the URL"
export LLMKIT_API_KEY="$KEY"
ok api-errors

# compare: a local model and two API models side by side
"$LLMKIT" compare -m "$T/a.gguf" -m openai:gpt-4o-mini -m "anthropic:claude-haiku-4-5" -p "one two three" \
    -n 4 --runs 2 -q > "$T/out" 2>"$T/err" || fail compare
grep -q "latency ms" "$T/out" && grep -q "openai:gpt-4o-mini *openai *2/2" "$T/out" || fail "compare table: $(cat "$T/out")"
"$LLMKIT" compare -m "$T/a.gguf" -m "anthropic:claude-haiku-4-5" -p "one" -n 2 --runs 1 > "$T/out" 2>"$T/err" || fail "compare local then anthropic"
grep -q "warning" "$T/err" && fail "the local model's seed is not sent to the next model"
"$LLMKIT" compare -m "$T/a.gguf" -m openai:gpt-4o-mini -p "one two" -n 4 --runs 2 --json -q > "$T/out" 2>"$T/err" || fail "compare --json"
python3 - "$T/out" <<'PY' || fail "compare --json"
import json, sys
r = json.load(open(sys.argv[1]))
assert [m["backend"] for m in r["models"]] == ["local", "openai"], r
for m in r["models"]:
    assert len(m["runs"]) == 2 and all(x["error"] is None and x["latency_s"] > 0 for x in m["runs"]), m
assert r["models"][0]["runs"][0]["cost_usd"] == 0
assert r["models"][1]["runs"][0]["cost_usd"] > 0
PY
"$LLMKIT" compare -m "$T/a.gguf" -m openai:gpt-4o-mini -p "one two" -n 4 --runs 1 --csv -q > "$T/out" 2>"$T/err" || fail "compare --csv"
python3 -c 'import csv,sys; rows=list(csv.reader(open(sys.argv[1]))); assert rows[0][0]=="model" and len(rows)==3, rows' "$T/out" || fail "compare --csv parses"
"$LLMKIT" compare -m "$T/a.gguf" -p "a prompt of several words" -n 2 --runs 3 --json -q > "$T/cold" 2>"$T/err" || fail "compare cold"
"$LLMKIT" compare -m "$T/a.gguf" -p "a prompt of several words" -n 2 --runs 3 --json -q --warm > "$T/warm" 2>"$T/err" || fail "compare --warm"
python3 - "$T/cold" "$T/warm" <<'PY' || fail "compare measures cold prompts unless --warm"
import json, sys
cold, warm = (json.load(open(p))["models"][0]["runs"] for p in sys.argv[1:3])
assert all(r["cached_tokens"] == 0 for r in cold), cold
assert warm[0]["cached_tokens"] == 0 and all(r["cached_tokens"] > 0 for r in warm[1:]), warm
PY
"$LLMKIT" compare -m "$T/a.gguf" -m "$T/missing.gguf" -p "x" -n 2 --runs 1 -q > "$T/out" 2>"$T/err"; [ $? -eq 1 ] || fail "compare with a failing model exits 1"
grep -q "missing.gguf .* 0/1" "$T/out" || fail "the failing model has its row"
ok compare

# sweep: a grid on the local model and on the echo server, files written
"$LLMKIT" sweep -m "$T/a.gguf" -p "Tell me" --temp 0,1.5 --top-k 0,5 --samples 3 -n 8 --out "$T/sw" -q > "$T/out" 2>"$T/err" || fail sweep
grep -q "4 settings x 1 prompt x 3 samples" "$T/out" || fail "sweep header"
grep -q "temp=0 top_k=0" "$T/out" || fail "sweep setting labels"
[ "$(wc -l < "$T/sw/samples.jsonl")" -eq 12 ] || fail "12 samples in samples.jsonl"
python3 - "$T/sw" <<'PY' || fail "sweep outputs"
import csv, json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/settings.csv")))
assert len(rows) == 4, rows
greedy = [r for r in rows if r["setting"].startswith("temp=0 ")]
assert all(float(r["self-BLEU"]) > 0.99 for r in greedy), greedy   # greedy samples are identical
samples = [json.loads(l) for l in open(d + "/samples.jsonl")]
assert {s["seed"] for s in samples} == {1, 2, 3}, samples[:3]
ET.parse(d + "/sweep.svg")
PY
"$LLMKIT" sweep -m "$T/a.gguf" -p "Tell me" --temp 1 --samples 1 -n 4 -q > "$T/out" 2>"$T/err" || fail "sweep --samples 1"
grep -q "temp=1 .* - .* - " "$T/out" || fail "pairwise metrics of one sample are '-', not 0: $(cat "$T/out")"
printf 'first prompt here\n# a comment\n\nsecond prompt there\n' > "$T/prompts.txt"
"$LLMKIT" sweep -m openai:gpt-4o-mini --prompts "$T/prompts.txt" --temp 0,1 --samples 2 -n 6 -q > "$T/out" 2>"$T/err" || fail "sweep on the API"
grep -q "2 settings x 2 prompts x 2 samples" "$T/out" || fail "sweep reads a prompts file"
printf '{"prompt": "a"}\n{"nope": 1}\n' > "$T/p.jsonl"
"$LLMKIT" sweep -m "$T/a.gguf" --prompts "$T/p.jsonl" 2>"$T/err"; [ $? -eq 1 ] || fail "bad prompts file exits 1"
grep -q "p.jsonl:2: field \"prompt\"" "$T/err" || fail "bad prompts file names the line"
"$LLMKIT" sweep -m "$T/a.gguf" -p x --temp 0,abc 2>"$T/err"; [ $? -eq 2 ] || fail "bad --temp list exits 2"
ok sweep

# embed: builtin:hash, a local model, the API
"$LLMKIT" embed "the cat sat" "a cat sat down" "stocks fell" --cosine -q > "$T/out" 2>"$T/err" || fail "embed --cosine"
"$LLMKIT" embed -m "$T/a.gguf" "one" "two" -q > "$T/out" 2>"$T/err" || fail "embed local"
[ "$(wc -l < "$T/out")" -eq 2 ] || fail "one line per text"
"$LLMKIT" embed -m openai:text-embedding-3-small "one" "two" -q > "$T/out" 2>"$T/err" || fail "embed openai"
python3 -c 'import json,sys; v=[json.loads(l)["embedding"] for l in open(sys.argv[1])]; assert len(v)==2 and abs(sum(x*x for x in v[0])-1)<1e-4' "$T/out" || fail "embed vectors are unit length"
ok embed

# the key never appears in anything any command printed or wrote
[ -s "$T/all" ] || fail "outputs were collected"
grep -q "$KEY" "$T/all" && fail "the API key appears in an output"
grep -rq "$KEY" "$T/sw" && fail "the API key appears in a written file"
ok key-never-printed
