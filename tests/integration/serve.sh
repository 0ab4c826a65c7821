#!/bin/sh
# serve.sh — `llmkit serve` end to end: a random model with a real vocabulary served on a free
# port, driven by the official OpenAI and Anthropic SDKs (tests/integration/sdk, installed by
# scripts/deps.sh) and by raw HTTP with curl for the errors, limits, disconnects, concurrency,
# metrics and the graceful stop on SIGTERM. Prints "ok NAME" per check; exits non-zero at the
# first failure.
set -u
LLMKIT=${LLMKIT:-build/llmkit}
TD=${LK_TESTDATA:-../shared/testdata}
SDK=$(dirname "$0")/sdk
T=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL $1"; [ -f "$T/body" ] && sed 's/^/  body: /' "$T/body" | head -5; [ -f "$T/err" ] && sed 's/^/  server: /' "$T/err" | tail -20; exit 1; }
ok() { echo "ok $1"; }

if [ ! -f "$TD/tokenizers/ggml-vocab-llama-spm.gguf" ]; then
    if [ "${CI:-}" = "true" ]; then echo "FAIL testdata missing at $TD (required under CI)"; exit 1; fi
    echo "skip serve: test data folder $TD is absent"; exit 0
fi
command -v curl >/dev/null || fail "curl is needed"

"$LLMKIT" gguf random --vocab-from "$TD/tokenizers/ggml-vocab-llama-spm.gguf" --arch llama --layers 2 --dim 64 \
    --heads 4 --kv-heads 2 --ffn 128 --ctx 1024 --type q8_0 --seed 5 -o "$T/tiny.gguf" 2>"$T/err" || fail "gguf random"

KEY=test-key-123
"$LLMKIT" serve -m "$T/tiny.gguf" --name tiny --port 0 -t 1 --api-key "$KEY" --max-body 100000 --max-tokens 512 \
    --drain 10 > "$T/out" 2>"$T/err" &
PID=$!
for i in $(seq 1 100); do grep -q '^llmkit: serving' "$T/out" && break; sleep 0.1; done
URL=$(sed -n 's|^llmkit: serving .* at \(http://[^ ]*\)/v1$|\1|p' "$T/out")
[ -n "$URL" ] || fail "serve prints its URL"
grep -q "^try: curl $URL/v1/chat/completions" "$T/out" || fail "serve prints a curl line"
ok serve-starts

# ---- the official SDKs ----
if command -v node >/dev/null && [ -d "$SDK/node_modules/openai" ] && [ -d "$SDK/node_modules/@anthropic-ai/sdk" ]; then
    for s in openai anthropic; do
        LLMKIT_URL=$URL LLMKIT_MODEL=tiny LLMKIT_KEY=$KEY node "$SDK/$s.mjs" > "$T/sdk" 2>&1 || { cat "$T/sdk"; fail "sdk $s"; }
        cat "$T/sdk"
    done
elif [ "${CI:-}" = "true" ]; then
    fail "the SDK tests need node and $SDK/node_modules (scripts/deps.sh runs npm ci)"
else
    echo "skip sdk: node or $SDK/node_modules is missing (scripts/deps.sh runs npm ci there)"
fi

# ---- raw HTTP ----
AUTH="Authorization: Bearer $KEY"
req() { # METHOD PATH BODY [HEADER...] -> status in $code, body in $T/body
    m=$1; p=$2; b=$3; shift 3
    code=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' -H "$AUTH" "$@" \
        ${b:+--data-binary "$b"} "$URL$p")
}
expect() { # STATUS TEXT NAME
    [ "$code" = "$1" ] || fail "$3: status $code, expected $1"
    grep -q -- "$2" "$T/body" || fail "$3: '$2' not in the body"
}
MSG='"messages": [{"role": "user", "content": "Hello"}]'
C=/v1/chat/completions

