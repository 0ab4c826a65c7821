#!/bin/sh
# cli.sh — the llmkit tool end to end: help pages, gguf random, info, tokenize, run, chat and
# perplexity on a freshly generated model, and the errors a user sees for bad input.
# Prints "ok NAME" per check and exits non-zero at the first failure.
set -u
LLMKIT=${LLMKIT:-build/llmkit}
TD=${LK_TESTDATA:-../shared/testdata}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/  stderr: /' "$T/err" | head -20; exit 1; }
ok() { echo "ok $1"; }

if [ ! -f "$TD/tokenizers/ggml-vocab-llama-spm.gguf" ]; then
    if [ "${CI:-}" = "true" ]; then echo "FAIL testdata missing at $TD (required under CI)"; exit 1; fi
    echo "skip cli: test data folder $TD is absent"; exit 0
fi
SPM=$TD/tokenizers/ggml-vocab-llama-spm.gguf
BPE=$TD/tokenizers/ggml-vocab-llama-bpe.gguf

# --help pages
"$LLMKIT" --help > "$T/out" 2>"$T/err" || fail help
for c in run chat compare sweep embed tokenize perplexity info gguf bench quantize; do
    grep -q "^  $c " "$T/out" || fail "help lists $c"
    "$LLMKIT" $c --help > "$T/h" 2>"$T/err" || fail "$c --help exits 0"
    grep -q "usage: llmkit $c" "$T/h" || fail "$c --help has a usage line"
done
ok help
"$LLMKIT" nosuch > /dev/null 2>"$T/err"; [ $? -eq 2 ] || fail "unknown command exits 2"
grep -q "'nosuch' is not a command" "$T/err" || fail "unknown command message"
"$LLMKIT" run --bogus 2>"$T/err"; [ $? -eq 2 ] || fail "unknown option exits 2"
grep -q "unknown option '--bogus'" "$T/err" || fail "unknown option message"
ok usage-errors

# gguf random: deterministic
"$LLMKIT" gguf random --vocab-from "$SPM" --layers 2 --dim 64 --heads 4 --kv-heads 2 --ffn 128 --type q8_0 --seed 3 -o "$T/a.gguf" 2>"$T/err" || fail "gguf random"
"$LLMKIT" gguf random --vocab-from "$SPM" --layers 2 --dim 64 --heads 4 --kv-heads 2 --ffn 128 --type q8_0 --seed 3 -o "$T/b.gguf" 2>"$T/err" || fail "gguf random again"
cmp -s "$T/a.gguf" "$T/b.gguf" || fail "gguf random is deterministic"
"$LLMKIT" gguf random --vocab-from "$SPM" --layers 2 --dim 64 --heads 4 --kv-heads 2 --ffn 128 --type q8_0 --seed 4 -o "$T/c.gguf" 2>"$T/err" || fail "gguf random seed 4"
cmp -s "$T/a.gguf" "$T/c.gguf" && fail "another seed gives another model"
[ -e "$T/a.gguf.tmp" ] && fail "no temporary file left"
ok gguf-random
"$LLMKIT" gguf random --vocab-from "$SPM" --dim 60 --heads 7 -o "$T/x.gguf" 2>"$T/err"; [ $? -eq 1 ] || fail "bad shape exits 1"
grep -q "not a multiple of --heads 7" "$T/err" || fail "bad shape message"
[ -e "$T/x.gguf" ] && fail "bad shape writes nothing"
"$LLMKIT" gguf random --vocab-from "$SPM" --type q3_k -o "$T/x.gguf" 2>"$T/err"; [ $? -eq 2 ] || fail "bad type exits 2"
ok gguf-random-errors

# info
"$LLMKIT" info "$T/a.gguf" > "$T/out" 2>"$T/err" || fail info
grep -q "architecture:  llama" "$T/out" || fail "info architecture"
grep -q "q8_0" "$T/out" || fail "info type mix"
grep -q "SentencePiece" "$T/out" || fail "info tokenizer"
grep -q "chat template: llama2" "$T/out" || fail "info chat template"
grep -q "memory @" "$T/out" || fail "info memory"
"$LLMKIT" info "$BPE" > "$T/out" 2>"$T/err" || fail "info on a vocabulary-only file"
grep -q "cannot run it: .*missing tensor 'token_embd.weight'" "$T/out" || fail "info explains why it cannot run"
ok info

