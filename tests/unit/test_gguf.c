/* test_gguf.c — the GGUF reader and writer.
 *
 * Round trips write every metadata value type, nested arrays and tensors of several types and
 * shapes (to a file and to memory), read them back and compare every value, tensor info and data
 * byte; copying a file that was read back through the writer gives the same bytes again.
 *
 * Malformed files are built byte by byte here, noting the offset of the bad field as it is
 * written, and each must fail with the right code and a message that names the problem and that
 * offset. Images are opened from exact-size heap copies, so that AddressSanitizer reports any read
 * past the end. Scalar arrays are compared byte for byte with host arrays, which assumes a
 * little-endian host (as the rest of the engine does). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/base.h"
#include "engine/gguf.h"
#include "engine/quant/quant.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a temporary directory for the tests that write files ------------------------------------ */

static char tmp_dir[256];

static int make_tmp_dir(void **state) {
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/llmkit-gguf-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_tmp_dir(void **state) {
    (void)state;
    DIR *d = opendir(tmp_dir);
    if (!d) return 0;
    struct dirent *e;
    char path[600];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(tmp_dir);
    return 0;
}

/* A path inside the temporary directory: a static buffer per slot (0..3). */
static const char *tmp_path(int slot, const char *name) {
    static char paths[4][600];
    snprintf(paths[slot & 3], sizeof paths[0], "%s/%s", tmp_dir, name);
    return paths[slot & 3];
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- building GGUF images byte by byte ------------------------------------------------------- */

static void put_le(lk_buf *b, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t byte = (uint8_t)(v >> (8 * i));
        lk_buf_append(b, &byte, 1);
    }
}

static void put_u8(lk_buf *b, uint8_t v) { put_le(b, v, 1); }
static void put_u16(lk_buf *b, uint16_t v) { put_le(b, v, 2); }
static void put_u32(lk_buf *b, uint32_t v) { put_le(b, v, 4); }
static void put_u64(lk_buf *b, uint64_t v) { put_le(b, v, 8); }

static void put_f32(lk_buf *b, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    put_u32(b, u);
}

static void put_f64(lk_buf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}

static void put_str(lk_buf *b, const char *s) {
    put_u64(b, strlen(s));
    lk_buf_append(b, s, strlen(s));
}

static void put_header(lk_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    lk_buf_append(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}

/* The key and type tag of a metadata entry; the value follows. */
static void put_key(lk_buf *b, const char *key, enum gguf_type t) {
    put_str(b, key);
    put_u32(b, t);
}

/* The head of an array value (after its GGUF_ARRAY tag, or as an element of an array of arrays). */
static void put_arr_head(lk_buf *b, enum gguf_type elem_type, uint64_t n) {
    put_u32(b, elem_type);
    put_u64(b, n);
}

static void put_tensor_info(lk_buf *b, const char *name, uint32_t n_dims, const int64_t *ne,
                            uint32_t type, uint64_t offset) {
    put_str(b, name);
    put_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) put_u64(b, (uint64_t)ne[d]);
    put_u32(b, type);
    put_u64(b, offset);
}

static void pad_to(lk_buf *b, size_t align) {
    while (b->len % align) put_u8(b, 0);
}

static void put_zeros(lk_buf *b, size_t n) {
    while (n--) put_u8(b, 0);
}

/* ---- opening images -------------------------------------------------------------------------- */

static uint8_t *exact_copy(const void *p, size_t n) {
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n) memcpy(c, p, n);
    return c;
}

/* An image opened from an exact-size copy, which lives as long as the file. */
typedef struct opened {
    gguf_file *f;
    uint8_t *bytes;
} opened;

static opened open_image(const void *data, size_t size) {
    opened o = { NULL, exact_copy(data, size) };
    lk_error err = {0};
    o.f = gguf_open_memory(o.bytes, size, "test.gguf", &err);
    if (!o.f) fail_msg("opening a valid image failed: %s", err.msg);
    return o;
}

static void close_image(opened *o) {
    gguf_close(o->f);
    free(o->bytes);
    o->f = NULL;
    o->bytes = NULL;
}

/* Whether msg says "at offset N" (and not N followed by more digits). */
static bool names_offset(const char *msg, size_t offset) {
    char want[48];
    snprintf(want, sizeof want, "at offset %zu", offset);
    for (const char *p = strstr(msg, want); p; p = strstr(p + 1, want))
        if (!isdigit((unsigned char)p[strlen(want)])) return true;
    return false;
}

static void assert_msg_has(const char *msg, const char *what) {
    if (!strstr(msg, what)) fail_msg("message \"%s\" does not contain \"%s\"", msg, what);
}

/* Opening data[0, size) fails; the error is returned for the caller to check. */
static lk_error open_fails(const void *data, size_t size) {
    uint8_t *copy = exact_copy(data, size);
    lk_error err = {0};
    gguf_file *f = gguf_open_memory(copy, size, "bad.gguf", &err);
    if (f) {
        gguf_close(f);
        free(copy);
        fail_msg("a malformed image of %zu bytes opened without error", size);
    }
    free(copy);
    if (!err.msg[0]) fail_msg("no error message");
    return err;
}

/* The image fails with code and a message "bad.gguf: ..." naming the problem and offset. */
static void expect_error(const lk_buf *img, int code, const char *what, size_t offset) {
    lk_error err = open_fails(img->data, img->len);
    if (err.code != code) fail_msg("code %d, expected %d: %s", err.code, code, err.msg);
    assert_msg_has(err.msg, "bad.gguf: ");
    assert_msg_has(err.msg, what);
    if (!names_offset(err.msg, offset)) fail_msg("message \"%s\" does not name offset %zu", err.msg, offset);
}

