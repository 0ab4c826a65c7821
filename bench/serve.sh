#!/bin/sh
# serve.sh — serving on this machine: `llmkit load` sweeps against `llmkit serve`, and against
# llama.cpp's server on the same file when one is given.
#
# 1. Throughput: a closed-loop concurrency sweep (1, 2, 4, 8, 16 requests in flight) on the
#    SmolLM2-135M-shape Q8_0 model (bench/models.sh), 128-token prompts, 128 tokens out.
# 2. Prefix cache: requests that share a ~1,000-token system prompt, one at a time; the first
#    pays for the system prompt, the later ones find it cached. Reports the first request's
#    time to first token and the p50 of the others.
# 3. With LLAMA_SERVER=/path/to/llama-server: the same sweep against llama.cpp's server
#    (same file, same threads, as many parallel slots), back to back.
# The sweeps use the legacy /v1/completions endpoint (`llmkit load --api completions`): llama.cpp's
# chat endpoint parses a random model's output for tool calls and reasoning and rejects a quarter
# to a third of the answers ("does not match the expected peg-native format"), which would count
# as failures that have nothing to do with speed.
# Prints the tables and writes DIR/serve.json.
#
#   bench/serve.sh [-t THREADS] [--concurrency 1,2,4,8,16] [--requests N] [--max-tokens N]
#   env: LLMKIT (build/llmkit), LLAMA_SERVER (unset: skip llama.cpp), BENCH_DIR (build/bench),
#        LK_TESTDATA (../shared/testdata, for the vocabulary)
set -eu
cd "$(dirname "$0")/.."
LLMKIT=${LLMKIT:-build/llmkit}
DIR=${BENCH_DIR:-build/bench}
TD=${LK_TESTDATA:-../shared/testdata}
THREADS=$(nproc); CONC=1,2,4,8,16; REQS=""; MAXTOK=128; SLOTS=16
while [ $# -gt 0 ]; do
    case "$1" in
        -t) THREADS=$2; shift 2 ;;
        --concurrency) CONC=$2; shift 2 ;;
        --requests) REQS=$2; shift 2 ;;
        --max-tokens) MAXTOK=$2; shift 2 ;;
        *) echo "usage: bench/serve.sh [-t N] [--concurrency 1,2,4,8,16] [--requests N] [--max-tokens N]" >&2; exit 2 ;;
    esac
done
mkdir -p "$DIR"
[ -x "$LLMKIT" ] || make -s all
. bench/models.sh
MODEL=$(bench_model 135m q8_0)
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { # URL
    i=0
    while ! curl -sf "$1/health" > /dev/null 2>&1; do
        i=$((i+1)); [ $i -gt 600 ] && { echo "serve.sh: $1 did not come up" >&2; exit 1; }
        sleep 0.1
    done
}
reqs_arg() { [ -n "$REQS" ] && echo "--requests $REQS" || true; }

# the shared-prefix prompts: a ~1,000-token system prompt, then a different question each
python3 - "$DIR/prefix.jsonl" <<'EOF'
import json, random, sys
random.seed(7)
words = ("the model reads every weight once per token so the ceiling is memory bandwidth divided by the "
         "bytes of weights while prompt processing is bound by arithmetic and batching many sequences "
         "shares each weight read among them").split()
system = " ".join(random.choice(words) for _ in range(760))
with open(sys.argv[1], "w") as f:
    for i in range(9):
        f.write(json.dumps({"messages": [{"role": "system", "content": system},
                                         {"role": "user", "content": f"question {i}: what is {random.random():.6f}?"}]}) + "\n")
EOF

run_sweep() { # NAME URL MODEL OUT
    echo "== $1: concurrency $CONC"
    # shellcheck disable=SC2046
    "$LLMKIT" load --url "$2" --model "$3" --api completions --concurrency "$CONC" $(reqs_arg) --prompt-tokens 128 \
        --max-tokens "$MAXTOK" --warmup 1 --out "$4"
}

# ---- llmkit serve
PORT=$(free_port)
"$LLMKIT" serve -m "$MODEL" --name bench --port "$PORT" --slots "$SLOTS" -t "$THREADS" --ctx 2048 \
    > "$DIR/serve.log" 2>&1 &
PIDS="$PIDS $!"
wait_up "http://127.0.0.1:$PORT"
run_sweep "llmkit serve" "http://127.0.0.1:$PORT/v1" bench "$DIR/serve-llmkit"
echo "== llmkit serve: shared 1,000-token system prompt, one request at a time"
"$LLMKIT" load --url "http://127.0.0.1:$PORT/v1" --model bench --concurrency 1 --requests 9 \
    --prompts "$DIR/prefix.jsonl" --max-tokens 16 --out "$DIR/serve-prefix"
