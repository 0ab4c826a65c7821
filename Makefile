# llmkit — one non-recursive Makefile.
#
#   make            build build/llmkit and build/libllmkit.a
#   make run        generate a small demo model and run llmkit on it
#   make test       unit tests, fuzz seed replays and CLI tests
#   make asan       the same tests built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       build libFuzzer targets (clang) and run each for FUZZ_SECONDS
#   make clean
#
# Missing Debian packages are installed by scripts/deps.sh the first time they are needed.

CC       ?= gcc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CPPFLAGS := -Iinclude -Isrc -D_GNU_SOURCE
XCFLAGS  := -std=c17 $(WARN) -MMD -MP
LDLIBS   := -lmicrohttpd -lcurl -ljansson -lpcre2-8 -lm -lpthread
TESTLIBS := -lcmocka

BUILD    ?= build

LIB_SRC  := $(wildcard src/base/*.c src/engine/*.c src/engine/quant/*.c src/models/*.c src/eval/*.c src/load/*.c src/server/*.c)
CLI_SRC  := src/main.c $(wildcard src/cli/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
TEST_SUPPORT := $(filter-out tests/support/fakeapi_main.c,$(wildcard tests/support/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
SUP_OBJ  := $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
TESTS    := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)

LIB      := $(BUILD)/libllmkit.a
BIN      := $(BUILD)/llmkit
FAKEAPI  := $(BUILD)/tests/fakeapi

DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all run test asan fuzz clean deps bench
.SECONDARY:
all: $(BIN) $(LIB)

$(DEPS_STAMP): scripts/deps.sh
	@scripts/deps.sh --check >/dev/null 2>&1 || scripts/deps.sh
	@mkdir -p $(@D) && touch $@

deps:
	scripts/deps.sh

# SIMD kernels: *_avx2.c and *_avx512.c are compiled for those instruction sets and only
# called when cpuid says the CPU has them (src/engine/quant/kernels.c).
ifeq ($(shell uname -m),x86_64)
$(BUILD)/obj/%_avx2.o: SIMDFLAGS := -mavx2 -mfma -mf16c
$(BUILD)/obj/%_avx512.o: SIMDFLAGS := -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq \
    -mavx512vnni -mavx512bf16
endif

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) $(CFLAGS) $(SIMDFLAGS) -c $< -o $@

# The built-in pricing table is data/pricing.json, embedded with .incbin.
$(BUILD)/obj/src/models/pricing_data.o: data/pricing.json

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(CLI_OBJ) $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(SUP_OBJ) $(LIB) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/support $(XCFLAGS) $(CFLAGS) $< $(SUP_OBJ) $(LIB) $(TESTLIBS) $(LDLIBS) -o $@

# The loopback API server for shell tests (an echo model in the OpenAI and Anthropic formats).
$(FAKEAPI): tests/support/fakeapi_main.c $(SUP_OBJ) $(LIB) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/support $(XCFLAGS) $(CFLAGS) $< $(SUP_OBJ) $(LIB) $(TESTLIBS) $(LDLIBS) -o $@

# Fuzz targets built with a plain driver that replays the seed corpus (tests/fuzz/corpus/NAME/).
$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIB) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(XCFLAGS) $(CFLAGS) $< tests/fuzz/replay.c $(LIB) $(LDLIBS) -o $@

test: $(BIN) $(TESTS) $(FUZZ_REPLAY) $(FAKEAPI)
	@BUILD=$(BUILD) sh tests/run.sh

asan:
	$(MAKE) BUILD=build-asan CC=clang OPT=-O1 \
	    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" test

# libFuzzer targets (clang), each run for FUZZ_SECONDS from a copy of its seed corpus. The
# library is built in build-fuzz/ with coverage instrumentation and ASan + UBSan.
FUZZ_SECONDS ?= 60
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/%.c=%)
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" build-fuzz/libllmkit.a
	@for n in $(FUZZ_NAMES); do \
	    clang $(CPPFLAGS) -std=c17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	        tests/fuzz/$$n.c build-fuzz/libllmkit.a $(LDLIBS) -o build-fuzz/$$n || exit 1; \
	    mkdir -p build-fuzz/corpus/$$n && cp tests/fuzz/corpus/$$n/* build-fuzz/corpus/$$n/ 2>/dev/null; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	    build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=70000 build-fuzz/corpus/$$n || exit 1; done

run: $(BIN)
	@sh scripts/demo.sh $(BIN)

bench: $(BIN)
	sh bench/engine.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SUP_OBJ:.o=.d)