static bool str_is(gguf_str s, const char *want) {
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* ---- what the round trip writes ------------------------------------------------------------- */

static const char utf8_text[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\xa6\x99";

static const uint8_t arr_u8[] = { 0, 1, 127, 128, 255 };
static const int8_t arr_i8[] = { 0, -1, 127, -128, 5 };
static const uint16_t arr_u16[] = { 0, 1, 65535, 256, 0x1234 };
static const int16_t arr_i16[] = { 0, -1, 32767, -32768, 300 };
static const uint32_t arr_u32[] = { 0, 1, UINT32_MAX, 65536, 0x12345678 };
static const int32_t arr_i32[] = { 0, -1, INT32_MAX, INT32_MIN, 42 };
static const uint64_t arr_u64[] = { 0, 1, UINT64_MAX, 1ull << 40, 0x0123456789ABCDEFull };
static const int64_t arr_i64[] = { 0, -1, INT64_MAX, INT64_MIN, 1234567890123ll };
static const float arr_f32[] = { 0.0f, -1.5f, 3.4e38f, 1e-45f, 0.1f };
static const double arr_f64[] = { 0.0, -1.5, 1.7e308, 5e-324, 0.1 };
static const uint8_t arr_bool[] = { 1, 0, 1, 1, 0 };

static const struct arr_case {
    const char *key;
    enum gguf_type type;
    const void *data;
} arr_cases[] = {
    { "t.arr.u8", GGUF_UINT8, arr_u8 },    { "t.arr.i8", GGUF_INT8, arr_i8 },
    { "t.arr.u16", GGUF_UINT16, arr_u16 }, { "t.arr.i16", GGUF_INT16, arr_i16 },
    { "t.arr.u32", GGUF_UINT32, arr_u32 }, { "t.arr.i32", GGUF_INT32, arr_i32 },
    { "t.arr.u64", GGUF_UINT64, arr_u64 }, { "t.arr.i64", GGUF_INT64, arr_i64 },
    { "t.arr.f32", GGUF_FLOAT32, arr_f32 }, { "t.arr.f64", GGUF_FLOAT64, arr_f64 },
    { "t.arr.bool", GGUF_BOOL, arr_bool },
};
#define ARR_N 5

/* Element i of a host array of the given type, as the reader's gguf_arr_i64 should give it. */
static int64_t host_i64(enum gguf_type t, const void *data, int i) {
    switch (t) {
    case GGUF_UINT8: return ((const uint8_t *)data)[i];
    case GGUF_INT8: return ((const int8_t *)data)[i];
    case GGUF_UINT16: return ((const uint16_t *)data)[i];
    case GGUF_INT16: return ((const int16_t *)data)[i];
    case GGUF_UINT32: return ((const uint32_t *)data)[i];
    case GGUF_INT32: return ((const int32_t *)data)[i];
    case GGUF_UINT64: return (int64_t)((const uint64_t *)data)[i];
    case GGUF_INT64: return ((const int64_t *)data)[i];
    case GGUF_BOOL: return ((const uint8_t *)data)[i];
    default: return 0;
    }
}

static const char *const str_list[] = { "a", "", "\xc3\xbcn\xc3\xaf", "a longer string, with spaces" };

/* Tensors: every shape rank, four types; nbytes worked out by hand. With alignment 64 the
 * offsets are 0, 64, 128 and 576 (each size rounded up to 64), and the last tensor's 576 bytes
 * are a multiple of 64, so the file ends exactly where its data ends. */
static const struct tensor_case {
    const char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint64_t nbytes;
    uint64_t offset64; /* its offset when general.alignment is 64 */
} tensor_cases[] = {
    { "tok.f32.1d", LK_F32, 1, { 7, 1, 1, 1 }, 7 * 4, 0 },
    { "blk.f16.2d", LK_F16, 2, { 3, 5, 1, 1 }, 3 * 5 * 2, 64 },
    { "blk.q8_0.3d", LK_Q8_0, 3, { 64, 2, 3, 1 }, 2 * 34 * 2 * 3, 128 },
    { "blk.q4_K.4d", LK_Q4_K, 4, { 256, 2, 1, 2 }, 144 * 2 * 1 * 2, 576 },
};
#define N_TENSORS ((int)LK_ARRAY_LEN(tensor_cases))

static uint8_t tensor_data[N_TENSORS][576];

static void fill_tensor_data(void) {
    for (int k = 0; k < N_TENSORS; k++)
        for (size_t i = 0; i < sizeof tensor_data[k]; i++)
            tensor_data[k][i] = (uint8_t)(i * 131 + (size_t)k * 17 + 1);
}

/* A hand-built file with the values the writer has no setter for: the scalar types u8, i8, u16,
 * i16, i64, f64, and arrays of arrays. The round trip copies them with gguf_set_kv_copy. */
static void source_image(lk_buf *b) {
    put_header(b, 3, 0, 10);
    put_key(b, "s.u8", GGUF_UINT8);
    put_u8(b, 200);
    put_key(b, "s.i8", GGUF_INT8);
    put_u8(b, (uint8_t)-100);
    put_key(b, "s.u16", GGUF_UINT16);
    put_u16(b, 60000);
    put_key(b, "s.i16", GGUF_INT16);
    put_u16(b, (uint16_t)-30000);
    put_key(b, "s.i64", GGUF_INT64);
    put_u64(b, (uint64_t)INT64_MIN);
    put_key(b, "s.f64", GGUF_FLOAT64);
    put_f64(b, 1.0 / 3.0);
    put_key(b, "s.nested.str", GGUF_ARRAY); /* [["a", "bc"], [], ["déf"]] */
    put_arr_head(b, GGUF_ARRAY, 3);
    put_arr_head(b, GGUF_STRING, 2);
    put_str(b, "a");
    put_str(b, "bc");
    put_arr_head(b, GGUF_STRING, 0);
    put_arr_head(b, GGUF_STRING, 1);
    put_str(b, "d\xc3\xa9" "f");
    put_key(b, "s.nested.i32", GGUF_ARRAY); /* [[1, -2, 3], [INT32_MAX]] */
    put_arr_head(b, GGUF_ARRAY, 2);
    put_arr_head(b, GGUF_INT32, 3);
    put_u32(b, 1);
    put_u32(b, (uint32_t)-2);
    put_u32(b, 3);
    put_arr_head(b, GGUF_INT32, 1);
    put_u32(b, INT32_MAX);
    put_key(b, "s.nested.deep", GGUF_ARRAY); /* [[[7, 9]]] */
    put_arr_head(b, GGUF_ARRAY, 1);
    put_arr_head(b, GGUF_ARRAY, 1);
    put_arr_head(b, GGUF_UINT8, 2);
    put_u8(b, 7);
    put_u8(b, 9);
    put_key(b, "s.nested.empty", GGUF_ARRAY); /* [] of arrays */
    put_arr_head(b, GGUF_ARRAY, 0);
}

/* A writer holding every value type, nested arrays and the four tensors. */
static gguf_writer *full_writer(uint32_t version, uint32_t alignment, opened *source) {
    lk_buf src = {0};
    source_image(&src);
    *source = open_image(src.data, src.len);
    lk_buf_free(&src);

    gguf_writer *w = gguf_writer_new(version);
    gguf_set_str(w, "general.architecture", "test");
    if (alignment) gguf_set_u32(w, "general.alignment", alignment);
    gguf_set_u32(w, "t.u32", 0xDEADBEEFu);
    gguf_set_i32(w, "t.i32", -123456);
    gguf_set_u64(w, "t.u64", 0xFEDCBA9876543210ull);
    gguf_set_f32(w, "t.f32", -3.25f);
    gguf_set_bool(w, "t.bool.true", true);
    gguf_set_bool(w, "t.bool.false", false);
    gguf_set_str(w, "t.str", "hello");
    gguf_set_str(w, "t.str.empty", "");
    gguf_set_str(w, "t.str.utf8", utf8_text);
    for (size_t i = 0; i < LK_ARRAY_LEN(arr_cases); i++)
        gguf_set_arr(w, arr_cases[i].key, arr_cases[i].type, arr_cases[i].data, ARR_N);
    gguf_set_arr(w, "t.arr.empty", GGUF_UINT32, NULL, 0);
    gguf_set_arr_str(w, "t.arr.str", str_list, LK_ARRAY_LEN(str_list));
    gguf_set_arr_str(w, "t.arr.str.empty", NULL, 0);
    for (uint64_t i = 0; i < source->f->n_kv; i++) gguf_set_kv_copy(w, &source->f->kv[i]);

    fill_tensor_data();
    lk_error err = {0};
    for (int k = 0; k < N_TENSORS; k++) {
        const struct tensor_case *tc = &tensor_cases[k];
        if (gguf_add_tensor(w, tc->name, tc->type, tc->n_dims, tc->ne, tensor_data[k], &err))
            fail_msg("gguf_add_tensor %s: %s", tc->name, err.msg);
    }
    return w;
}

/* The bytes of a writer's output, written to memory. */
static void write_image(gguf_writer *w, uint8_t **out, size_t *size) {
    lk_error err = {0};
    if (gguf_write_memory(w, out, size, &err)) fail_msg("gguf_write_memory: %s", err.msg);
}

/* Copy every key/value and tensor of f into a new writer and write it to memory. */
static void copy_through_writer(const gguf_file *f, uint8_t **out, size_t *size) {
    gguf_writer *w = gguf_writer_new(f->version);
    for (uint64_t i = 0; i < f->n_kv; i++) gguf_set_kv_copy(w, &f->kv[i]);
    lk_error err = {0};
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        if (gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, &err))
            fail_msg("gguf_add_tensor %s: %s", t->name, err.msg);
    }
    write_image(w, out, size);
    gguf_writer_free(w);
}

static const gguf_value *value_of(const gguf_file *f, const char *key, enum gguf_type t) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) fail_msg("key '%s' is missing", key);
    if (kv->val.type != t)
        fail_msg("key '%s' has type %s, expected %s", key, gguf_type_name(kv->val.type), gguf_type_name(t));
    return &kv->val;
}

/* Every value full_writer() wrote, read back from f. */
static void check_values(const gguf_file *f) {
    assert_int_equal(f->n_kv, 2 + 9 + LK_ARRAY_LEN(arr_cases) + 3 + 10);
    assert_true(str_is(value_of(f, "general.architecture", GGUF_STRING)->s, "test"));
    assert_int_equal(value_of(f, "t.u32", GGUF_UINT32)->u, 0xDEADBEEFu);
    assert_int_equal(value_of(f, "t.i32", GGUF_INT32)->i, -123456);
    assert_true(value_of(f, "t.u64", GGUF_UINT64)->u == 0xFEDCBA9876543210ull);
    assert_true(value_of(f, "t.f32", GGUF_FLOAT32)->f == -3.25);
    assert_true(value_of(f, "t.bool.true", GGUF_BOOL)->b);
    assert_false(value_of(f, "t.bool.false", GGUF_BOOL)->b);
    assert_true(str_is(value_of(f, "t.str", GGUF_STRING)->s, "hello"));
    assert_true(str_is(value_of(f, "t.str.empty", GGUF_STRING)->s, ""));
    assert_true(str_is(value_of(f, "t.str.utf8", GGUF_STRING)->s, utf8_text));

    for (size_t c = 0; c < LK_ARRAY_LEN(arr_cases); c++) {
        const struct arr_case *ac = &arr_cases[c];
        const gguf_value *v = value_of(f, ac->key, GGUF_ARRAY);
        assert_int_equal(v->arr.elem_type, ac->type);
        assert_int_equal(v->arr.n, ARR_N);
        size_t esize = gguf_type_size(ac->type);
        assert_memory_equal(v->arr.data, ac->data, ARR_N * esize);
        for (int i = 0; i < ARR_N; i++) {
            if (ac->type == GGUF_FLOAT32) assert_true(gguf_arr_f64(v, (uint64_t)i) == arr_f32[i]);
            else if (ac->type == GGUF_FLOAT64) assert_true(gguf_arr_f64(v, (uint64_t)i) == arr_f64[i]);
            else assert_true(gguf_arr_i64(v, (uint64_t)i) == host_i64(ac->type, ac->data, i));
        }
    }
    const gguf_value *empty = value_of(f, "t.arr.empty", GGUF_ARRAY);
    assert_int_equal(empty->arr.elem_type, GGUF_UINT32);
    assert_int_equal(empty->arr.n, 0);
    const gguf_value *strs = value_of(f, "t.arr.str", GGUF_ARRAY);
    assert_int_equal(strs->arr.elem_type, GGUF_STRING);
    assert_int_equal(strs->arr.n, LK_ARRAY_LEN(str_list));
    for (size_t i = 0; i < LK_ARRAY_LEN(str_list); i++) assert_true(str_is(strs->arr.strs[i], str_list[i]));
    const gguf_value *no_strs = value_of(f, "t.arr.str.empty", GGUF_ARRAY);
    assert_int_equal(no_strs->arr.elem_type, GGUF_STRING);
    assert_int_equal(no_strs->arr.n, 0);

    /* the values copied from the hand-built source */
    assert_int_equal(value_of(f, "s.u8", GGUF_UINT8)->u, 200);
    assert_int_equal(value_of(f, "s.i8", GGUF_INT8)->i, -100);
    assert_int_equal(value_of(f, "s.u16", GGUF_UINT16)->u, 60000);
    assert_int_equal(value_of(f, "s.i16", GGUF_INT16)->i, -30000);
    assert_true(value_of(f, "s.i64", GGUF_INT64)->i == INT64_MIN);
    assert_true(value_of(f, "s.f64", GGUF_FLOAT64)->f == 1.0 / 3.0);

    const gguf_value *ns = value_of(f, "s.nested.str", GGUF_ARRAY);
    assert_int_equal(ns->arr.elem_type, GGUF_ARRAY);
    assert_int_equal(ns->arr.n, 3);
    const gguf_value *ns0 = &ns->arr.items[0], *ns1 = &ns->arr.items[1], *ns2 = &ns->arr.items[2];
    assert_int_equal(ns0->type, GGUF_ARRAY);
    assert_int_equal(ns0->arr.elem_type, GGUF_STRING);
    assert_int_equal(ns0->arr.n, 2);
    assert_true(str_is(ns0->arr.strs[0], "a"));
    assert_true(str_is(ns0->arr.strs[1], "bc"));
    assert_int_equal(ns1->arr.elem_type, GGUF_STRING);
    assert_int_equal(ns1->arr.n, 0);
    assert_int_equal(ns2->arr.n, 1);
    assert_true(str_is(ns2->arr.strs[0], "d\xc3\xa9" "f"));

    const gguf_value *ni = value_of(f, "s.nested.i32", GGUF_ARRAY);
    assert_int_equal(ni->arr.elem_type, GGUF_ARRAY);
    assert_int_equal(ni->arr.n, 2);
    assert_int_equal(ni->arr.items[0].arr.elem_type, GGUF_INT32);
    assert_int_equal(ni->arr.items[0].arr.n, 3);
    assert_int_equal(gguf_arr_i64(&ni->arr.items[0], 0), 1);
    assert_int_equal(gguf_arr_i64(&ni->arr.items[0], 1), -2);
    assert_int_equal(gguf_arr_i64(&ni->arr.items[0], 2), 3);
    assert_int_equal(ni->arr.items[1].arr.n, 1);
    assert_int_equal(gguf_arr_i64(&ni->arr.items[1], 0), INT32_MAX);

    const gguf_value *deep = value_of(f, "s.nested.deep", GGUF_ARRAY);
    assert_int_equal(deep->arr.n, 1);
    const gguf_value *mid = &deep->arr.items[0];
    assert_int_equal(mid->arr.elem_type, GGUF_ARRAY);
    assert_int_equal(mid->arr.n, 1);
    const gguf_value *leaf = &mid->arr.items[0];
    assert_int_equal(leaf->arr.elem_type, GGUF_UINT8);
    assert_int_equal(leaf->arr.n, 2);
    assert_int_equal(gguf_arr_i64(leaf, 0), 7);
    assert_int_equal(gguf_arr_i64(leaf, 1), 9);

    const gguf_value *ne = value_of(f, "s.nested.empty", GGUF_ARRAY);
    assert_int_equal(ne->arr.elem_type, GGUF_ARRAY);
    assert_int_equal(ne->arr.n, 0);
}

