#!/bin/sh
# run.sh — the test runner behind `make test`: every unit test binary (cmocka), every fuzz
# target replayed over its seed corpus, every CLI integration script; then one summary line.
# Counts are of individual test cases; the exit status is non-zero if anything failed.
BUILD=${BUILD:-build}
export LLMKIT="$PWD/$BUILD/llmkit"
export FAKEAPI="$PWD/$BUILD/tests/fakeapi"
export LK_TESTDATA="${LK_TESTDATA:-$PWD/../shared/testdata}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0; failed=0; skipped=0; failures=""

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    start=$(date +%s)
    "$t" > "$TMP/out" 2>&1
    rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$TMP/out" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$TMP/out" | tail -1)
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$TMP/out" | tail -1)
    p=${p:-0}; f=${f:-0}; s=${s:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or failed outside a test
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    printf '%-28s %3d passed %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $(( $(date +%s) - start ))
    grep -E '^\[  SKIPPED|^\[  ERROR|^\[  FAILED  \] [a-z_]|^Skip|skip:' "$TMP/out" | head -20
    if [ "$f" -ne 0 ]; then
        failures="$failures $name"
        sed 's/^/    /' "$TMP/out" | grep -v '^\s*\[ \(RUN\|      OK\) ' | tail -40
    fi
done

export LK_FUZZ_VOCAB="$LK_TESTDATA/tokenizers/ggml-vocab-llama-bpe.gguf"
for r in "$BUILD"/fuzz-replay/fuzz_*; do
    [ -x "$r" ] || continue
    name=$(basename "$r")
    corpus="tests/fuzz/corpus/$name"
    if [ "$name" = fuzz_tokenizer ] && [ ! -f "$LK_FUZZ_VOCAB" ]; then
        if [ "${CI:-}" = true ]; then
            failed=$((failed + 1)); failures="$failures $name"; echo "$name: $LK_FUZZ_VOCAB missing (required under CI)"
        else
            skipped=$((skipped + 1)); echo "$name: skipped, $LK_FUZZ_VOCAB is absent"
        fi
        continue
    fi
    if "$r" "$corpus" > "$TMP/out" 2>&1; then
        passed=$((passed + 1))
        printf '%-28s replayed %s\n' "$name" "$(tail -1 "$TMP/out")"
    else
        failed=$((failed + 1)); failures="$failures $name"
        sed 's/^/    /' "$TMP/out" | tail -20
    fi
done

for s in tests/integration/*.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$s" .sh)
    start=$(date +%s)
    if sh "$s" > "$TMP/out" 2>&1; then
        n=$(grep -c '^ok ' "$TMP/out"); passed=$((passed + n))
        sk=$(grep -c '^skip ' "$TMP/out"); skipped=$((skipped + sk))
        printf '%-28s %3d passed  (%ds)\n' "$name" "$n" $(( $(date +%s) - start ))
    else
        n=$(grep -c '^ok ' "$TMP/out"); passed=$((passed + n)); failed=$((failed + 1))
        failures="$failures $name"
        sed 's/^/    /' "$TMP/out" | tail -30
    fi
done

[ -n "$failures" ] && echo "failed:$failures"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
