/* llmkit.h — the public C API of libllmkit.
 *
 * libllmkit is the library behind the `llmkit` tool: a local GGUF inference engine now, and the
 * lk_model interface over local and API models as it lands (see docs/architecture.md). Every
 * public name starts with lk_. Functions that can fail return 0 on success or an LK_E* code, and
 * fill an lk_error whose message says what was wrong and where (file, offset, key, line). Library
 * code never prints, exits or aborts on bad input. */
#ifndef LLMKIT_H
#define LLMKIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LK_VERSION "0.1.0"

/* Error codes. 0 is success; every failure has one of these and a message. */
enum lk_code {
    LK_OK = 0,
    LK_EIO = 1,          /* a file or socket could not be read or written */
    LK_EFORMAT = 2,      /* input is malformed (GGUF, JSON, ...) */
    LK_EUNSUPPORTED = 3, /* well-formed, but a type/architecture/feature we do not handle */
    LK_EINVAL = 4,       /* a bad argument from the caller */
    LK_ENOMEM = 5,       /* out of memory */
    LK_ERANGE = 6,       /* a value or size outside what is allowed (context full, ...) */
};

/* An error: a code and a message that names what and where. */
typedef struct lk_error {
    int code;
    char msg[1024];
} lk_error;

/* Fill *err (if not NULL) with code and a printf-style message; returns code, so that
 * `return lk_errorf(err, LK_EFORMAT, "...")` reads naturally. */
int lk_errorf(lk_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing error's message with "what: " (for adding a file name on the way up). */
int lk_error_prefix(lk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short name for an error code ("format error", ...). */
const char *lk_code_name(int code);

/* The library version string, LK_VERSION. */
const char *lk_version(void);

/* Log levels. Library code logs through lk_log(), which writes to stderr at or above the level
 * set here (LK_LOG_WARN by default); this and read-only tables are the only global state. */
enum lk_log_level { LK_LOG_DEBUG = 0, LK_LOG_INFO = 1, LK_LOG_WARN = 2, LK_LOG_ERROR = 3, LK_LOG_OFF = 4 };
void lk_set_log_level(int level);
int lk_log_level(void);

#ifdef __cplusplus
}
#endif
#endif
