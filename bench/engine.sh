#!/bin/sh
# engine.sh — engine speed on this machine: llmkit against llama.cpp and the memory roofline.
#
# Generates two random models with `llmkit gguf random` (a SmolLM2-135M shape and a
# Llama-3.2-1B shape), quantizes each to F16, Q8_0, Q4_0 and Q4_K_M with `llmkit quantize`,
# measures memory bandwidth (bench/membw.c) and runs `llmkit bench` on each file; with
# LLAMA_BENCH=/path/to/llama-bench it runs llama.cpp's llama-bench on the same files, back to
# back. Prints one table and writes it as JSON.
#
#   bench/engine.sh [-t THREADS] [-r REPS] [-p 512] [-n 128] [--shapes 135m,1b] [--types f16,q8_0,q4_0,q4_k_m]
#   env: LLMKIT (build/llmkit), LLAMA_BENCH (unset: skip llama.cpp), BENCH_DIR (build/bench),
#        LK_TESTDATA (../shared/testdata, for the vocabularies)
set -eu
cd "$(dirname "$0")/.."
LLMKIT=${LLMKIT:-build/llmkit}
DIR=${BENCH_DIR:-build/bench}
TD=${LK_TESTDATA:-../shared/testdata}
THREADS=$(nproc); REPS=5; NP=512; NG=128; SHAPES=135m,1b; TYPES=f16,q8_0,q4_0,q4_k_m
while [ $# -gt 0 ]; do
    case "$1" in
        -t) THREADS=$2; shift 2 ;;
        -r) REPS=$2; shift 2 ;;
        -p) NP=$2; shift 2 ;;
        -n) NG=$2; shift 2 ;;
        --shapes) SHAPES=$2; shift 2 ;;
        --types) TYPES=$2; shift 2 ;;
        *) echo "usage: bench/engine.sh [-t N] [-r N] [-p N] [-n N] [--shapes 135m,1b] [--types f16,q8_0,q4_0,q4_k_m]" >&2; exit 2 ;;
    esac
done
mkdir -p "$DIR"
[ -x "$LLMKIT" ] || make -s all
cc -O3 -march=native -o "$DIR/membw" bench/membw.c -lpthread

echo "== memory bandwidth (again after the runs; the table uses the higher)"
"$DIR/membw" -t "$THREADS" --json > "$DIR/membw.json"
cat "$DIR/membw.json"

. bench/models.sh
for shape in $(echo "$SHAPES" | tr , ' '); do
    for type in $(echo "$TYPES" | tr , ' '); do
        bench_model "$shape" "$type" > /dev/null
    done
done

: > "$DIR/runs.jsonl"
for shape in $(echo "$SHAPES" | tr , ' '); do
    for type in $(echo "$TYPES" | tr , ' '); do
        f="$DIR/$shape-$type.gguf"
        echo "== $f"
        if [ -n "${LLAMA_BENCH:-}" ]; then
            "$LLAMA_BENCH" -m "$f" -p "$NP" -n "$NG" -t "$THREADS" -r "$REPS" -mmp 0 -o json > "$DIR/llama.json" 2>/dev/null \
                && python3 - "$shape" "$type" "$DIR/llama.json" >> "$DIR/runs.jsonl" <<'EOF'
import json, sys
shape, type_, path = sys.argv[1:4]
for r in json.load(open(path)):
    test = f"pp{r['n_prompt']}" if r["n_prompt"] else f"tg{r['n_gen']}"
    print(json.dumps({"engine": "llama.cpp", "shape": shape, "type": type_, "test": test,
                      "tps": r["avg_ts"], "sd": r["stddev_ts"], "size": r["model_size"],
                      "commit": r.get("build_commit", "")}))
EOF
        fi
        "$LLMKIT" bench -m "$f" -p "$NP" -n "$NG" -t "$THREADS" -r "$REPS" --json > "$DIR/llmkit.json"
        python3 - "$shape" "$type" "$DIR/llmkit.json" >> "$DIR/runs.jsonl" <<'EOF'
import json, sys
shape, type_, path = sys.argv[1:4]
r = json.load(open(path))
for t in r["tests"]:
    print(json.dumps({"engine": "llmkit", "shape": shape, "type": type_, "test": t["test"], "tps": t["tokens_per_s"],
                      "sd": t["sd"], "size": r["size_bytes"], "rss": r["peak_rss_bytes"], "simd": r["simd"],
                      "weights": r["weights"]}))
EOF
    done
done

"$DIR/membw" -t "$THREADS" --json > "$DIR/membw2.json"
cat "$DIR/membw2.json"

python3 - "$DIR" "$THREADS" <<'EOF'
import json, sys, collections
d, threads = sys.argv[1], sys.argv[2]
bw = max((json.load(open(f"{d}/{n}")) for n in ("membw.json", "membw2.json")), key=lambda b: b["read_gb_s"])
runs = [json.loads(l) for l in open(f"{d}/runs.jsonl")]
rows = collections.OrderedDict()
for r in runs:
    rows.setdefault((r["shape"], r["type"], r["test"]), {})[r["engine"]] = r
print(f"\nthreads {threads}; memory read bandwidth {bw['read_gb_s']:.1f} GB/s (triad {bw['triad_gb_s']:.1f})")
print("| model | type | test | llmkit t/s | llama.cpp t/s | llmkit / llama.cpp | roofline t/s | of roofline | peak RSS MiB |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|")
table = []
for (shape, type_, test), e in rows.items():
    lk, lc = e.get("llmkit"), e.get("llama.cpp")
    size = (lk or lc)["size"]
    roof = bw["read_gb_s"] * 1e9 / size if test.startswith("tg") else None
    ratio = lk["tps"] / lc["tps"] if lk and lc else None
    row = {"shape": shape, "type": type_, "test": test,
           "llmkit_tps": lk and lk["tps"], "llmkit_sd": lk and lk["sd"],
           "llamacpp_tps": lc and lc["tps"], "llamacpp_sd": lc and lc["sd"],
           "ratio": ratio, "roofline_tps": roof, "roofline_frac": lk and roof and lk["tps"] / roof,
           "peak_rss": lk and lk.get("rss")}
    table.append(row)
    f = lambda v, fmt: (fmt % v) if v is not None else "-"
    print(f"| {shape} | {type_} | {test} | {f(lk and lk['tps'], '%.1f')} ± {f(lk and lk['sd'], '%.1f')} | "
          f"{f(lc and lc['tps'], '%.1f')} | {f(ratio, '%.2fx')} | {f(roof, '%.1f')} | "
          f"{f(row['roofline_frac'], '%.0f%%') if row['roofline_frac'] is None else '%.0f%%' % (100 * row['roofline_frac'])} | "
          f"{f(lk and lk.get('rss') and lk['rss'] / 2**20, '%.0f')} |")
json.dump({"threads": int(threads), "membw": bw, "rows": table}, open(f"{d}/engine.json", "w"), indent=1)
print(f"\nwritten: {d}/engine.json")
EOF
