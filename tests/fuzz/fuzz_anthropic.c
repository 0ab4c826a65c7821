/* fuzz_anthropic.c — libFuzzer target for the Anthropic response parser (anthropic.c through
 * api.h): the input as a message object and as an event stream (message_start ...
 * message_stop). The driver and its invariants are in fuzz_api.h. */
#include "fuzz_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void setup(api_parse *p, int variant) { anthropic_parser(p); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_api(data, size, setup, 1);
    return 0;
}