/* Every tensor full_writer() added: infos, data bytes, and data at aligned offsets. */
static void check_tensors(const gguf_file *f, uint32_t alignment) {
    assert_int_equal(f->alignment, alignment);
    assert_int_equal(f->data_offset % alignment, 0);
    assert_int_equal(f->n_tensors, N_TENSORS);
    uint64_t expect_offset = 0;
    for (int k = 0; k < N_TENSORS; k++) {
        const struct tensor_case *tc = &tensor_cases[k];
        const gguf_tensor *t = &f->tensors[k];
        assert_ptr_equal(gguf_find_tensor(f, tc->name), t);
        assert_string_equal(t->name, tc->name);
        assert_int_equal(t->type, tc->type);
        assert_int_equal(t->n_dims, tc->n_dims);
        for (int d = 0; d < GGUF_MAX_DIMS; d++) assert_int_equal(t->ne[d], tc->ne[d]);
        assert_int_equal(t->nbytes, tc->nbytes);
        assert_int_equal(t->offset, expect_offset);
        if (alignment == 64) assert_int_equal(t->offset, tc->offset64);
        assert_ptr_equal(t->data, f->map + f->data_offset + t->offset);
        assert_int_equal((size_t)((const uint8_t *)t->data - f->map) % alignment, 0);
        assert_memory_equal(t->data, tensor_data[k], tc->nbytes);
        expect_offset += (tc->nbytes + alignment - 1) / alignment * alignment;
    }
    assert_null(gguf_find_tensor(f, "no.such.tensor"));
}

/* ---- round trips ----------------------------------------------------------------------------- */

/* Every value type written to memory reads back as written. */
static void roundtrip_values(uint32_t version) {
    opened src;
    gguf_writer *w = full_writer(version, 64, &src);
    uint8_t *img;
    size_t size;
    write_image(w, &img, &size);
    opened o = open_image(img, size);
    assert_int_equal(o.f->version, version);
    check_values(o.f);
    close_image(&o);
    free(img);
    gguf_writer_free(w);
    close_image(&src);
}

static void test_roundtrip_values_v2(void **state) { (void)state; roundtrip_values(2); }
static void test_roundtrip_values_v3(void **state) { (void)state; roundtrip_values(3); }

/* Tensors of four types and ranks 1 to 4 read back with their infos, data and aligned offsets. */
static void roundtrip_tensors(uint32_t version) {
    opened src;
    gguf_writer *w = full_writer(version, 64, &src);
    uint8_t *img;
    size_t size;
    write_image(w, &img, &size);
    opened o = open_image(img, size);
    check_tensors(o.f, 64);
    const gguf_tensor *last = &o.f->tensors[N_TENSORS - 1];
    assert_int_equal(o.f->data_offset + last->offset + last->nbytes, size);
    close_image(&o);
    free(img);
    gguf_writer_free(w);
    close_image(&src);
}

static void test_roundtrip_tensors_v2(void **state) { (void)state; roundtrip_tensors(2); }
static void test_roundtrip_tensors_v3(void **state) { (void)state; roundtrip_tensors(3); }

/* gguf_write writes the same bytes as gguf_write_memory, and gguf_open maps them back. */
static void write_file_matches_memory(uint32_t version) {
    opened src;
    gguf_writer *w = full_writer(version, 64, &src);
    uint8_t *img;
    size_t size;
    write_image(w, &img, &size);
    const char *path = tmp_path(0, version == 2 ? "roundtrip2.gguf" : "roundtrip3.gguf");
    lk_error err = {0};
    if (gguf_write(w, path, &err)) fail_msg("gguf_write: %s", err.msg);
    lk_buf disk = {0};
    if (lk_read_file(path, &disk, &err)) fail_msg("%s", err.msg);
    assert_int_equal(disk.len, size);
    assert_memory_equal(disk.data, img, size);
    lk_buf_free(&disk);

    gguf_file *f = gguf_open(path, &err);
    if (!f) fail_msg("gguf_open: %s", err.msg);
    assert_true(f->mapped);
    assert_string_equal(f->path, path);
    assert_int_equal(f->version, version);
    check_values(f);
    check_tensors(f, 64);
    gguf_close(f);
    free(img);
    gguf_writer_free(w);
    close_image(&src);
}

static void test_write_file_matches_memory_v2(void **state) { (void)state; write_file_matches_memory(2); }
static void test_write_file_matches_memory_v3(void **state) { (void)state; write_file_matches_memory(3); }

/* Copying a file that was read back (key/values verbatim, tensors from the map) through a new
 * writer gives byte-identical output. */
static void copy_is_identical(uint32_t version, uint32_t alignment) {
    opened src;
    gguf_writer *w = full_writer(version, alignment, &src);
    uint8_t *img;
    size_t size;
    write_image(w, &img, &size);
    opened o = open_image(img, size);
    uint8_t *again;
    size_t again_size;
    copy_through_writer(o.f, &again, &again_size);
    assert_int_equal(again_size, size);
    assert_memory_equal(again, img, size);
    free(again);
    close_image(&o);
    free(img);
    gguf_writer_free(w);
    close_image(&src);
}

static void test_copy_is_byte_identical_v2(void **state) { (void)state; copy_is_identical(2, 64); }
static void test_copy_is_byte_identical_v3(void **state) { (void)state; copy_is_identical(3, 64); }
static void test_copy_is_byte_identical_default_alignment(void **state) { (void)state; copy_is_identical(3, 0); }

/* Without general.alignment, the header and every tensor's data are padded to 32 bytes. */
static void test_default_alignment_is_32(void **state) {
    (void)state;
    opened src;
    gguf_writer *w = full_writer(3, 0, &src);
    uint8_t *img;
    size_t size;
    write_image(w, &img, &size);
    opened o = open_image(img, size);
    assert_null(gguf_find(o.f, "general.alignment"));
    check_tensors(o.f, 32);
    assert_int_equal(o.f->tensors[1].offset, 32);
    assert_int_equal(o.f->tensors[2].offset, 64);
    assert_int_equal(o.f->tensors[3].offset, 64 + 416);
    close_image(&o);
    free(img);
    gguf_writer_free(w);
    close_image(&src);
}

/* With general.alignment 1, tensor data is packed with no padding at all. */
static void test_alignment_1_packs_tensors(void **state) {
    (void)state;
    opened src;
    gguf_writer *w = full_writer(3, 1, &src);
    uint8_t *img;
    size_t size;
    write_image(w, &img, &size);
    opened o = open_image(img, size);
    check_tensors(o.f, 1);
    assert_int_equal(o.f->tensors[1].offset, 28);
    assert_int_equal(o.f->tensors[2].offset, 28 + 30);
    close_image(&o);
    free(img);
    gguf_writer_free(w);
    close_image(&src);
}

/* A file with metadata only reads back with no tensors and its data section at the end. */
static void test_metadata_only_file(void **state) {
    (void)state;
    gguf_writer *w = gguf_writer_new(3);
    gguf_set_str(w, "general.name", "x");
    uint8_t *img;
    size_t size;
    write_image(w, &img, &size);
    assert_int_equal(size % 32, 0);
    opened o = open_image(img, size);
    assert_int_equal(o.f->n_tensors, 0);
    assert_int_equal(o.f->n_kv, 1);
    assert_int_equal(o.f->data_offset, size);
    close_image(&o);
    free(img);
    gguf_writer_free(w);
}