curl -s "http://127.0.0.1:$PORT/metrics" > "$DIR/serve-metrics.txt"
kill $PIDS 2>/dev/null; PIDS=""

# ---- llama.cpp's server on the same file
if [ -n "${LLAMA_SERVER:-}" ]; then
    PORT=$(free_port)
    LD_LIBRARY_PATH="$(dirname "$LLAMA_SERVER"):${LD_LIBRARY_PATH:-}" "$LLAMA_SERVER" -m "$MODEL" --port "$PORT" \
        -t "$THREADS" -np "$SLOTS" -c $((SLOTS * 2048)) --no-mmap > "$DIR/llama-server.log" 2>&1 &
    PIDS="$PIDS $!"
    wait_up "http://127.0.0.1:$PORT"
    run_sweep "llama.cpp server" "http://127.0.0.1:$PORT/v1" bench "$DIR/serve-llamacpp"
    kill $PIDS 2>/dev/null; PIDS=""
fi

python3 - "$DIR" "$THREADS" <<'EOF'
import json, os, statistics, sys
d, threads = sys.argv[1], sys.argv[2]
def points(name):
    p = f"{d}/{name}/results.json"
    return json.load(open(p))["points"] if os.path.exists(p) else None
lk, lc = points("serve-llmkit"), points("serve-llamacpp")
print(f"\nthreads {threads}; 135M-shape Q8_0; 128-token prompts, up to 128 tokens out")
print("| concurrency | llmkit out tok/s | llmkit ok | llmkit p50 ttft ms | llmkit p50 tpot ms | llama.cpp out tok/s | llama.cpp ok | llama.cpp p50 ttft ms | llama.cpp p50 tpot ms |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
rows = []
f = lambda v, fmt: (fmt % v) if v is not None else "-"
for i, p in enumerate(lk):
    q = lc[i] if lc and i < len(lc) else None
    r = {"concurrency": int(p["value"]), "llmkit_out_tps": p["output_throughput"], "llmkit_rps": p["request_throughput"],
         "llmkit_ok": f"{p['completed']}/{p['requests']}",
         "llmkit_ttft_p50_ms": p["ttft_s"]["p50"] * 1e3, "llmkit_tpot_p50_ms": p["tpot_s"]["p50"] * 1e3,
         "llamacpp_out_tps": q["output_throughput"] if q else None,
         "llamacpp_ok": f"{q['completed']}/{q['requests']}" if q else None,
         "llamacpp_ttft_p50_ms": q["ttft_s"]["p50"] * 1e3 if q and q["ttft_s"]["p50"] is not None else None,
         "llamacpp_tpot_p50_ms": q["tpot_s"]["p50"] * 1e3 if q and q["tpot_s"]["p50"] is not None else None}
    rows.append(r)
    print(f"| {r['concurrency']} | {r['llmkit_out_tps']:.1f} | {r['llmkit_ok']} | {r['llmkit_ttft_p50_ms']:.0f} | "
          f"{r['llmkit_tpot_p50_ms']:.1f} | {f(r['llamacpp_out_tps'], '%.1f')} | {r['llamacpp_ok'] or '-'} | "
          f"{f(r['llamacpp_ttft_p50_ms'], '%.0f')} | {f(r['llamacpp_tpot_p50_ms'], '%.1f')} |")
c1 = next(r for r in rows if r["concurrency"] == 1)["llmkit_out_tps"]
c8 = next((r for r in rows if r["concurrency"] == 8), None)
if c8:
    print(f"\nconcurrency 8 / concurrency 1 output tokens/s: {c8['llmkit_out_tps'] / c1:.2f}x (target >= 3x)")
pre = json.load(open(f"{d}/serve-prefix/results.json"))["points"][0]
reqs = sorted((r for r in pre["requests_detail"] if r["ok"]), key=lambda r: r["t_start"])
first, later = reqs[0]["ttft_s"], statistics.median(r["ttft_s"] for r in reqs[1:])
print(f"shared system prompt: first ttft {first * 1e3:.0f} ms, p50 of the later {later * 1e3:.0f} ms "
      f"({later / first:.2f} of the first; target <= 0.25)")
json.dump({"threads": int(threads), "sweep": rows, "prefix": {"first_ttft_s": first, "later_p50_ttft_s": later}},
          open(f"{d}/serve.json", "w"), indent=1)
EOF
