/* gguf.h — reading and writing GGUF files (versions 2 and 3).
 *
 * A GGUF file is a header (magic "GGUF", version, tensor count, metadata count), the metadata
 * key/value pairs, the tensor infos (name, dims, type, offset), padding to general.alignment, and
 * the tensor data. The reader maps the file read-only and validates every count, length and
 * offset against the size of the map before it touches the bytes, so a malformed file yields an
 * error naming the problem and its byte offset, never a read past the map. Values point into the
 * map; nothing is copied but the small index.
 *
 * The writer collects metadata and tensors in memory (tensor data by pointer, not copied) and
 * writes them to PATH.tmp, then renames it over PATH, so a failed write leaves nothing behind. */
#ifndef LK_GGUF_H
#define LK_GGUF_H

#include "llmkit.h"

/* Metadata value types, numbered as in the GGUF specification. */
enum gguf_type {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4,
    GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9,
    GGUF_UINT64 = 10, GGUF_INT64 = 11, GGUF_FLOAT64 = 12,
    GGUF_TYPE_COUNT
};

/* A string inside the file: not NUL-terminated. */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

/* A metadata value. Scalars are widened (u: unsigned, i: signed, f: float, b: bool).
 * Arrays: elem_type and n; for scalar elements, data points at n little-endian values in the map
 * (read with gguf_arr_*); for string elements strs[n]; for nested arrays items[n]. */
typedef struct gguf_value {
    enum gguf_type type;
    union {
        uint64_t u;
        int64_t i;
        double f;
        bool b;
        gguf_str s;
        struct {
            enum gguf_type elem_type;
            uint64_t n;
            const uint8_t *data;       /* scalar elements */
            gguf_str *strs;            /* string elements */
            struct gguf_value *items;  /* nested arrays */
        } arr;
    };
} gguf_value;

typedef struct gguf_kv {
    char *key;              /* NUL-terminated copy */
    gguf_value val;
    size_t offset;          /* byte offset of the key in the file */
    const uint8_t *raw;     /* the encoded value (type tag included), for copying to a writer */
    size_t raw_len;
} gguf_kv;

#define GGUF_MAX_DIMS 4

typedef struct gguf_tensor {
    char *name;             /* NUL-terminated copy */
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* elements per dimension, ne[0] fastest; unused dims are 1 */
    uint32_t type;          /* a ggml type number (see quant/quant.h) */
    uint64_t offset;        /* relative to the start of the data section */
    uint64_t nbytes;
    const void *data;       /* into the map */
    size_t info_offset;     /* byte offset of the tensor info in the file */
} gguf_tensor;

typedef struct gguf_file {
    char *path;
    const uint8_t *map;
    size_t size;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    uint32_t alignment;
    size_t data_offset;     /* start of the tensor data section */
    bool mapped;            /* map came from mmap (gguf_open), not from the caller */
} gguf_file;

/* Map and parse PATH. Validates the header, every metadata value, every tensor info (known type,
 * dims, row size a whole number of blocks, data inside the file, no two tensors overlapping).
 * Returns NULL and fills *err on any problem. */
gguf_file *gguf_open(const char *path, lk_error *err);

/* Parse a GGUF image already in memory (not copied; must outlive the result). The fuzzer uses
 * this. name is used in error messages. */
gguf_file *gguf_open_memory(const void *data, size_t size, const char *name, lk_error *err);

void gguf_close(gguf_file *f);

/* Lookup. gguf_find returns NULL when the key is absent. */
const gguf_kv *gguf_find(const gguf_file *f, const char *key);

/* Free the parsed elements of a string array that has been consumed (the vocabulary, once a
 * tokenizer is built from it: 16 bytes per string, 6.5 MiB for a 128k vocabulary with its
 * merges). The key stays, as an empty array; its raw bytes stay for copying to a writer. */
void gguf_release_strings(gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters: return 0 and set *out when the key exists with a compatible type (any integer
 * type for get_u64/get_i64 if the value fits, any float or integer for get_f64);
 * LK_EFORMAT with a message naming the key and its actual type when the type is wrong;
 * LK_EFORMAT "missing key" when absent and required, or leave *out and return 0 when
 * !required. */
int gguf_get_u64(const gguf_file *f, const char *key, bool required, uint64_t *out, lk_error *err);
int gguf_get_i64(const gguf_file *f, const char *key, bool required, int64_t *out, lk_error *err);
int gguf_get_f64(const gguf_file *f, const char *key, bool required, double *out, lk_error *err);
int gguf_get_bool(const gguf_file *f, const char *key, bool required, bool *out, lk_error *err);
/* *out is a malloc'd NUL-terminated copy (free it); left NULL when absent and !required. */
int gguf_get_str(const gguf_file *f, const char *key, bool required, char **out, lk_error *err);
/* An array of the given element type (GGUF_STRING or a scalar type); *out points into f. */
int gguf_get_arr(const gguf_file *f, const char *key, enum gguf_type elem_type, bool required,
                 const gguf_value **out, lk_error *err);

/* Read element i of a scalar array as a number. gguf_arr_i64 of a float array truncates toward
 * zero, saturates at the int64 range and gives 0 for NaN. */
double gguf_arr_f64(const gguf_value *arr, uint64_t i);
int64_t gguf_arr_i64(const gguf_value *arr, uint64_t i);

const char *gguf_type_name(enum gguf_type t);
size_t gguf_type_size(enum gguf_type t); /* scalar size, 0 for string/array */

/* ---- writer ---- */

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(uint32_t version);
void gguf_writer_free(gguf_writer *w);
/* Setting a key that exists replaces it. */
void gguf_set_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_set_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_set_u64(gguf_writer *w, const char *key, uint64_t v);
void gguf_set_f32(gguf_writer *w, const char *key, float v);
void gguf_set_bool(gguf_writer *w, const char *key, bool v);
void gguf_set_str(gguf_writer *w, const char *key, const char *v);
/* A scalar array of n elements of elem_type stored little-endian at data. */
void gguf_set_arr(gguf_writer *w, const char *key, enum gguf_type elem_type, const void *data, uint64_t n);
void gguf_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
/* Copy a key/value read from another file, verbatim (any type, nested arrays included). */
void gguf_set_kv_copy(gguf_writer *w, const gguf_kv *kv);
/* A tensor: data (nbytes for its type and shape) is referenced, not copied, until write. */
int gguf_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                    const int64_t *ne, const void *data, lk_error *err);
/* Write to path atomically (path.tmp, then rename). alignment from general.alignment if set
 * (it must then be a uint32 power of two, else LK_EINVAL and nothing is written), else 32. */
int gguf_write(gguf_writer *w, const char *path, lk_error *err);
/* Write into a malloc'd memory image (for tests and fuzz seeds). */
int gguf_write_memory(gguf_writer *w, uint8_t **out, size_t *out_size, lk_error *err);

#endif