# tokenize: reference ids for "Hello world" with llama-spm: 1 15043 3186
"$LLMKIT" tokenize -m "$SPM" --ids "Hello world" > "$T/out" 2>"$T/err" || fail tokenize
[ "$(cat "$T/out")" = "1 15043 3186" ] || fail "tokenize ids: $(cat "$T/out")"
"$LLMKIT" tokenize -m "$SPM" --ids --no-bos "Hello world" > "$T/out" 2>"$T/err" || fail tokenize
[ "$(cat "$T/out")" = "15043 3186" ] || fail "tokenize --no-bos: $(cat "$T/out")"
"$LLMKIT" tokenize -m "$BPE" --json --no-bos "<|eot_id|>" > "$T/plain" 2>"$T/err" || fail tokenize-json
"$LLMKIT" tokenize -m "$BPE" --json --no-bos --special "<|eot_id|>" > "$T/special" 2>"$T/err" || fail tokenize-special
grep -q '"id": 128009' "$T/special" || fail "--special matches <|eot_id|>"
grep -q '"id": 128009' "$T/plain" && fail "without --special <|eot_id|> is text"
"$LLMKIT" tokenize -m "$SPM" --json "llama 🦙 \"quoted\"" 2>"$T/err" | python3 -c 'import json,sys; t=json.load(sys.stdin); assert t[0]["id"] == 1, t' \
    || fail "tokenize --json is valid JSON even for pieces that split a character"
ok tokenize

# run: greedy is deterministic, the same seed gives the same text
"$LLMKIT" run -m "$T/a.gguf" --raw -p "Hello" -n 16 --temp 0 > "$T/g1" 2>"$T/err" || fail run
"$LLMKIT" run -m "$T/a.gguf" --raw -p "Hello" -n 16 --temp 0 > "$T/g2" 2>"$T/err" || fail run
cmp -s "$T/g1" "$T/g2" || fail "greedy run is deterministic"
grep -q "prompt 2 tokens" "$T/err" || fail "run prints prompt tokens"
grep -q "generated .* tok/s" "$T/err" || fail "run prints generation speed"
grep -q "first token .* ms" "$T/err" || fail "run prints time to first token"
"$LLMKIT" run -m "$T/a.gguf" -p "Hello" -n 16 --seed 9 --temp 1 > "$T/s1" 2>/dev/null || fail run
"$LLMKIT" run -m "$T/a.gguf" -p "Hello" -n 16 --seed 9 --temp 1 > "$T/s2" 2>/dev/null || fail run
cmp -s "$T/s1" "$T/s2" || fail "same seed, same text"
"$LLMKIT" run -m "$T/a.gguf" --system "Be brief." -p "Hi" -n 4 --temp 0 -q > /dev/null 2>"$T/err" || fail "run with a system message"
"$LLMKIT" run -m "$T/a.gguf" --raw --system "x" -p "Hi" 2>"$T/err"; [ $? -eq 2 ] || fail "--raw with --system exits 2"
"$LLMKIT" run -m "$T/a.gguf" -p "Hi" -n 3 --temp 0 --json 2>"$T/err" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["usage"]["completion_tokens"] >= 1 and r["finish_reason"] in ("stop","length") and r["cost_usd"] == 0 and r["text"] is not None, r' \
    || fail "run --json gives the whole response"
ok run
"$LLMKIT" run -m "$T/nope.gguf" -p x 2>"$T/err"; [ $? -eq 1 ] || fail "missing model exits 1"
grep -q "llmkit: .*nope.gguf: No such file" "$T/err" || fail "missing model message"
printf 'XXXXjunk' > "$T/junk.gguf"
"$LLMKIT" run -m "$T/junk.gguf" -p x 2>"$T/err"; [ $? -eq 1 ] || fail "junk model exits 1"
grep -q "bad magic" "$T/err" || fail "junk model message"
"$LLMKIT" run -m "$T/a.gguf" --chat-template nosuch -p x 2>"$T/err"; [ $? -eq 1 ] || fail "bad template exits 1"
grep -q "unknown chat template 'nosuch'; known templates: .*llama3" "$T/err" || fail "bad template lists names"
ok run-errors

# chat: two turns from stdin, history kept
printf 'Hello\nHow are you?\n/exit\n' | "$LLMKIT" chat -m "$T/a.gguf" -n 8 --temp 0 > "$T/out" 2>"$T/err" || fail chat
[ "$(wc -l < "$T/out")" -ge 2 ] || fail "chat answers each turn"
ok chat

