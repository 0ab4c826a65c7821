/* fuzz_openai.c — libFuzzer target for the OpenAI response parser (openai.c through api.h):
 * the input as a chat.completion body and chunk stream, and as a legacy text_completion body
 * and stream. The driver and its invariants are in fuzz_api.h. */
#include "fuzz_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void setup(api_parse *p, int variant) { openai_parser(p, variant == 1); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_api(data, size, setup, 2);
    return 0;
}
