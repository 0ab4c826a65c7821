#!/bin/sh
# demo.sh — what `make run` does for now: generate a small random model with a real vocabulary
# and run llmkit on it. (The serving issue will make `make run` start the server.)
set -e
LLMKIT=${1:-build/llmkit}
VOCAB=../shared/testdata/tokenizers/ggml-vocab-llama-spm.gguf
OUT=build/demo
mkdir -p "$OUT"
if [ ! -f "$VOCAB" ]; then
    echo "demo: $VOCAB not found; the demo model borrows its vocabulary from ../shared/testdata" >&2
    exit 1
fi
if [ ! -f "$OUT/demo.gguf" ]; then
    echo "== generating a random llama model ($OUT/demo.gguf)"
    "$LLMKIT" gguf random --vocab-from "$VOCAB" --arch llama --layers 4 --dim 256 --heads 8 --kv-heads 4 \
        --ffn 768 --ctx 2048 --type q8_0 --seed 1 -o "$OUT/demo.gguf"
fi
echo "== llmkit info $OUT/demo.gguf"
"$LLMKIT" info "$OUT/demo.gguf"
echo
echo "== llmkit run -m $OUT/demo.gguf --raw -p 'The capital of France is' -n 32 --seed 7"
echo "   (random weights: the text is noise, the speed is real)"
"$LLMKIT" run -m "$OUT/demo.gguf" --raw -p "The capital of France is" -n 32 --seed 7