/* Setting a key twice replaces its value (and type) in place; the key is written once. */
static void test_set_replaces_existing_key(void **state) {
    (void)state;
    gguf_writer *w = gguf_writer_new(3);
    gguf_set_u32(w, "a", 1);
    gguf_set_str(w, "b", "bee");
    gguf_set_str(w, "a", "replaced");
    uint8_t *img;
    size_t size;
    write_image(w, &img, &size);
    opened o = open_image(img, size);
    assert_int_equal(o.f->n_kv, 2);
    assert_string_equal(o.f->kv[0].key, "a");
    assert_true(str_is(value_of(o.f, "a", GGUF_STRING)->s, "replaced"));
    assert_string_equal(o.f->kv[1].key, "b");
    close_image(&o);
    free(img);
    gguf_writer_free(w);
}

/* gguf_add_tensor refuses what the reader would refuse: unknown type, 0 or 5 dims, a partial
 * block, a name used twice. */
static void test_add_tensor_rejects_bad_tensors(void **state) {
    (void)state;
    gguf_writer *w = gguf_writer_new(3);
    static const uint8_t data[1024];
    lk_error err = {0};
    int64_t ne[5] = { 32, 1, 1, 1, 1 };
    assert_int_equal(gguf_add_tensor(w, "t99", 99, 1, ne, data, &err), LK_EINVAL);
    assert_msg_has(err.msg, "unknown type 99");
    assert_int_equal(gguf_add_tensor(w, "t0", LK_F32, 0, ne, data, &err), LK_EINVAL);
    assert_msg_has(err.msg, "0 dimensions");
    assert_int_equal(gguf_add_tensor(w, "t5", LK_F32, 5, ne, data, &err), LK_EINVAL);
    assert_msg_has(err.msg, "5 dimensions");
    int64_t ne33[1] = { 33 };
    assert_int_equal(gguf_add_tensor(w, "q", LK_Q8_0, 1, ne33, data, &err), LK_EINVAL);
    assert_msg_has(err.msg, "33 columns");
    assert_int_equal(gguf_add_tensor(w, "w", LK_F32, 1, ne, data, &err), LK_OK);
    assert_int_equal(gguf_add_tensor(w, "w", LK_F32, 1, ne, data, &err), LK_EINVAL);
    assert_msg_has(err.msg, "'w' added twice");
    gguf_writer_free(w);
}

/* ---- atomic writes --------------------------------------------------------------------------- */

/* Writing into a directory that does not exist fails with LK_EIO naming the path, and leaves
 * neither the file nor its .tmp behind. */
static void test_write_to_missing_directory_fails_cleanly(void **state) {
    (void)state;
    const char *path = tmp_path(0, "no-such-dir/x.gguf");
    const char *tmp = tmp_path(1, "no-such-dir/x.gguf.tmp");
    gguf_writer *w = gguf_writer_new(3);
    gguf_set_u32(w, "a", 1);
    lk_error err = {0};
    assert_int_equal(gguf_write(w, path, &err), LK_EIO);
    assert_int_equal(err.code, LK_EIO);
    assert_msg_has(err.msg, path);
    assert_false(file_exists(path));
    assert_false(file_exists(tmp));
    gguf_writer_free(w);
}

/* A general.alignment the reader would reject (not a power of two, or not a uint32) makes the
 * writer refuse, writing nothing; and a tensor with a negative dimension is refused when added. */
static void test_writer_refuses_what_the_reader_would_reject(void **state) {
    (void)state;
    const char *path = tmp_path(0, "badalign.gguf");
    lk_error err = {0};
    gguf_writer *w = gguf_writer_new(3);
    gguf_set_u32(w, "general.alignment", 3);
    assert_int_equal(gguf_write(w, path, &err), LK_EINVAL);
    assert_msg_has(err.msg, "general.alignment must be a uint32 power of two");
    assert_false(file_exists(path));
    uint8_t *img = NULL;
    size_t size = 0;
    assert_int_equal(gguf_write_memory(w, &img, &size, &err), LK_EINVAL);
    gguf_set_u64(w, "general.alignment", 64);
    assert_int_equal(gguf_write(w, path, &err), LK_EINVAL);
    gguf_set_u32(w, "general.alignment", 64);
    assert_int_equal(gguf_write(w, path, &err), LK_OK);
    int64_t ne[2] = { 32, -1 };
    float data[32] = {0};
    assert_int_equal(gguf_add_tensor(w, "t", 0, 2, ne, data, &err), LK_EINVAL);
    assert_msg_has(err.msg, "tensor 't': dimension 1 is -1");
    gguf_writer_free(w);
}

/* After a successful write the file is complete and no .tmp file remains; writing again
 * replaces the old file whole. */
static void test_write_leaves_no_tmp_file(void **state) {
    (void)state;
    const char *path = tmp_path(0, "atomic.gguf");
    const char *tmp = tmp_path(1, "atomic.gguf.tmp");
    lk_error err = {0};
    gguf_writer *w = gguf_writer_new(3);
    gguf_set_str(w, "general.name", "first");
    assert_int_equal(gguf_write(w, path, &err), LK_OK);
    assert_true(file_exists(path));
    assert_false(file_exists(tmp));
    gguf_set_str(w, "general.name", "second, longer than the first");
    assert_int_equal(gguf_write(w, path, &err), LK_OK);
    assert_false(file_exists(tmp));
    gguf_file *f = gguf_open(path, &err);
    if (!f) fail_msg("%s", err.msg);
    assert_true(str_is(value_of(f, "general.name", GGUF_STRING)->s, "second, longer than the first"));
    gguf_close(f);
    gguf_writer_free(w);
}

/* ---- files that cannot be opened ------------------------------------------------------------- */

/* A missing file is LK_EIO naming the path. */
static void test_open_missing_file(void **state) {
    (void)state;
    const char *path = tmp_path(0, "missing.gguf");
    lk_error err = {0};
    assert_null(gguf_open(path, &err));
    assert_int_equal(err.code, LK_EIO);
    assert_msg_has(err.msg, path);
}

/* A directory is not a GGUF file: LK_EIO. */
static void test_open_directory(void **state) {
    (void)state;
    lk_error err = {0};
    assert_null(gguf_open(tmp_dir, &err));
    assert_int_equal(err.code, LK_EIO);
    assert_msg_has(err.msg, "not a regular file");
}

/* An empty file on disk is reported as truncated at offset 0. */
static void test_empty_file(void **state) {
    (void)state;
    const char *path = tmp_path(0, "empty.gguf");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fclose(fp);
    lk_error err = {0};
    assert_null(gguf_open(path, &err));
    assert_int_equal(err.code, LK_EFORMAT);
    assert_msg_has(err.msg, path);
    assert_msg_has(err.msg, "file truncated: 0 bytes");
    assert_true(names_offset(err.msg, 0));
}

/* A truncated file on disk names its path and the offset where the data ran out. */
static void test_truncated_file_on_disk(void **state) {
    (void)state;
    const char *path = tmp_path(0, "short.gguf");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite("GGUF\x03\x00\x00\x00\x00\x00", 1, 10, fp);
    fclose(fp);
    lk_error err = {0};
    assert_null(gguf_open(path, &err));
    assert_int_equal(err.code, LK_EFORMAT);
    assert_msg_has(err.msg, path);
    assert_msg_has(err.msg, "tensor count needs 8 bytes, 2 left");
    assert_true(names_offset(err.msg, 8));
}

/* ---- truncation ------------------------------------------------------------------------------ */

/* The offset in the last "at offset N" of msg. */
static size_t last_offset(const char *msg) {
    const char *p = NULL;
    for (const char *q = strstr(msg, "at offset "); q; q = strstr(q + 1, "at offset ")) p = q;
    if (!p) fail_msg("message \"%s\" names no offset", msg);
    return (size_t)strtoull(p + strlen("at offset "), NULL, 10);
}

/* Cut a complete file (metadata of every type, four tensors, ending with the last tensor's data)
 * at every byte: each prefix fails with LK_EFORMAT and an offset inside the prefix; only the whole
 * file opens. */
static void test_truncated_at_every_byte(void **state) {
    (void)state;
    opened src;
    gguf_writer *w = full_writer(3, 64, &src);
    uint8_t *img;
    size_t size;
    write_image(w, &img, &size);
    for (size_t len = 0; len < size; len++) {
        lk_error err = open_fails(img, len);
        if (err.code != LK_EFORMAT) fail_msg("prefix of %zu bytes: code %d: %s", len, err.code, err.msg);
        size_t off = last_offset(err.msg);
        if (off > len) fail_msg("prefix of %zu bytes: offset %zu is past its end: %s", len, off, err.msg);
    }
    opened o = open_image(img, size);
    close_image(&o);
    free(img);
    gguf_writer_free(w);
    close_image(&src);
}

/* Cut inside the header, each field is reported at its own offset. */
static void test_truncated_header(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 0);
    lk_error err = open_fails(b.data, 3);
    assert_msg_has(err.msg, "too short for the GGUF magic");
    assert_true(names_offset(err.msg, 0));
    err = open_fails(b.data, 6);
    assert_msg_has(err.msg, "version needs 4 bytes, 2 left");
    assert_true(names_offset(err.msg, 4));
    err = open_fails(b.data, 12);
    assert_msg_has(err.msg, "tensor count needs 8 bytes, 4 left");
    assert_true(names_offset(err.msg, 8));
    err = open_fails(b.data, 20);
    assert_msg_has(err.msg, "metadata count needs 8 bytes, 4 left");
    assert_true(names_offset(err.msg, 16));
    lk_buf_free(&b);
}

