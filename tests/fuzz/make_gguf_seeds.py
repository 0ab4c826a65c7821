#!/usr/bin/env python3
"""make_gguf_seeds.py — write the seed corpus of the fuzz_gguf target.

Run once from the project root:  python3 tests/fuzz/make_gguf_seeds.py
It (re)writes tests/fuzz/corpus/fuzz_gguf/: valid GGUF files of versions 2 and 3 with every
metadata value type, nested arrays and tensors of several types, and a few malformed ones (one
problem each, named in the file name). Every seed is a few KB at most. The layout is built here
by hand, byte by byte, independently of the writer in src/engine/gguf_write.c."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_gguf")

# metadata value types (GGUF specification)
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
          BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}

# ggml tensor types: number -> (block size, bytes per block)
F32_T, F16_T, Q8_0, Q4_K, I8_T, BF16 = 0, 1, 8, 12, 24, 30
TTYPE = {F32_T: (1, 4), F16_T: (1, 2), Q8_0: (32, 34), Q4_K: (256, 144), I8_T: (1, 1),
         BF16: (1, 2)}


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(b)) + b


def arr_body(elem, items):
    """An array value without its ARR tag: element type, count, elements. Elements of an array
    of arrays are (elem, items) pairs."""
    out = struct.pack("<IQ", elem, len(items))
    for it in items:
        if elem == STR:
            out += s(it)
        elif elem == ARR:
            out += arr_body(*it)
        else:
            out += struct.pack(SCALAR[elem], it)
    return out


def kv(key, typ, value):
    out = s(key) + struct.pack("<I", typ)
    if typ == STR:
        out += s(value)
    elif typ == ARR:
        out += arr_body(*value)
    else:
        out += struct.pack(SCALAR[typ], value)
    return out


def nbytes(ttype, ne):
    bs, ts = TTYPE[ttype]
    n = ne[0] // bs * ts
    for d in ne[1:]:
        n *= d
    return n


def gguf(kvs, tensors=(), version=3, alignment=32, offsets=None, n_kv=None, n_tensors=None,
         magic=b"GGUF"):
    """A file: kvs are encoded entries; tensors are (name, ttype, ne) or (name, ttype, ne,
    type written in the file); offsets default to the aligned layout (given offsets replace them,
    but the data section keeps its size). Data bytes are a fixed pattern."""
    head = magic + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                               len(kvs) if n_kv is None else n_kv)
    head += b"".join(kvs)
    off, offs = 0, []
    for name, ttype, ne, *_ in tensors:
        offs.append(off)
        off += -(-nbytes(ttype, ne) // alignment) * alignment
    if offsets is not None:
        offs = offsets
    for (name, ttype, ne, *written), o in zip(tensors, offs):
        head += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        head += struct.pack("<IQ", written[0] if written else ttype, o)
    head += b"\0" * (-len(head) % alignment)
    data = bytearray(off)  # as much data as the aligned layout needs, whatever the offsets say
    for i in range(len(data)):
        data[i] = (i * 131 + 7) & 0xFF
    return head + bytes(data)


ALL_SCALARS = [
    kv("s.u8", U8, 200), kv("s.i8", I8, -100), kv("s.u16", U16, 60000), kv("s.i16", I16, -30000),
    kv("s.u32", U32, 0xDEADBEEF), kv("s.i32", I32, -123456), kv("s.f32", F32, -3.25),
    kv("s.bool", BOOL, 1), kv("s.u64", U64, 2**64 - 1), kv("s.i64", I64, -2**63),
    kv("s.f64", F64, 1 / 3),
    kv("s.str", STR, "hello"), kv("s.str.empty", STR, ""), kv("s.str.utf8", STR, "h\u00e9llo \u2713 \U0001f999"),
]
ALL_ARRAYS = [
    kv("a.u8", ARR, (U8, [0, 255])), kv("a.i8", ARR, (I8, [-128, 127])),
    kv("a.u16", ARR, (U16, [0, 65535])), kv("a.i16", ARR, (I16, [-32768, 32767])),
    kv("a.u32", ARR, (U32, [1, 2, 3])), kv("a.i32", ARR, (I32, [-1, 0, 1])),
    kv("a.f32", ARR, (F32, [0.5, float("nan"), float("inf"), -1e30])),
    kv("a.bool", ARR, (BOOL, [0, 1, 1])), kv("a.u64", ARR, (U64, [2**64 - 1])),
    kv("a.i64", ARR, (I64, [-2**63, 2**63 - 1])), kv("a.f64", ARR, (F64, [1e300, float("-inf")])),
    kv("a.str", ARR, (STR, ["a", "", "\u00fcn\u00ef"])), kv("a.empty", ARR, (U32, [])),
    kv("a.nested.str", ARR, (ARR, [(STR, ["a", "bc"]), (STR, []), (STR, ["d\u00e9f"])])),
    kv("a.nested.i32", ARR, (ARR, [(I32, [1, -2, 3]), (I32, [2**31 - 1])])),
    kv("a.nested.deep", ARR, (ARR, [(ARR, [(U8, [7, 9])])])),
]
TENSORS = [("tok.f32.1d", F32_T, [7]), ("blk.f16.2d", F16_T, [3, 5]),
           ("blk.q8_0.3d", Q8_0, [32, 2, 3]), ("blk.q4_K.4d", Q4_K, [256, 1, 1, 2])]


def nested(levels):
    """levels arrays nested in one another, the innermost an array of two uint8."""
    v = (U8, [1, 2])
    for _ in range(levels - 1):
        v = (ARR, [v])
    return kv("deep", ARR, v)


HEAD1 = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)  # version 3, no tensors, one key


def seeds():
    yield "v3_all_types_align64", gguf([kv("general.architecture", STR, "llama"),
                                        kv("general.alignment", U32, 64)] + ALL_SCALARS + ALL_ARRAYS,
                                       TENSORS, alignment=64)
    yield "v2_all_types", gguf([kv("general.architecture", STR, "llama")] + ALL_SCALARS + ALL_ARRAYS,
                               TENSORS, version=2)
    yield "v3_align1_packed", gguf([kv("general.alignment", U32, 1)],
                                   [("a", F16_T, [3]), ("b", I8_T, [5]), ("c", BF16, [1, 3])], alignment=1)
    yield "v3_metadata_only", gguf([kv("tokenizer.ggml.model", STR, "llama"),
                                    kv("tokenizer.ggml.tokens", ARR, (STR, ["<unk>", "<s>", "</s>", "a", "b"])),
                                    kv("tokenizer.ggml.scores", ARR, (F32, [0, 0, 0, -1, -2])),
                                    kv("tokenizer.ggml.token_type", ARR, (I32, [2, 3, 3, 1, 1]))])
    yield "v3_nesting_8", gguf([nested(8)])
    yield "v3_empty_and_touching_tensors", gguf([], [("a", F32_T, [8]), ("e", F32_T, [8, 0]), ("b", F32_T, [8])],
                                               offsets=[0, 32, 32])
    yield "v3_empty", gguf([])
    # malformed: one problem each
    yield "bad_magic", gguf([kv("k", U8, 1)], magic=b"GGML")
    yield "bad_version_1", gguf([kv("k", U8, 1)], version=1)
    yield "bad_version_4", gguf([kv("k", U8, 1)], version=4)
    yield "bad_truncated", gguf(ALL_SCALARS, TENSORS)[:470]  # inside a tensor info
    yield "bad_absurd_kv_count", gguf([kv("k", U8, 1)], n_kv=2**64 - 1)
    yield "bad_absurd_tensor_count", gguf([], [("w", F32_T, [8])], n_tensors=2**40)
    yield "bad_string_length", HEAD1 + s("k") + struct.pack("<IQ", STR, 2**62) + b"abc"
    yield "bad_array_length", HEAD1 + s("k") + struct.pack("<IIQ", ARR, U32, 2**62) + b"\0" * 4
    yield "bad_value_type", HEAD1 + s("k") + struct.pack("<I", 13) + b"\1" * 8
    yield "bad_bool_2", gguf([kv("flag", BOOL, 2)])
    yield "bad_bool_array", gguf([kv("flags", ARR, (BOOL, [1, 0, 7]))])
    yield "bad_nesting_9", gguf([nested(9)])
    yield "bad_duplicate_key", gguf([kv("k", U8, 1), kv("k", STR, "again")])
    yield "bad_duplicate_tensor", gguf([], [("w", F32_T, [8]), ("w", F32_T, [8])])
    yield "bad_dims_5", gguf([], [("w", F32_T, [8, 1, 1, 1, 1])])
    yield "bad_tensor_type_99", gguf([], [("w", F32_T, [8], 99)])
    yield "bad_row_blocks", gguf([], [("w", Q8_0, [48])])
    yield "bad_out_of_bounds", gguf([], [("w", F32_T, [8])], offsets=[1 << 20])
    yield "bad_overlap", gguf([], [("a", F32_T, [16]), ("b", F32_T, [16])], offsets=[0, 32])
    yield "bad_overlap_across_empty", gguf([], [("small", F32_T, [8]), ("empty", F32_T, [0]), ("big", F32_T, [32])],
                                           offsets=[64, 32, 0])
    yield "bad_misaligned", gguf([], [("w", F32_T, [8])], offsets=[4])
    yield "bad_alignment_3", gguf([kv("general.alignment", U32, 3)])
    yield "bad_alignment_type", gguf([kv("general.alignment", U64, 32)])


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds():
        assert len(data) < 20000, name
        with open(os.path.join(OUT, name + ".gguf"), "wb") as f:
            f.write(data)
        print(f"{name}.gguf: {len(data)} bytes")


if __name__ == "__main__":
    main()
