#!/bin/sh
# demo.sh — what `make run` does: generate a small random model with a real vocabulary, then
# serve it with `llmkit serve` (OpenAI and Anthropic APIs) and print the URL and a curl line to
# try. Ctrl-C stops the server. PORT=N picks the port (default 8080).
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
echo "== llmkit serve -m $OUT/demo.gguf --name demo --port ${PORT:-8080}"
echo "   (random weights: the text is noise, the API and the speed are real; Ctrl-C stops)"
exec "$LLMKIT" serve -m "$OUT/demo.gguf" --name demo --port "${PORT:-8080}"