/* Cut inside a key, the key's length field is reported: the key runs past the end. */
static void test_truncated_inside_key(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    size_t key_at = b.len; /* 24 */
    put_key(&b, "general.architecture", GGUF_STRING);
    put_str(&b, "llama");
    b.len = key_at + 8 + 10; /* ten of the key's twenty bytes */
    expect_error(&b, LK_EFORMAT, "metadata key length 20 runs past the end of the file (10 bytes left)", key_at);
    lk_buf_free(&b);
}

/* Cut inside a string value, its length field is reported. */
static void test_truncated_inside_string_value(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    put_key(&b, "general.name", GGUF_STRING);
    size_t val_at = b.len; /* 48 */
    put_str(&b, "a fairly long name");
    b.len = val_at + 8 + 4;
    expect_error(&b, LK_EFORMAT, "string value length 18 runs past the end of the file (4 bytes left)", val_at);
    lk_buf_free(&b);
}

/* Cut inside a scalar value, the value's offset is reported with how many bytes were left. */
static void test_truncated_inside_scalar_value(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    put_key(&b, "k", GGUF_UINT64);
    size_t val_at = b.len; /* 37 */
    put_u64(&b, 12345);
    b.len = val_at + 3;
    expect_error(&b, LK_EFORMAT, "file truncated: value needs 8 bytes, 3 left", val_at);
    lk_buf_free(&b);
}

/* Cut inside an array's elements, the array's head is reported. */
static void test_truncated_inside_array(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    put_key(&b, "k", GGUF_ARRAY);
    size_t arr_at = b.len;
    put_arr_head(&b, GGUF_UINT32, 4);
    put_u32(&b, 1);
    put_u32(&b, 2);
    expect_error(&b, LK_EFORMAT, "key 'k': array of 4 uint32 values needs more than the 8 bytes left", arr_at);
    lk_buf_free(&b);
}

/* Cut inside a tensor info, the field that ran out is reported at its offset. */
static void test_truncated_inside_tensor_info(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1, 0);
    put_str(&b, "blk.0.attn_q.weight");
    put_u32(&b, 2);
    put_u64(&b, 4);
    size_t dim1_at = b.len; /* 63 */
    expect_error(&b, LK_EFORMAT, "file truncated: tensor dimension needs 8 bytes, 0 left", dim1_at);
    lk_buf_free(&b);
}

/* Cut between the tensor infos and the aligned start of the data, the end of the infos is
 * reported. */
static void test_truncated_before_tensor_data(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1, 0);
    const int64_t ne[1] = { 16 };
    put_tensor_info(&b, "weight", 1, ne, LK_F32, 0);
    size_t end = b.len; /* 62: the data would start at 64 */
    put_u8(&b, 0);
    expect_error(&b, LK_EFORMAT, "file truncated before the tensor data section", end);
    lk_buf_free(&b);
}

/* Cut inside a tensor's data, that tensor's info is reported with its extent. */
static void test_truncated_inside_tensor_data(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1, 0);
    const int64_t ne[1] = { 16 };
    size_t info_at = b.len;
    put_tensor_info(&b, "weight", 1, ne, LK_F32, 0);
    pad_to(&b, 32);
    put_zeros(&b, 10); /* of 64 */
    expect_error(&b, LK_EFORMAT, "tensor 'weight': data [0, +64) of the data section lies outside the file "
                 "(data section starts at 64 and has 10 bytes)", info_at);
    lk_buf_free(&b);
}

/* Padding after the last tensor's data may be left out: the data itself is all there. */
static void test_trailing_padding_is_optional(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1, 0);
    const int64_t ne[1] = { 3 };
    put_tensor_info(&b, "weight", 1, ne, LK_F32, 0);
    pad_to(&b, 32);
    put_zeros(&b, 12);
    opened o = open_image(b.data, b.len);
    assert_int_equal(o.f->tensors[0].nbytes, 12);
    close_image(&o);
    lk_buf_free(&b);
}

/* ---- malformed headers ----------------------------------------------------------------------- */

static void test_bad_magic(void **state) {
    (void)state;
    lk_buf b = {0};
    lk_buf_append(&b, "GGML", 4);
    put_u32(&b, 3);
    put_u64(&b, 0);
    put_u64(&b, 0);
    expect_error(&b, LK_EFORMAT, "bad magic: not a GGUF file (starts with 47 47 4d 4c)", 0);
    lk_buf_free(&b);
}

/* Versions other than 2 and 3 are LK_EUNSUPPORTED, reported at the version field. */
static void test_unsupported_versions(void **state) {
    (void)state;
    const uint32_t versions[] = { 0, 1, 4, 0x03000000 };
    for (size_t i = 0; i < LK_ARRAY_LEN(versions); i++) {
        lk_buf b = {0};
        put_header(&b, versions[i], 0, 0);
        char what[64];
        snprintf(what, sizeof what, "unsupported GGUF version %u", versions[i]);
        expect_error(&b, LK_EUNSUPPORTED, what, 4);
        lk_buf_free(&b);
    }
}

/* A metadata count more than the file could hold is reported at the count, before any
 * allocation. */
static void test_absurd_metadata_count(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, UINT64_MAX);
    put_key(&b, "k", GGUF_UINT8);
    put_u8(&b, 1);
    expect_error(&b, LK_EFORMAT, "header claims 18446744073709551615 metadata entries, more than the 14 bytes left", 16);
    lk_buf_free(&b);

    /* exactly one entry more than 14 bytes per entry allows */
    lk_buf c = {0};
    put_header(&c, 3, 0, 2);
    put_key(&c, "k", GGUF_UINT8);
    put_u8(&c, 1);
    expect_error(&c, LK_EFORMAT, "header claims 2 metadata entries", 16);
    lk_buf_free(&c);
}

/* A tensor count more than the file could hold is reported at the count. */
static void test_absurd_tensor_count(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1ull << 40, 0);
    put_zeros(&b, 100);
    expect_error(&b, LK_EFORMAT, "header claims 1099511627776 tensors, more than the 100 bytes left", 8);
    lk_buf_free(&b);
}

/* ---- malformed metadata ---------------------------------------------------------------------- */

static void test_absurd_key_length(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    size_t at = b.len;
    put_u64(&b, UINT64_MAX);
    put_zeros(&b, 16);
    expect_error(&b, LK_EFORMAT, "metadata key length 18446744073709551615 runs past the end", at);
    lk_buf_free(&b);
}

static void test_empty_key(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    size_t at = b.len;
    put_key(&b, "", GGUF_UINT8);
    put_zeros(&b, 4);
    expect_error(&b, LK_EFORMAT, "metadata key 0 has bad length 0", at);
    lk_buf_free(&b);
}

static void test_key_with_nul_byte(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    size_t at = b.len;
    put_u64(&b, 3);
    lk_buf_append(&b, "a\0b", 3);
    put_u32(&b, GGUF_UINT8);
    put_u8(&b, 1);
    expect_error(&b, LK_EFORMAT, "metadata key 0 contains a NUL byte", at);
    lk_buf_free(&b);
}

static void test_absurd_string_length(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    put_key(&b, "k", GGUF_STRING);
    size_t at = b.len;
    put_u64(&b, UINT64_MAX / 2);
    lk_buf_append(&b, "abc", 3);
    expect_error(&b, LK_EFORMAT, "string value length 9223372036854775807 runs past the end of the file (3 bytes left)", at);
    lk_buf_free(&b);
}

/* A string inside an array with a length past the end is reported at its length field. */
static void test_absurd_string_length_in_array(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    put_key(&b, "k", GGUF_ARRAY);
    put_arr_head(&b, GGUF_STRING, 2);
    put_str(&b, "ok");
    size_t at = b.len;
    put_u64(&b, 1000);
    put_zeros(&b, 8);
    expect_error(&b, LK_EFORMAT, "string in array length 1000 runs past the end", at);
    lk_buf_free(&b);
}

/* Absurd array lengths are caught before allocating: scalars need their size each, strings 8
 * bytes, arrays 12. */
static void test_absurd_array_length(void **state) {
    (void)state;
    static const struct { enum gguf_type t; const char *what; } cases[] = {
        { GGUF_UINT32, "key 'k': array of 4611686018427387904 uint32 values needs more than the 16 bytes left" },
        { GGUF_STRING, "key 'k': array of 4611686018427387904 strings cannot fit in the 16 bytes left" },
        { GGUF_ARRAY, "key 'k': array of 4611686018427387904 arrays cannot fit in the 16 bytes left" },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(cases); i++) {
        lk_buf b = {0};
        put_header(&b, 3, 0, 1);
        put_key(&b, "k", GGUF_ARRAY);
        size_t at = b.len;
        put_arr_head(&b, cases[i].t, 1ull << 62);
        put_zeros(&b, 16);
        expect_error(&b, LK_EFORMAT, cases[i].what, at);
        lk_buf_free(&b);
    }
}

static void test_unknown_value_type(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    put_str(&b, "k");
    size_t at = b.len;
    put_u32(&b, 13);
    put_zeros(&b, 8);
    expect_error(&b, LK_EFORMAT, "key 'k': unknown value type 13", at);
    lk_buf_free(&b);
}

static void test_unknown_array_element_type(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    put_key(&b, "k", GGUF_ARRAY);
    size_t at = b.len;
    put_arr_head(&b, 0xFFFFFFFFu, 1);
    put_zeros(&b, 8);
    expect_error(&b, LK_EFORMAT, "key 'k': unknown array element type 4294967295", at);
    lk_buf_free(&b);
}

/* n arrays nested in one another (the innermost an empty array of uint8); *innermost_at is the
 * offset of the innermost array's head. */
static void nested_arrays(lk_buf *b, int n, size_t *innermost_at) {
    put_header(b, 3, 0, 1);
    put_key(b, "deep", GGUF_ARRAY);
    for (int level = 0; level < n - 1; level++) put_arr_head(b, GGUF_ARRAY, 1);
    *innermost_at = b->len;
    put_arr_head(b, GGUF_UINT8, 0);
}

