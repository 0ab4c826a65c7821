/* sse.c — the Server-Sent Events parser of sse.h, for the streaming API backends.
 *
 * Bytes are cut into lines (CRLF, LF or CR; a CR at the end of one feed and an LF at the start of
 * the next are one line end), and each line is interpreted as the WHATWG "interpret an event
 * stream" algorithm says. Limits are checked per byte position, never per feed, so that the same
 * stream gives the same events and the same error however it is split; the fuzz target
 * (tests/fuzz/fuzz_sse.c) holds this file to that. A NUL byte in a data or event value becomes
 * U+FFFD so that the strings handed to the callback are C strings of the stated length; an id
 * containing NUL is ignored, as the spec says. */
#include "models/sse.h"
#include <inttypes.h>

static const char bom[3] = { '\xEF', '\xBB', '\xBF' };

void sse_init(sse_parser *p) {
    memset(p, 0, sizeof *p);
    p->max_event = (size_t)8 << 20;
    p->retry_ms = -1;
}

void sse_free(sse_parser *p) {
    lk_buf_free(&p->line);
    lk_buf_free(&p->data);
    lk_buf_free(&p->type);
    lk_buf_free(&p->id);
}

/* Append value to b, with each NUL replaced by U+FFFD. */
static void append_text(lk_buf *b, const char *v, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] != 0) continue;
        lk_buf_append(b, v + start, i - start);
        lk_buf_append(b, "\xEF\xBF\xBD", 3);
        start = i + 1;
    }
    lk_buf_append(b, v + start, n - start);
}

static size_t count_nuls(const char *v, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += v[i] == 0;
    return k;
}

static void reset_event(sse_parser *p) {
    lk_buf_clear(&p->data);
    lk_buf_clear(&p->type);
    p->has_data = false;
}

/* The blank line: pass the event on, if it has data, and start the next one. */
static int dispatch(sse_parser *p, sse_event_cb cb, void *ud, lk_error *err) {
    if (!p->has_data) {
        reset_event(p);
        return LK_OK;
    }
    if (!p->data.data) lk_buf_append(&p->data, "", 0);
    sse_event ev = {
        .type = p->type.len ? p->type.data : "message",
        .data = p->data.data,
        .data_len = p->data.len,
        .id = p->id.data ? p->id.data : "",
    };
    int rc = cb ? cb(&ev, ud, err) : LK_OK;
    reset_event(p);
    return rc;
}

/* One complete line (without its line end); end_offset is the stream offset just past it. */
static int process_line(sse_parser *p, sse_event_cb cb, void *ud, lk_error *err,
                        uint64_t end_offset) {
    const char *line = p->line.data ? p->line.data : "";
    size_t len = p->line.len;
    if (len == 0) return dispatch(p, cb, ud, err);
    if (line[0] == ':') return LK_OK; /* a comment */

    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = len - (size_t)(value - line);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }

#define FIELD_IS(s) (name_len == sizeof(s) - 1 && memcmp(line, s, sizeof(s) - 1) == 0)
    if (FIELD_IS("data")) {
        size_t grown = p->data.len + (p->has_data ? 1 : 0) + value_len + 2 * count_nuls(value, value_len);
        if (grown > p->max_event)
            return lk_errorf(err, LK_EFORMAT, "event stream: event data longer than %zu bytes "
                             "at offset %" PRIu64, p->max_event, end_offset);
        if (p->has_data) lk_buf_putc(&p->data, '\n');
        append_text(&p->data, value, value_len);
        p->has_data = true;
    } else if (FIELD_IS("event")) {
        lk_buf_clear(&p->type);
        append_text(&p->type, value, value_len);
    } else if (FIELD_IS("id")) {
        if (!memchr(value, 0, value_len)) {
            lk_buf_clear(&p->id);
            lk_buf_append(&p->id, value, value_len);
        }
    } else if (FIELD_IS("retry")) {
        bool digits = value_len > 0;
        long ms = 0;
        for (size_t i = 0; i < value_len && digits; i++) {
            if (value[i] < '0' || value[i] > '9') digits = false;
            else if (ms < 1000000000L) ms = ms * 10 + (value[i] - '0'); /* saturates near 1e9 */
        }
        if (digits) p->retry_ms = ms;
    }
#undef FIELD_IS
    return LK_OK; /* any other field is ignored */
}

int sse_feed(sse_parser *p, const char *buf, size_t len, sse_event_cb cb, void *ud, lk_error *err) {
    size_t i = 0;

    /* A leading BOM, possibly split across feeds: its bytes wait in line until all three came. */
    while (!p->bom_checked && i < len) {
        if (buf[i] != bom[p->line.len]) {
            p->bom_checked = true; /* the bytes held so far are ordinary text */
            break;
        }
        lk_buf_putc(&p->line, buf[i]);
        i++;
        p->offset++;
        if (p->line.len == sizeof bom) {
            lk_buf_clear(&p->line);
            p->bom_checked = true;
        }
    }

    while (i < len) {
        if (p->cr) {
            p->cr = false;
            if (buf[i] == '\n') { /* the LF of a CRLF whose CR ended the previous line */
                i++;
                p->offset++;
                continue;
            }
        }
        /* the run of bytes up to the next CR or LF */
        size_t j = i;
        while (j < len && buf[j] != '\n' && buf[j] != '\r') j++;
        size_t run = j - i;
        if (p->line.len + run > p->max_event) {
            uint64_t at = p->offset + (p->max_event - p->line.len);
            return lk_errorf(err, LK_EFORMAT, "event stream: line longer than %zu bytes at "
                             "offset %" PRIu64, p->max_event, at);
        }
        lk_buf_append(&p->line, buf + i, run);
        p->offset += run;
        i = j;
        if (i == len) break;

        /* a line end */
        p->cr = buf[i] == '\r';
        i++;
        p->offset++;
        p->bom_checked = true;
        int rc = process_line(p, cb, ud, err, p->offset);
        lk_buf_clear(&p->line);
        if (rc != LK_OK) return rc;
    }
    return LK_OK;
}

bool sse_finish(sse_parser *p) {
    bool pending = p->line.len > 0 || p->has_data || p->type.len > 0;
    lk_buf_clear(&p->line);
    reset_event(p);
    p->cr = false;
    return pending;
}
