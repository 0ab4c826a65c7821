# models.sh — sourced by the benchmarks: the benchmark models, made on demand.
#
# bench_model SHAPE TYPE prints the path of DIR/SHAPE-TYPE.gguf, generating the F16 source with
# `llmkit gguf random` (a SmolLM2-135M or a Llama-3.2-1B shape, with a real vocabulary) and
# quantizing it with `llmkit quantize` the first time. Needs LLMKIT, DIR, TD and THREADS set.
bench_model() {
    shape=$1; type=$2
    case $shape in
        135m) args="--layers 30 --dim 576 --heads 9 --kv-heads 3 --ffn 1536 --ctx 8192 --tied"; vocab=ggml-vocab-starcoder.gguf ;;
        1b) args="--layers 16 --dim 2048 --heads 32 --kv-heads 8 --ffn 8192 --ctx 8192 --tied --llama3-rope --rope-base 500000"; vocab=ggml-vocab-llama-bpe.gguf ;;
        *) echo "unknown shape $shape" >&2; return 2 ;;
    esac
    src="$DIR/$shape-f16.gguf"
    if [ ! -f "$src" ]; then
        echo "== generating $src" >&2
        # shellcheck disable=SC2086
        "$LLMKIT" gguf random --vocab-from "$TD/tokenizers/$vocab" $args --type f16 --seed 1 -o "$src" >&2 || return 1
    fi
    f="$DIR/$shape-$type.gguf"
    if [ ! -f "$f" ]; then
        echo "== quantizing $f" >&2
        "$LLMKIT" quantize "$src" "$f" "$type" -t "$THREADS" >&2 || return 1
    fi
    echo "$f"
}