/* Arrays nest at most 8 deep: 8 levels are read, a ninth is reported at its head. */
static void test_nesting_too_deep(void **state) {
    (void)state;
    lk_buf b = {0};
    size_t at;
    nested_arrays(&b, 8, &at);
    opened o = open_image(b.data, b.len);
    const gguf_value *v = value_of(o.f, "deep", GGUF_ARRAY);
    for (int level = 0; level < 7; level++) {
        assert_int_equal(v->arr.elem_type, GGUF_ARRAY);
        assert_int_equal(v->arr.n, 1);
        v = &v->arr.items[0];
    }
    assert_int_equal(v->arr.elem_type, GGUF_UINT8);
    close_image(&o);
    lk_buf_free(&b);

    lk_buf c = {0};
    nested_arrays(&c, 9, &at);
    expect_error(&c, LK_EFORMAT, "key 'deep': arrays nested deeper than 8", at);
    lk_buf_free(&c);
}

/* A bool is one byte, 0 or 1; anything else is reported at that byte. */
static void test_bool_not_0_or_1(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    put_key(&b, "flag", GGUF_BOOL);
    size_t at = b.len;
    put_u8(&b, 2);
    expect_error(&b, LK_EFORMAT, "key 'flag': bool value 2 is not 0 or 1", at);
    lk_buf_free(&b);
}

/* The same holds for the elements of an array of bools. */
static void test_bool_array_element_not_0_or_1(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 1);
    put_key(&b, "flags", GGUF_ARRAY);
    put_arr_head(&b, GGUF_BOOL, 3);
    put_u8(&b, 1);
    put_u8(&b, 0);
    size_t at = b.len;
    put_u8(&b, 255);
    expect_error(&b, LK_EFORMAT, "key 'flags': bool value 255 is not 0 or 1", at);
    lk_buf_free(&b);
}

/* A key that appears twice is reported at its second occurrence, naming the first. */
static void test_duplicate_key(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 3);
    size_t first = b.len;
    put_key(&b, "general.name", GGUF_UINT8);
    put_u8(&b, 1);
    put_key(&b, "other", GGUF_UINT8);
    put_u8(&b, 2);
    size_t second = b.len;
    put_key(&b, "general.name", GGUF_STRING);
    put_str(&b, "x");
    expect_error(&b, LK_EFORMAT, "duplicate metadata key 'general.name'", second);
    lk_error err = open_fails(b.data, b.len);
    char first_at[64];
    snprintf(first_at, sizeof first_at, "first at offset %zu", first);
    assert_msg_has(err.msg, first_at);
    lk_buf_free(&b);
}

/* general.alignment must be a uint32 power of two; otherwise it is reported at its key. */
static void test_bad_alignment(void **state) {
    (void)state;
    for (int k = 0; k < 4; k++) {
        lk_buf b = {0};
        put_header(&b, 3, 0, 2);
        put_key(&b, "general.name", GGUF_STRING);
        put_str(&b, "x");
        size_t at = b.len;
        if (k == 0 || k == 1) {
            put_key(&b, "general.alignment", GGUF_UINT32);
            put_u32(&b, k == 0 ? 0 : 3);
        } else if (k == 2) {
            put_key(&b, "general.alignment", GGUF_UINT64);
            put_u64(&b, 32);
        } else {
            put_key(&b, "general.alignment", GGUF_STRING);
            put_str(&b, "32");
        }
        expect_error(&b, LK_EFORMAT, "general.alignment must be a uint32 power of two", at);
        lk_buf_free(&b);
    }
}

/* ---- malformed tensor infos ------------------------------------------------------------------ */

/* An image with one tensor info whose n_dims field (at *dims_at) is n_dims. */
static void tensor_with_dims(lk_buf *b, uint32_t n_dims, size_t *dims_at) {
    put_header(b, 3, 1, 0);
    put_str(b, "weight");
    *dims_at = b->len;
    put_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) put_u64(b, 1);
    put_u32(b, LK_F32);
    put_u64(b, 0);
    pad_to(b, 32);
    put_zeros(b, 32);
}

static void test_tensor_dims_0_and_5(void **state) {
    (void)state;
    size_t at;
    lk_buf b = {0};
    tensor_with_dims(&b, 0, &at);
    expect_error(&b, LK_EFORMAT, "tensor 'weight': 0 dimensions (1 to 4 allowed)", at);
    lk_buf_free(&b);
    lk_buf c = {0};
    tensor_with_dims(&c, 5, &at);
    expect_error(&c, LK_EFORMAT, "tensor 'weight': 5 dimensions (1 to 4 allowed)", at);
    lk_buf_free(&c);
}

static void test_tensor_empty_name(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1, 0);
    size_t at = b.len;
    const int64_t ne[1] = { 1 };
    put_tensor_info(&b, "", 1, ne, LK_F32, 0);
    put_zeros(&b, 64);
    expect_error(&b, LK_EFORMAT, "tensor 0 has a bad name (length 0)", at);
    lk_buf_free(&b);
}

static void test_tensor_absurd_dimension(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1, 0);
    put_str(&b, "weight");
    put_u32(&b, 2);
    put_u64(&b, 4);
    size_t at = b.len;
    put_u64(&b, UINT64_MAX);
    put_u32(&b, LK_F32);
    put_u64(&b, 0);
    put_zeros(&b, 32);
    expect_error(&b, LK_EFORMAT, "tensor 'weight': dimension 1 is 18446744073709551615, absurdly large", at);
    lk_buf_free(&b);
}

/* Dimensions whose byte size overflows 64 bits are reported at the tensor info. */
static void test_tensor_size_overflow(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1, 0);
    size_t at = b.len;
    const int64_t ne[2] = { 1ll << 61, 1ll << 61 };
    put_tensor_info(&b, "weight", 2, ne, LK_F32, 0);
    put_zeros(&b, 32);
    expect_error(&b, LK_EFORMAT, "tensor 'weight': size overflows", at);
    lk_buf_free(&b);
}

static void test_unknown_tensor_type(void **state) {
    (void)state;
    static const uint32_t types[] = { 4, 5, 31, 99, 0xFFFFFFFFu }; /* 4, 5, 31: numbers ggml retired */
    for (size_t i = 0; i < LK_ARRAY_LEN(types); i++) {
        lk_buf b = {0};
        put_header(&b, 3, 1, 0);
        put_str(&b, "weight");
        put_u32(&b, 1);
        put_u64(&b, 32);
        size_t at = b.len;
        put_u32(&b, types[i]);
        put_u64(&b, 0);
        pad_to(&b, 32);
        put_zeros(&b, 128);
        char what[64];
        snprintf(what, sizeof what, "tensor 'weight': unknown tensor type %u", types[i]);
        expect_error(&b, LK_EFORMAT, what, at);
        lk_buf_free(&b);
    }
}

/* A row must be a whole number of blocks; reported at the type field. */
static void test_row_not_whole_blocks(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1, 0);
    put_str(&b, "weight");
    put_u32(&b, 2);
    put_u64(&b, 48);
    put_u64(&b, 2);
    size_t at = b.len;
    put_u32(&b, LK_Q8_0);
    put_u64(&b, 0);
    pad_to(&b, 32);
    put_zeros(&b, 160);
    expect_error(&b, LK_EFORMAT, "tensor 'weight': row of 48 elements is not a whole number of q8_0 blocks (32)", at);
    lk_buf_free(&b);
}

static void test_duplicate_tensor_name(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 3, 0);
    const int64_t ne[1] = { 8 };
    size_t first = b.len;
    put_tensor_info(&b, "w", 1, ne, LK_F32, 0);
    put_tensor_info(&b, "v", 1, ne, LK_F32, 32);
    size_t second = b.len;
    put_tensor_info(&b, "w", 1, ne, LK_F32, 64);
    pad_to(&b, 32);
    put_zeros(&b, 96);
    expect_error(&b, LK_EFORMAT, "duplicate tensor name 'w'", second);
    lk_error err = open_fails(b.data, b.len);
    char first_at[64];
    snprintf(first_at, sizeof first_at, "first at offset %zu", first);
    assert_msg_has(err.msg, first_at);
    lk_buf_free(&b);
}

/* Data past the end of the file is reported at the tensor info, with the extent. */
static void test_tensor_data_out_of_bounds(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 2, 0);
    const int64_t ne[1] = { 8 };
    put_tensor_info(&b, "a", 1, ne, LK_F32, 0);
    size_t at = b.len;
    put_tensor_info(&b, "b", 1, ne, LK_F32, 1ull << 40);
    pad_to(&b, 32);
    put_zeros(&b, 64);
    expect_error(&b, LK_EFORMAT, "tensor 'b': data [1099511627776, +32) of the data section lies outside the file", at);
    lk_buf_free(&b);
}

/* An offset so large that offset + size wraps around is still out of bounds. */
static void test_tensor_offset_wraps(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1, 0);
    const int64_t ne[1] = { 8 };
    size_t at = b.len;
    put_tensor_info(&b, "a", 1, ne, LK_F32, UINT64_MAX - 31);
    pad_to(&b, 32);
    put_zeros(&b, 64);
    expect_error(&b, LK_EFORMAT, "lies outside the file", at);
    lk_buf_free(&b);
}

/* Two tensors sharing bytes are reported at the later one. */
static void test_overlapping_tensors(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 2, 0);
    const int64_t ne[1] = { 16 }; /* 64 bytes each */
    put_tensor_info(&b, "a", 1, ne, LK_F32, 0);
    size_t at = b.len;
    put_tensor_info(&b, "b", 1, ne, LK_F32, 32);
    pad_to(&b, 32);
    put_zeros(&b, 96);
    expect_error(&b, LK_EFORMAT, "tensor 'b' data overlaps tensor 'a'", at);
    lk_buf_free(&b);
}

/* Overlap is found even when an empty tensor lies between the two that overlap, and whatever
 * the order of the infos. */
