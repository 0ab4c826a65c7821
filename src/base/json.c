/* json.c — jansson helpers that never lose a field (see json.h). */
#include "base/json.h"
#include "base/base.h"

json_t *lk_json_str(const char *s, size_t n, bool no_nul) {
    if (!s) return json_null();
    if (lk_utf8_check(s, n, NULL) && (!no_nul || !memchr(s, 0, n))) return json_stringn_nocheck(s, n);
    lk_buf b = {0};
    lk_utf8_sanitize(s, n, &b);
    for (size_t i = 0; no_nul && i < b.len; i++)
        if (!b.data[i]) b.data[i] = ' ';
    json_t *j = json_stringn_nocheck(b.data ? b.data : "", b.len);
    lk_buf_free(&b);
    return j;
}

json_t *lk_json_bytes(const char *s) {
    json_t *a = json_array();
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) json_array_append_new(a, json_integer(*p));
    return a;
}