req POST $C '{"model": "tiny", '"$MSG"', "max_tokens": 4}'
expect 200 '"object":"chat.completion"' chat
req POST $C '{"model": "tiny", '
expect 400 '"code":"invalid_json"' invalid-json
req POST $C '{"model": "tiny", "messages": "Hello"}'
expect 400 '"param":"messages"' messages-not-array
req POST $C '{"model": "tiny", '"$MSG"', "temperature": "hot"}'
expect 400 '"param":"temperature"' wrong-type
req POST $C '{"model": "tiny", '"$MSG"', "max_tokens": -1}'
expect 400 'expected 1 to 512' max-tokens-negative
req POST $C '{"model": "tiny", '"$MSG"', "max_tokens": 1000000}'
expect 400 '"param":"max_tokens"' max-tokens-huge
req POST $C '{"model": "gpt-4o", '"$MSG"'}'
expect 404 '"code":"model_not_found"' unknown-model
req POST $C '{"model": "tiny", '"$MSG"', "tools": [{"type": "function", "function": {"name": "f"}}]}'
expect 400 '"param":"tools"' unsupported-field
ok openai-errors
req POST /v1/messages '{"model": "tiny", '"$MSG"'}'
expect 400 '"type":"invalid_request_error"' anthropic-max-tokens-required
grep -q 'max_tokens' "$T/body" || fail "the missing field is named"
req POST /v1/messages '{"model": "tiny", "max_tokens": 5, "messages": {}}'
expect 400 '"type":"error"' anthropic-messages-not-array
req POST /v1/messages '{"model": "claude-x", "max_tokens": 5, '"$MSG"'}'
expect 404 '"not_found_error"' anthropic-unknown-model
ok anthropic-errors
curl -s -N -H "x-api-key: $KEY" -d '{"model": "tiny", "max_tokens": 3, "stream": true, '"$MSG"'}' "$URL/v1/messages" \
    | sed -n 's/^event: //p' | uniq | tr '\n' ' ' > "$T/events"
[ "$(cat "$T/events")" = "message_start content_block_start ping content_block_delta content_block_stop message_delta message_stop " ] \
    || fail "anthropic event sequence: $(cat "$T/events")"
ok anthropic-stream-events

head -c 200000 /dev/zero | tr '\0' 'a' > "$T/big"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' --data-binary @"$T/big" "$URL$C")
expect 413 'request_too_large' body-too-large
ok body-limit

code=$(curl -s -o "$T/body" -w '%{http_code}' -d '{}' "$URL$C")
expect 401 '"error"' no-key
code=$(curl -s -o "$T/body" -w '%{http_code}' -H 'x-api-key: nope' -d '{}' "$URL/v1/messages")
expect 401 'authentication_error' wrong-key
ok api-keys

# a client that hangs up mid-stream: the server stops that generation and keeps serving
curl -s -N --max-time 0.3 -H "$AUTH" -d '{"model": "tiny", "prompt": "Once", "max_tokens": 512, "stream": true}' \
    "$URL/v1/completions" > /dev/null 2>&1
req POST $C '{"model": "tiny", '"$MSG"', "max_tokens": 4}'
expect 200 '"finish_reason"' after-disconnect
ok disconnect-mid-stream

# 16 streams at once all complete
for i in $(seq 1 16); do
    curl -s -N -H "$AUTH" -d '{"model": "tiny", "messages": [{"role": "user", "content": "stream '"$i"'"}], "max_tokens": 8, "stream": true}' \
        "$URL$C" > "$T/s$i" &
done
wait_streams() { for i in $(seq 1 16); do tail -c 14 "$T/s$i" | grep -q 'data: \[DONE\]' || return 1; done; }
for i in $(seq 1 100); do wait_streams && break; sleep 0.1; done
wait_streams || fail "16 concurrent streams complete"
ok concurrent-streams

code=$(curl -s -o "$T/body" -w '%{http_code}' -H "$AUTH" "$URL/metrics")
expect 200 'llmkit_requests_total{endpoint="/v1/chat/completions",status="200"}' metrics
grep -q 'llmkit_requests_total{endpoint="/v1/chat/completions",status="400"}' "$T/body" || fail "metrics count errors"
grep -q '^llmkit_time_to_first_token_seconds_bucket' "$T/body" || fail "metrics ttft histogram"
grep -q '^llmkit_prefix_cache_hit_rate{model="tiny"}' "$T/body" || fail "metrics prefix cache"
ok metrics
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/health")
expect 200 '"status":"ok"' health
ok health

# SIGTERM during a stream: the stream finishes, the server exits 0
curl -s -N -H "$AUTH" -d '{"model": "tiny", "prompt": "Once", "max_tokens": 64, "stream": true}' "$URL/v1/completions" > "$T/last" &
CURL=$!
sleep 0.1
kill -TERM "$PID"
wait "$PID"; rc=$?
PID=
[ "$rc" -eq 0 ] || fail "serve exits 0 on SIGTERM (got $rc)"
wait "$CURL"
tail -c 14 "$T/last" | grep -q 'data: \[DONE\]' || fail "the stream in flight finished"
grep -q 'stopping' "$T/err" || fail "serve says it is stopping"
curl -s --max-time 2 "$URL/health" > /dev/null 2>&1 && fail "nothing listens after the stop"
ok graceful-stop