static void test_overlap_across_empty_tensor(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 3, 0);
    const int64_t big[1] = { 32 }, empty[1] = { 0 }, small[1] = { 8 };
    size_t at = b.len;
    put_tensor_info(&b, "small", 1, small, LK_F32, 64); /* [64, 96) */
    put_tensor_info(&b, "empty", 1, empty, LK_F32, 32); /* nothing, at 32 */
    put_tensor_info(&b, "big", 1, big, LK_F32, 0);      /* [0, 128) */
    pad_to(&b, 32);
    put_zeros(&b, 128);
    expect_error(&b, LK_EFORMAT, "tensor 'small' data overlaps tensor 'big'", at);
    lk_buf_free(&b);
}

/* Empty tensors overlap nothing, and tensors that only touch do not overlap. */
static void test_touching_and_empty_tensors_are_fine(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 3, 0);
    const int64_t ne[1] = { 8 }, empty[2] = { 8, 0 };
    put_tensor_info(&b, "a", 1, ne, LK_F32, 0);
    put_tensor_info(&b, "b", 1, ne, LK_F32, 32);
    put_tensor_info(&b, "e", 2, empty, LK_F32, 32);
    pad_to(&b, 32);
    put_zeros(&b, 64);
    opened o = open_image(b.data, b.len);
    assert_int_equal(gguf_find_tensor(o.f, "e")->nbytes, 0);
    close_image(&o);
    lk_buf_free(&b);
}

/* A tensor offset that is not a multiple of the alignment is reported at the tensor info. */
static void test_misaligned_tensor_offset(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 1, 0);
    const int64_t ne[1] = { 8 };
    size_t at = b.len;
    put_tensor_info(&b, "a", 1, ne, LK_F32, 4);
    pad_to(&b, 32);
    put_zeros(&b, 64);
    expect_error(&b, LK_EFORMAT, "tensor 'a': data offset 4 is not a multiple of the alignment 32", at);
    lk_buf_free(&b);

    /* with general.alignment 64, an offset of 32 is misaligned */
    lk_buf c = {0};
    put_header(&c, 3, 1, 1);
    put_key(&c, "general.alignment", GGUF_UINT32);
    put_u32(&c, 64);
    at = c.len;
    put_tensor_info(&c, "a", 1, ne, LK_F32, 32);
    pad_to(&c, 64);
    put_zeros(&c, 128);
    expect_error(&c, LK_EFORMAT, "tensor 'a': data offset 32 is not a multiple of the alignment 64", at);
    lk_buf_free(&c);
}

/* ---- typed getters --------------------------------------------------------------------------- */

/* A small file for the getters. */
static opened getter_file(void) {
    gguf_writer *w = gguf_writer_new(3);
    gguf_set_u32(w, "g.u32", 7);
    gguf_set_i32(w, "g.i32", -5);
    gguf_set_i32(w, "g.i32.pos", 9);
    gguf_set_u64(w, "g.u64.big", 1ull << 63);
    gguf_set_f32(w, "g.f32", 2.5f);
    gguf_set_bool(w, "g.bool", true);
    gguf_set_str(w, "g.str", "text");
    const uint32_t a[3] = { 1, 2, 3 };
    gguf_set_arr(w, "g.arr", GGUF_UINT32, a, 3);
    const char *s[2] = { "x", "yz" };
    gguf_set_arr_str(w, "g.strs", s, 2);
    uint8_t *img;
    size_t size;
    write_image(w, &img, &size);
    gguf_writer_free(w);
    opened o = open_image(img, size);
    free(img);
    return o;
}

/* A required key that is absent: LK_EFORMAT "missing required key 'X'", from every getter. */
static void test_get_missing_required_key(void **state) {
    (void)state;
    opened o = getter_file();
    lk_error err;
    uint64_t u;
    int64_t i;
    double d;
    bool b;
    char *s = NULL;
    const gguf_value *v = NULL;
    const char *want = "test.gguf: missing required key 'no.such.key'";
    memset(&err, 0, sizeof err);
    assert_int_equal(gguf_get_u64(o.f, "no.such.key", true, &u, &err), LK_EFORMAT);
    assert_string_equal(err.msg, want);
    memset(&err, 0, sizeof err);
    assert_int_equal(gguf_get_i64(o.f, "no.such.key", true, &i, &err), LK_EFORMAT);
    assert_string_equal(err.msg, want);
    memset(&err, 0, sizeof err);
    assert_int_equal(gguf_get_f64(o.f, "no.such.key", true, &d, &err), LK_EFORMAT);
    assert_string_equal(err.msg, want);
    memset(&err, 0, sizeof err);
    assert_int_equal(gguf_get_bool(o.f, "no.such.key", true, &b, &err), LK_EFORMAT);
    assert_string_equal(err.msg, want);
    memset(&err, 0, sizeof err);
    assert_int_equal(gguf_get_str(o.f, "no.such.key", true, &s, &err), LK_EFORMAT);
    assert_string_equal(err.msg, want);
    assert_null(s);
    memset(&err, 0, sizeof err);
    assert_int_equal(gguf_get_arr(o.f, "no.such.key", GGUF_STRING, true, &v, &err), LK_EFORMAT);
    assert_string_equal(err.msg, want);
    assert_null(v);
    assert_null(gguf_find(o.f, "no.such.key"));
    close_image(&o);
}

/* An optional key that is absent: 0, and *out keeps what it had. */
static void test_get_missing_optional_key_leaves_out(void **state) {
    (void)state;
    opened o = getter_file();
    lk_error err = {0};
    uint64_t u = 11;
    int64_t i = -11;
    double d = 1.5;
    bool b = true;
    static char keep[] = "keep";
    char *s = keep;
    const gguf_value *v = (const gguf_value *)&keep;
    assert_int_equal(gguf_get_u64(o.f, "absent", false, &u, &err), LK_OK);
    assert_int_equal(gguf_get_i64(o.f, "absent", false, &i, &err), LK_OK);
    assert_int_equal(gguf_get_f64(o.f, "absent", false, &d, &err), LK_OK);
    assert_int_equal(gguf_get_bool(o.f, "absent", false, &b, &err), LK_OK);
    assert_int_equal(gguf_get_str(o.f, "absent", false, &s, &err), LK_OK);
    assert_int_equal(gguf_get_arr(o.f, "absent", GGUF_UINT32, false, &v, &err), LK_OK);
    assert_int_equal(u, 11);
    assert_int_equal(i, -11);
    assert_true(d == 1.5);
    assert_true(b);
    assert_ptr_equal(s, keep);
    assert_ptr_equal(v, (const gguf_value *)&keep);
    assert_int_equal(err.code, 0);
    close_image(&o);
}

/* Expect a wrong-type error for key naming the key, its offset and both types. */
static void expect_wrong_type(const gguf_file *f, int rc, const lk_error *err, const char *key,
                              const char *actual, const char *expected) {
    assert_int_equal(rc, LK_EFORMAT);
    assert_int_equal(err->code, LK_EFORMAT);
    char want[256];
    snprintf(want, sizeof want, "test.gguf: key '%s' at offset %zu %s, expected %s", key,
             gguf_find(f, key)->offset, actual, expected);
    assert_string_equal(err->msg, want);
}

/* A key of the wrong type: LK_EFORMAT naming the key, its actual and the expected type; *out is
 * left alone. */
static void test_get_wrong_type(void **state) {
    (void)state;
    opened o = getter_file();
    lk_error err = {0};
    uint64_t u = 11;
    int64_t i = -11;
    double d = 1.5;
    bool b = false;
    char *s = NULL;
    const gguf_value *v = NULL;
    expect_wrong_type(o.f, gguf_get_u64(o.f, "g.str", true, &u, &err), &err, "g.str", "has type string", "an integer");
    expect_wrong_type(o.f, gguf_get_i64(o.f, "g.f32", true, &i, &err), &err, "g.f32", "has type float32", "an integer");
    expect_wrong_type(o.f, gguf_get_f64(o.f, "g.bool", true, &d, &err), &err, "g.bool", "has type bool", "a number");
    expect_wrong_type(o.f, gguf_get_bool(o.f, "g.u32", true, &b, &err), &err, "g.u32", "has type uint32", "bool");
    expect_wrong_type(o.f, gguf_get_str(o.f, "g.strs", true, &s, &err), &err, "g.strs", "has type array", "string");
    expect_wrong_type(o.f, gguf_get_arr(o.f, "g.arr", GGUF_STRING, true, &v, &err), &err, "g.arr",
                      "is an array of uint32", "array of string");
    expect_wrong_type(o.f, gguf_get_arr(o.f, "g.u32", GGUF_UINT32, true, &v, &err), &err, "g.u32",
                      "has type uint32", "array of uint32");
    assert_int_equal(u, 11);
    assert_int_equal(i, -11);
    assert_true(d == 1.5);
    assert_false(b);
    assert_null(s);
    assert_null(v);
    close_image(&o);
}

/* gguf_get_u64 of a negative signed value is an error naming the value. */
static void test_get_u64_rejects_negative(void **state) {
    (void)state;
    opened o = getter_file();
    lk_error err = {0};
    uint64_t u = 11;
    assert_int_equal(gguf_get_u64(o.f, "g.i32", true, &u, &err), LK_EFORMAT);
    assert_msg_has(err.msg, "key 'g.i32'");
    assert_msg_has(err.msg, "is -5, expected >= 0");
    assert_int_equal(u, 11);
    close_image(&o);
}

/* gguf_get_i64 of an unsigned value above INT64_MAX is an error. */
static void test_get_i64_rejects_too_large(void **state) {
    (void)state;
    opened o = getter_file();
    lk_error err = {0};
    int64_t i = -11;
    assert_int_equal(gguf_get_i64(o.f, "g.u64.big", true, &i, &err), LK_EFORMAT);
    assert_msg_has(err.msg, "key 'g.u64.big'");
    assert_msg_has(err.msg, "too large");
    assert_int_equal(i, -11);
    close_image(&o);
}

