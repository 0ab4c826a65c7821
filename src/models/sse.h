/* sse.h — an incremental parser of Server-Sent Events (text/event-stream).
 *
 * Follows the WHATWG event-stream rules: lines end in CRLF, LF or CR; "field: value" with one
 * optional space after the colon; lines starting with ':' are comments; "data" lines of one
 * event are joined with '\n'; an empty line dispatches the event (nothing when it has no data);
 * "event" sets the type (default "message"); "id" and "retry" are kept; unknown fields are
 * ignored; a leading UTF-8 BOM is skipped. Input may be split at any byte, CR and LF of one
 * CRLF included. An event or line longer than the limit is an error, never unbounded memory. */
#ifndef LK_SSE_H
#define LK_SSE_H

#include "llmkit.h"
#include "base/base.h"

/* One dispatched event; the strings are valid only during the callback. */
typedef struct sse_event {
    const char *type;              /* "message" unless an event field said otherwise */
    const char *data;              /* NUL-terminated; may contain '\n' (a NUL byte of the stream
                                      arrives as U+FFFD, so strlen(data) == data_len) */
    size_t data_len;
    const char *id;                /* the last event id ("" if none) */
} sse_event;

/* Return 0 to go on, or an error code (with *err filled) to stop parsing. */
typedef int (*sse_event_cb)(const sse_event *ev, void *ud, lk_error *err);

typedef struct sse_parser {
    lk_buf line;                   /* the current, incomplete line */
    lk_buf data;                   /* data of the event being built */
    lk_buf type;
    lk_buf id;
    bool has_data;
    bool cr;                       /* the last byte was a CR (a following LF belongs to it) */
    bool bom_checked;
    size_t max_event;              /* bytes allowed in one line or event (default 8 MiB) */
    uint64_t offset;               /* bytes consumed so far, for error messages */
    long retry_ms;                 /* the last retry field, -1 if none */
} sse_parser;

void sse_init(sse_parser *p);
void sse_free(sse_parser *p);

/* Feed len bytes; events complete in them are passed to cb. Returns 0, LK_EFORMAT when a line
 * or event exceeds max_event (the message gives the stream offset), or the callback's code. */
int sse_feed(sse_parser *p, const char *buf, size_t len, sse_event_cb cb, void *ud, lk_error *err);

/* End of stream: an event without its closing blank line is NOT dispatched (as the spec says);
 * returns true when such an incomplete event or line was pending, so that callers can tell a
 * stream cut mid-event from a clean end. */
bool sse_finish(sse_parser *p);

#endif