# perplexity on a text
i=0; : > "$T/text"
while [ $i -lt 60 ]; do echo "The quick brown fox jumps over the lazy dog number $i." >> "$T/text"; i=$((i+1)); done
"$LLMKIT" perplexity -m "$T/a.gguf" -f "$T/text" --ctx 64 --json > "$T/out" 2>"$T/err" || fail perplexity
grep -q '"ppl": ' "$T/out" || fail "perplexity json"
ok perplexity

# sampling options are checked before anything runs
"$LLMKIT" run -m "$T/a.gguf" -p x --logit-bias 5=x 2>"$T/err"; [ $? -eq 2 ] || fail "bad --logit-bias exits 2"
grep -q "'x' is not a number" "$T/err" || fail "bad --logit-bias message"
"$LLMKIT" run -m "$T/a.gguf" -p x --logit-bias 999999=-inf 2>"$T/err"; [ $? -eq 1 ] || fail "out-of-vocabulary bias exits 1"
grep -q "token 999999 is outside the vocabulary" "$T/err" || fail "out-of-vocabulary bias message"
ok sampling-errors

# quantize: an F32 model to Q4_K_M loads and runs, with llama.cpp's mix; the same bytes on 1 or 2 threads
"$LLMKIT" --help > "$T/out" 2>"$T/err" && grep -q "^  quantize " "$T/out" || fail "help lists quantize"
"$LLMKIT" quantize --help > "$T/h" 2>"$T/err" && grep -q "usage: llmkit quantize" "$T/h" || fail "quantize --help"
"$LLMKIT" gguf random --vocab-from "$SPM" --layers 2 --dim 256 --heads 4 --kv-heads 2 --ffn 512 --type f32 -o "$T/f32.gguf" 2>"$T/err" || fail "gguf random f32"
"$LLMKIT" quantize "$T/f32.gguf" "$T/q4km.gguf" Q4_K_M -t 2 > "$T/out" 2>"$T/err" || fail "quantize q4_k_m"
grep -q "Q4_K_M" "$T/out" && grep -q "q6_K" "$T/out" && grep -q "bits per weight" "$T/out" || fail "quantize prints the mix and sizes"
"$LLMKIT" quantize "$T/f32.gguf" "$T/q4km1.gguf" q4_k_m -t 1 > /dev/null 2>"$T/err" || fail "quantize -t 1"
cmp -s "$T/q4km.gguf" "$T/q4km1.gguf" || fail "quantize output does not depend on -t"
"$LLMKIT" info "$T/q4km.gguf" > "$T/out" 2>"$T/err" || fail "info on the quantized model"
grep -q "q4_K" "$T/out" && grep -q "q6_K" "$T/out" && grep -q "f32" "$T/out" || fail "info shows the q4_K/q6_K/f32 mix"
"$LLMKIT" quantize "$T/f32.gguf" "$T/x.gguf" Q4_K_M --dry-run > "$T/out" 2>"$T/err" || fail "quantize --dry-run"
grep -q "blk.1.attn_v.weight .*-> q6_K" "$T/out" || fail "dry run: attn_v of the last layer gets q6_K"
grep -q "blk.0.attn_v.weight .*-> q4_K" "$T/out" || fail "dry run: attn_v of layer 0 of 2 keeps q4_K"
grep -q "output.weight .*-> q6_K" "$T/out" || fail "dry run: output gets q6_K"
[ -e "$T/x.gguf" ] && fail "dry run writes nothing"
"$LLMKIT" run -m "$T/q4km.gguf" -p "Hello" -n 8 --temp 0 > "$T/g1" 2>"$T/err" || fail "run the quantized model"
grep -q "generated .* tok/s" "$T/err" || fail "the quantized model generates"
ok quantize
"$LLMKIT" quantize "$T/f32.gguf" "$T/x.gguf" Q3_K_XL 2>"$T/err"; [ $? -eq 2 ] || fail "bad quantize type exits 2"
grep -q "unknown type 'Q3_K_XL'; types: .*Q4_K_M" "$T/err" || fail "bad quantize type lists the types"
"$LLMKIT" quantize "$T/a.gguf" "$T/x.gguf" Q4_K_M 2>"$T/err"; [ $? -eq 1 ] || fail "quantized input exits 1"
grep -q "tensor 'token_embd.weight' is q8_0" "$T/err" || fail "quantized input names the tensor and its type"
"$LLMKIT" quantize "$T/f32.gguf" "$T/nodir/x.gguf" Q8_0 2>"$T/err"; [ $? -eq 1 ] || fail "unwritable output exits 1"
grep -q "nodir" "$T/err" || fail "unwritable output names the path"
[ -e "$T/x.gguf" ] || [ -e "$T/x.gguf.tmp" ] || [ -e "$T/nodir" ] && fail "a failed quantize leaves no file"
ok quantize-errors

