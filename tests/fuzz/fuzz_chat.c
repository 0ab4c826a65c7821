/* fuzz_chat.c — libFuzzer target for chat templates.
 *
 * The input is used twice. Whole, it is a template source for chat_template_detect() and
 * chat_template_resolve(). Split at NUL bytes, it is a conversation: the first piece's first
 * byte picks the generation-prompt flag and the BOS/EOS texts, and each later piece is a
 * message whose first byte picks its role (including invalid ones) and whose rest is the
 * content. The conversation is rendered with every template; a failed render must leave the
 * output untouched, a successful one must hold every user message's text somewhere. */
#include "engine/chat.h"
#include <stdint.h>

enum { MAX_MSGS = 64 };

/* Length of the piece at p, up to the next NUL or end. */
static size_t piece_len(const char *p, const char *end) {
    const char *z = memchr(p, 0, (size_t)(end - p));
    return z ? (size_t)(z - p) : (size_t)(end - p);
}

static const char *const roles[] = { "system", "user", "assistant", "tool", NULL, "" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;

    /* the whole input as a template source (up to its first NUL) */
    int id = chat_template_detect(buf);
    if (id >= CHAT_TEMPLATE_COUNT) __builtin_trap();
    int resolved;
    lk_error err = {0};
    if (chat_template_resolve(NULL, buf, &resolved, &err) == LK_OK && resolved != id)
        __builtin_trap();
    if (id >= 0 && chat_template_name(id) == NULL) __builtin_trap();

    /* the input as a conversation */
    lk_chat_msg msgs[MAX_MSGS];
    size_t n = 0;
    unsigned flags = size ? (unsigned char)buf[0] : 0;
    char *p = buf + (size ? 1 : 0), *end = buf + size;
    p += piece_len(p, end); /* the rest of the first piece is unused */
    while (p < end && n < MAX_MSGS) {
        p++; /* skip the NUL */
        if (p >= end) break;
        size_t len = piece_len(p, end);
        msgs[n].role = roles[(unsigned char)p[0] % LK_ARRAY_LEN(roles)];
        msgs[n].content = (flags & 8) && len == 1 ? NULL : p + 1;
        n++;
        p += len;
    }
    bool gen = flags & 1;
    const char *bos = flags & 2 ? "<s>" : NULL;
    const char *eos = flags & 4 ? "</s>" : NULL;

    for (int t = -1; t <= CHAT_TEMPLATE_COUNT; t++) {
        lk_buf out = {0};
        int rc = chat_render(t, msgs, n, gen, bos, eos, &out, &err);
        if (rc != LK_OK) {
            if (out.len != 0 || err.msg[0] == 0) __builtin_trap();
        } else {
            for (size_t i = 0; i < n; i++) {
                const char *c = msgs[i].content;
                /* trimming families may shorten the text at its ends; look for a middle
                 * character that is not whitespace */
                if (!msgs[i].role || strcmp(msgs[i].role, "user") != 0 || !c || strlen(c) < 3)
                    continue;
                char mid[2] = { c[strlen(c) / 2], 0 };
                if (strchr(" \t\n\r\v\f", mid[0])) continue;
                if (!strstr(out.data, mid)) __builtin_trap();
            }
        }
        lk_buf_free(&out);
    }
    free(buf);
    return 0;
}
