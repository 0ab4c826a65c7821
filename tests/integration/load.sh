#!/bin/sh
# load.sh — `llmkit load` end to end against the loopback API server (build/tests/fakeapi, the
# echo model in the OpenAI and Anthropic formats): a closed-loop sweep with --out (results.json
# parses and has every request, points.csv has a row per point, both SVG charts parse as XML),
# an open-loop Poisson sweep on the Anthropic format, --json, the errors (a refused connection,
# a bad --slo, an empty prompts file) and the rule that the API key never appears in any output.
# Prints "ok NAME" per check and exits non-zero at the first failure.
set -u
LLMKIT=${LLMKIT:-build/llmkit}
FAKEAPI=${FAKEAPI:-build/tests/fakeapi}
T=$(mktemp -d)
FPID=""
cleanup() { [ -n "$FPID" ] && kill "$FPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/  stderr: /' "$T/err" | head -20; exit 1; }
ok() { echo "ok $1"; }

# the loopback API server, with a key; a FIFO keeps its stdin open until we are done
KEY="sk-load-test-0123456789SECRET"
mkfifo "$T/fifo"
"$FAKEAPI" --key "$KEY" --split 9 < "$T/fifo" > "$T/port" 2>"$T/fake.err" &
FPID=$!
exec 9>"$T/fifo"
i=0; while [ ! -s "$T/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
PORT=$(head -1 "$T/port")
[ -n "$PORT" ] || fail "fakeapi did not start"
URL="http://127.0.0.1:$PORT/v1"
export LLMKIT_API_KEY="$KEY"
: > "$T/all"

# a closed-loop sweep with every output file
"$LLMKIT" load --url "$URL" --model echo --concurrency 1,2 --requests 4 --prompt-tokens 12 --max-tokens 8 \
    --slo ttft=2s,tpot=1s --out "$T/out" > "$T/out.txt" 2>"$T/err" || fail "load --concurrency 1,2"
cat "$T/out.txt" "$T/err" >> "$T/all"
grep -q "concurrency" "$T/out.txt" && grep -q "goodput" "$T/out.txt" || fail "table header: $(cat "$T/out.txt")"
grep -q "^1  *4/4 " "$T/out.txt" && grep -q "^2  *4/4 " "$T/out.txt" || fail "a row per point: $(cat "$T/out.txt")"
for f in results.json points.csv throughput.svg latency.svg; do [ -s "$T/out/$f" ] || fail "$f written"; done
ls "$T/out" | grep -q tmp && fail "no temporary files left"
python3 - "$T/out" <<'PY' || fail "output files parse"
import csv, json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
r = json.load(open(d + "/results.json"))
assert r["model"] == "echo" and r["api"] == "openai", r
pts = r["points"]
assert [p["value"] for p in pts] == [1, 2], pts
for p in pts:
    assert p["mode"] == "concurrency" and p["completed"] == 4 and p["failed"] == 0, p
    assert p["max_in_flight"] <= p["value"], p
    assert len(p["requests_detail"]) == 4
    for q in p["requests_detail"]:
        assert q["ok"] and q["output_tokens"] == 8 and q["usage_reported"], q
        assert 0 <= q["ttft_s"] <= q["e2e_s"], q
        assert len(q["itl_s"]) == q["deltas"] - 1, q
    assert p["output_throughput"] > 0 and p["good"] == 4, p
    for m in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
        s = p[m]
        assert s["p50"] <= s["p90"] <= s["p95"] <= s["p99"], (m, s)
rows = list(csv.DictReader(open(d + "/points.csv")))
assert len(rows) == 2 and rows[0]["mode"] == "concurrency" and rows[1]["value"] == "2", rows
assert rows[0]["completed"] == "4" and float(rows[0]["ttft_p95_s"]) >= 0, rows[0]
for f in ("throughput.svg", "latency.svg"):
    root = ET.parse(d + "/" + f).getroot()
    assert root.tag.endswith("svg"), root.tag
PY
ok closed-loop-outputs

# open loop, Poisson arrivals, the Anthropic format, JSON on stdout
"$LLMKIT" load --url "$URL" --model echo --api anthropic --rate 20,40 --poisson --requests 6 --max-tokens 4 \
    --seed 3 --json -q > "$T/out.json" 2>"$T/err" || fail "load --rate --poisson --api anthropic"
cat "$T/out.json" "$T/err" >> "$T/all"
python3 - "$T/out.json" <<'PY' || fail "open-loop JSON"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["api"] == "anthropic" and r["seed"] == 3, r
assert [p["mode"] for p in r["points"]] == ["poisson", "poisson"], r["points"]
for p in r["points"]:
    assert p["completed"] == 6, p
    t = [q["t_sched"] for q in p["requests_detail"]]
    assert t == sorted(t) and t[0] == 0, t
    assert all(q["t_start"] >= q["t_sched"] - 1e-6 for q in p["requests_detail"])
PY
ok open-loop-anthropic

# the legacy /completions format (no chat template or output parsing on the server's side)
"$LLMKIT" load --url "$URL" --model echo --api completions --concurrency 2 --requests 4 --max-tokens 4 \
    --json -q > "$T/out.json" 2>"$T/err" || fail "load --api completions"
cat "$T/out.json" "$T/err" >> "$T/all"
python3 - "$T/out.json" <<'PY' || fail "completions JSON"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["api"] == "completions", r
p = r["points"][0]
assert p["completed"] == 4 and p["failed"] == 0, p
assert all(q["output_tokens"] > 0 and q["ttft_s"] > 0 for q in p["requests_detail"]), p["requests_detail"]
PY
ok completions-api

# a duration instead of a count, warm-up, prompts from a file
printf '{"prompt": "one two three"}\n{"messages": [{"role": "user", "content": "four five"}]}\n' > "$T/p.jsonl"
"$LLMKIT" load --url "$URL" --model echo -c 2 --duration 0.5 --warmup 2 --prompts "$T/p.jsonl" -q > "$T/out.txt" 2>"$T/err" \
    || fail "load --duration --prompts"
cat "$T/out.txt" "$T/err" >> "$T/all"
grep -q "2 prompts from" "$T/out.txt" || fail "prompts file named: $(cat "$T/out.txt")"
ok duration-and-prompts

# errors: a server that refuses connections, a bad --slo, an empty prompts file
"$LLMKIT" load --url "http://127.0.0.1:1/v1" --model echo -c 1 -n 1 > "$T/out.txt" 2>"$T/err"; [ $? -eq 1 ] || fail "refused connection exits 1"
grep -q "127.0.0.1:1/v1: cannot connect" "$T/err" || fail "refused connection names the URL"
"$LLMKIT" load --url "$URL" --model echo --slo ttft=fast > /dev/null 2>"$T/err"; [ $? -eq 2 ] || fail "bad --slo exits 2"
grep -q "ttft=fast" "$T/err" || fail "bad --slo names the item"
: > "$T/empty.jsonl"
"$LLMKIT" load --url "$URL" --model echo --prompts "$T/empty.jsonl" > /dev/null 2>"$T/err"; [ $? -eq 1 ] || fail "empty prompts file exits 1"
grep -q "empty.jsonl: no prompts" "$T/err" || fail "empty prompts file named"
printf '{"prompt": "a"}\n{"prompt": 5}\n' > "$T/bad.jsonl"
"$LLMKIT" load --url "$URL" --model echo --prompts "$T/bad.jsonl" > /dev/null 2>"$T/err"; [ $? -eq 1 ] || fail "bad prompts file exits 1"
grep -q "bad.jsonl:2: " "$T/err" || fail "bad prompts file names the line"
"$LLMKIT" load --url "$URL" --model echo --concurrency 1 --rate 2 > /dev/null 2>"$T/err"; [ $? -eq 2 ] || fail "both loops exit 2"
"$LLMKIT" load --url "$URL" --model echo --concurrency 1.5 > /dev/null 2>"$T/err"; [ $? -eq 2 ] || fail "fractional concurrency exits 2"
ok errors

# a wrong key: every request fails with the server's 401, the run exits 1, the key is not shown
LLMKIT_API_KEY="sk-wrong-key-987654321SECRET" "$LLMKIT" load --url "$URL" --model leaky -c 1 -n 2 --out "$T/bad" \
    > "$T/out.txt" 2>"$T/err"; [ $? -eq 1 ] || fail "a wrong key exits 1"
cat "$T/out.txt" "$T/err" "$T/bad/results.json" >> "$T/all"
grep -q "HTTP 401" "$T/err" || fail "401 reported"
grep -q "987654321SECRET" "$T/all" && fail "the wrong key leaked"
echo "$KEY" > "$T/keyfile"
env -u LLMKIT_API_KEY "$LLMKIT" load --url "$URL" --model echo -c 1 -n 2 --key-file "$T/keyfile" -q > "$T/out.txt" 2>"$T/err" \
    || fail "--key-file"
cat "$T/out.txt" "$T/err" >> "$T/all"
grep -q "SECRET" "$T/all" && fail "the API key appears in an output"
grep -rq "SECRET" "$T/out" && fail "the API key appears in a written file"
ok key-never-printed