# bench: a table, and JSON with both tests; engine options are checked
"$LLMKIT" bench -m "$T/a.gguf" -p 16 -n 4 -r 1 -t 2 > "$T/out" 2>"$T/err" || fail bench
grep -q "| pp16 |" "$T/out" && grep -q "| tg4 |" "$T/out" || fail "bench table has pp16 and tg4"
grep -q "peak RSS" "$T/out" || fail "bench prints peak RSS"
"$LLMKIT" bench -m "$T/a.gguf" -p 16 -n 4 -r 2 --json --kv-type f32 --load mmap 2>"$T/err" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); assert [t["test"] for t in r["tests"]] == ["pp16", "tg4"] and r["weights"] == "mapped" and r["kv_type"] == "f32", r' \
    || fail "bench --json"
"$LLMKIT" bench -m "$T/a.gguf" --kv-type q4_0 2>"$T/err"; [ $? -eq 2 ] || fail "bad --kv-type exits 2"
grep -q "expected f16, f32 or q8_0" "$T/err" || fail "bad --kv-type message"
"$LLMKIT" run -m "$T/a.gguf" -p "Hello" -n 8 --temp 0 -t 1 --load copy -q > "$T/g3" 2>"$T/err" || fail "run -t 1 --load copy"
"$LLMKIT" run -m "$T/a.gguf" -p "Hello" -n 8 --temp 0 -t 2 --load mmap -q > "$T/g4" 2>"$T/err" || fail "run -t 2 --load mmap"
cmp -s "$T/g3" "$T/g4" || fail "threads and load mode do not change greedy output"
LLMKIT_SIMD=scalar "$LLMKIT" run -m "$T/a.gguf" -p "Hello" -n 4 --temp 0 -q > /dev/null 2>"$T/err" || fail "LLMKIT_SIMD=scalar"
ok bench-and-engine-options

# perplexity of a Q8_0 model is within 0.5% of its F16 source's, on the same text
"$LLMKIT" gguf random --vocab-from "$SPM" --layers 2 --dim 128 --heads 4 --kv-heads 2 --ffn 256 --type f16 --seed 11 -o "$T/p16.gguf" 2>/dev/null || fail "random f16"
"$LLMKIT" quantize "$T/p16.gguf" "$T/p8.gguf" q8_0 > /dev/null 2>"$T/err" || fail "quantize q8_0"
"$LLMKIT" perplexity -m "$T/p16.gguf" -f "$T/text" --ctx 64 --json > "$T/ppl16" 2>"$T/err" || fail "perplexity f16"
"$LLMKIT" perplexity -m "$T/p8.gguf" -f "$T/text" --ctx 64 --json > "$T/ppl8" 2>"$T/err" || fail "perplexity q8_0"
python3 - "$T/ppl16" "$T/ppl8" <<'PY' || fail "q8_0 perplexity within 0.5% of f16"
import json, sys
a, b = (json.load(open(p))["ppl"] for p in sys.argv[1:3])
print(f"ppl f16 {a:.4f} q8_0 {b:.4f} ({100 * (b - a) / a:+.3f}%)")
assert abs(b - a) / a < 0.005
PY
ok perplexity-q8_0-vs-f16
"$LLMKIT" run -m "$T/a.gguf" -p x -n 2 --kv-type q8_0 2>"$T/err"; [ $? -eq 1 ] || fail "q8_0 KV with head size 16 exits 1"
grep -q "KV cache type q8_0 needs a head size that is a multiple of 32 (this model's is 16)" "$T/err" || fail "q8_0 KV message"
ok kv-type-errors
"$LLMKIT" run -m "$T/a.gguf" -p x --load sideways 2>"$T/err"; [ $? -eq 2 ] || fail "bad --load exits 2"
grep -q "\-\-load 'sideways': expected auto, mmap or copy" "$T/err" || fail "bad --load message"
"$LLMKIT" run -m "$T/a.gguf" -p x -t 5000 2>"$T/err"; [ $? -eq 2 ] || fail "bad -t exits 2"
grep -q "\-\-threads 5000: expected 1 to 1024" "$T/err" || fail "bad -t message"
"$LLMKIT" bench -m "$T/a.gguf" -r 0 2>"$T/err"; [ $? -eq 2 ] || fail "bench -r 0 exits 2"
grep -q "repetitions 0: expected 1 to 1000" "$T/err" || fail "bench -r 0 message"
ok engine-option-errors
