/* json.h — small jansson helpers shared by the model backends' records and the server.
 *
 * jansson refuses strings that are not valid UTF-8 (json_string returns NULL, and a NULL passed
 * on makes a field silently vanish). Model output can hold such bytes (a logprob token is often
 * part of a character), so text goes through lk_json_str, which never fails. */
#ifndef LK_JSON_H
#define LK_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* s[0..n) as a JSON string: invalid UTF-8 bytes become U+FFFD; with no_nul, NUL bytes become
 * spaces (for clients that choke on \u0000). NULL gives JSON null. */
json_t *lk_json_str(const char *s, size_t n, bool no_nul);

/* The bytes of s (NUL-terminated) as an array of integers, as OpenAI's logprobs "bytes". */
json_t *lk_json_bytes(const char *s);

#endif