/* Compatible types are widened: any integer for u64/i64 when it fits, any number for f64. */
static void test_get_widens_compatible_types(void **state) {
    (void)state;
    opened o = getter_file();
    lk_error err = {0};
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    bool b = false;
    char *s = NULL;
    const gguf_value *v = NULL;
    assert_int_equal(gguf_get_u64(o.f, "g.u32", true, &u, &err), LK_OK);
    assert_int_equal(u, 7);
    assert_int_equal(gguf_get_u64(o.f, "g.i32.pos", true, &u, &err), LK_OK);
    assert_int_equal(u, 9);
    assert_int_equal(gguf_get_u64(o.f, "g.u64.big", true, &u, &err), LK_OK);
    assert_true(u == 1ull << 63);
    assert_int_equal(gguf_get_i64(o.f, "g.i32", true, &i, &err), LK_OK);
    assert_int_equal(i, -5);
    assert_int_equal(gguf_get_i64(o.f, "g.u32", true, &i, &err), LK_OK);
    assert_int_equal(i, 7);
    assert_int_equal(gguf_get_f64(o.f, "g.f32", true, &d, &err), LK_OK);
    assert_true(d == 2.5);
    assert_int_equal(gguf_get_f64(o.f, "g.i32", true, &d, &err), LK_OK);
    assert_true(d == -5.0);
    assert_int_equal(gguf_get_f64(o.f, "g.u64.big", true, &d, &err), LK_OK);
    assert_true(d == 9223372036854775808.0);
    assert_int_equal(gguf_get_bool(o.f, "g.bool", true, &b, &err), LK_OK);
    assert_true(b);
    assert_int_equal(gguf_get_str(o.f, "g.str", true, &s, &err), LK_OK);
    assert_string_equal(s, "text");
    free(s);
    assert_int_equal(gguf_get_arr(o.f, "g.arr", GGUF_UINT32, true, &v, &err), LK_OK);
    assert_ptr_equal(v, &gguf_find(o.f, "g.arr")->val);
    assert_int_equal(v->arr.n, 3);
    assert_int_equal(gguf_arr_i64(v, 2), 3);
    assert_true(gguf_arr_f64(v, 1) == 2.0);
    assert_int_equal(gguf_get_arr(o.f, "g.strs", GGUF_STRING, true, &v, &err), LK_OK);
    assert_true(str_is(v->arr.strs[1], "yz"));
    assert_int_equal(err.code, 0);
    close_image(&o);
}

/* gguf_arr_i64 of a float array truncates toward zero, saturates values out of range and reads
 * NaN as 0 (whatever the file holds, never an undefined conversion). */
static void test_arr_i64_of_floats_saturates(void **state) {
    (void)state;
    lk_buf b = {0};
    put_header(&b, 3, 0, 2);
    put_key(&b, "f32", GGUF_ARRAY);
    put_arr_head(&b, GGUF_FLOAT32, 5);
    put_f32(&b, 2.75f);
    put_f32(&b, -2.75f);
    put_f32(&b, NAN);
    put_f32(&b, 1e30f);
    put_f32(&b, -INFINITY);
    put_key(&b, "f64", GGUF_ARRAY);
    put_arr_head(&b, GGUF_FLOAT64, 2);
    put_f64(&b, 9223372036854775808.0);
    put_f64(&b, -9223372036854775808.0);
    opened o = open_image(b.data, b.len);
    const gguf_value *f = value_of(o.f, "f32", GGUF_ARRAY);
    assert_int_equal(gguf_arr_i64(f, 0), 2);
    assert_int_equal(gguf_arr_i64(f, 1), -2);
    assert_int_equal(gguf_arr_i64(f, 2), 0);
    assert_true(gguf_arr_i64(f, 3) == INT64_MAX);
    assert_true(gguf_arr_i64(f, 4) == INT64_MIN);
    assert_true(isnan(gguf_arr_f64(f, 2)));
    const gguf_value *d = value_of(o.f, "f64", GGUF_ARRAY);
    assert_true(gguf_arr_i64(d, 0) == INT64_MAX);
    assert_true(gguf_arr_i64(d, 1) == INT64_MIN);
    close_image(&o);
    lk_buf_free(&b);
}

/* Type names and sizes are those of the GGUF specification. */
static void test_type_names_and_sizes(void **state) {
    (void)state;
    static const struct { enum gguf_type t; const char *name; size_t size; } types[] = {
        { GGUF_UINT8, "uint8", 1 },    { GGUF_INT8, "int8", 1 },       { GGUF_UINT16, "uint16", 2 },
        { GGUF_INT16, "int16", 2 },    { GGUF_UINT32, "uint32", 4 },   { GGUF_INT32, "int32", 4 },
        { GGUF_FLOAT32, "float32", 4 }, { GGUF_BOOL, "bool", 1 },      { GGUF_STRING, "string", 0 },
        { GGUF_ARRAY, "array", 0 },    { GGUF_UINT64, "uint64", 8 },   { GGUF_INT64, "int64", 8 },
        { GGUF_FLOAT64, "float64", 8 },
    };
    assert_int_equal(LK_ARRAY_LEN(types), GGUF_TYPE_COUNT);
    for (size_t i = 0; i < LK_ARRAY_LEN(types); i++) {
        assert_int_equal(types[i].t, (enum gguf_type)i);
        assert_string_equal(gguf_type_name(types[i].t), types[i].name);
        assert_int_equal(gguf_type_size(types[i].t), types[i].size);
    }
    assert_string_equal(gguf_type_name((enum gguf_type)13), "unknown");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_values_v2),
        cmocka_unit_test(test_roundtrip_values_v3),
        cmocka_unit_test(test_roundtrip_tensors_v2),
        cmocka_unit_test(test_roundtrip_tensors_v3),
        cmocka_unit_test(test_write_file_matches_memory_v2),
        cmocka_unit_test(test_write_file_matches_memory_v3),
        cmocka_unit_test(test_copy_is_byte_identical_v2),
        cmocka_unit_test(test_copy_is_byte_identical_v3),
        cmocka_unit_test(test_copy_is_byte_identical_default_alignment),
        cmocka_unit_test(test_default_alignment_is_32),
        cmocka_unit_test(test_alignment_1_packs_tensors),
        cmocka_unit_test(test_metadata_only_file),
        cmocka_unit_test(test_set_replaces_existing_key),
        cmocka_unit_test(test_add_tensor_rejects_bad_tensors),
        cmocka_unit_test(test_write_to_missing_directory_fails_cleanly),
        cmocka_unit_test(test_write_leaves_no_tmp_file),
        cmocka_unit_test(test_writer_refuses_what_the_reader_would_reject),
        cmocka_unit_test(test_open_missing_file),
        cmocka_unit_test(test_open_directory),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_truncated_file_on_disk),
        cmocka_unit_test(test_truncated_at_every_byte),
        cmocka_unit_test(test_truncated_header),
        cmocka_unit_test(test_truncated_inside_key),
        cmocka_unit_test(test_truncated_inside_string_value),
        cmocka_unit_test(test_truncated_inside_scalar_value),
        cmocka_unit_test(test_truncated_inside_array),
        cmocka_unit_test(test_truncated_inside_tensor_info),
        cmocka_unit_test(test_truncated_before_tensor_data),
        cmocka_unit_test(test_truncated_inside_tensor_data),
        cmocka_unit_test(test_trailing_padding_is_optional),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_unsupported_versions),
        cmocka_unit_test(test_absurd_metadata_count),
        cmocka_unit_test(test_absurd_tensor_count),
        cmocka_unit_test(test_absurd_key_length),
        cmocka_unit_test(test_empty_key),
        cmocka_unit_test(test_key_with_nul_byte),
        cmocka_unit_test(test_absurd_string_length),
        cmocka_unit_test(test_absurd_string_length_in_array),
        cmocka_unit_test(test_absurd_array_length),
        cmocka_unit_test(test_unknown_value_type),
        cmocka_unit_test(test_unknown_array_element_type),
        cmocka_unit_test(test_nesting_too_deep),
        cmocka_unit_test(test_bool_not_0_or_1),
        cmocka_unit_test(test_bool_array_element_not_0_or_1),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_bad_alignment),
        cmocka_unit_test(test_tensor_dims_0_and_5),
        cmocka_unit_test(test_tensor_empty_name),
        cmocka_unit_test(test_tensor_absurd_dimension),
        cmocka_unit_test(test_tensor_size_overflow),
        cmocka_unit_test(test_unknown_tensor_type),
        cmocka_unit_test(test_row_not_whole_blocks),
        cmocka_unit_test(test_duplicate_tensor_name),
        cmocka_unit_test(test_tensor_data_out_of_bounds),
        cmocka_unit_test(test_tensor_offset_wraps),
        cmocka_unit_test(test_overlapping_tensors),
        cmocka_unit_test(test_overlap_across_empty_tensor),
        cmocka_unit_test(test_touching_and_empty_tensors_are_fine),
        cmocka_unit_test(test_misaligned_tensor_offset),
        cmocka_unit_test(test_get_missing_required_key),
        cmocka_unit_test(test_get_missing_optional_key_leaves_out),
        cmocka_unit_test(test_get_wrong_type),
        cmocka_unit_test(test_get_u64_rejects_negative),
        cmocka_unit_test(test_get_i64_rejects_too_large),
        cmocka_unit_test(test_get_widens_compatible_types),
        cmocka_unit_test(test_arr_i64_of_floats_saturates),
        cmocka_unit_test(test_type_names_and_sizes),
    };
    return cmocka_run_group_tests(tests, make_tmp_dir, remove_tmp_dir);
}
