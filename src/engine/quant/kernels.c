/* kernels.c — which kernels this CPU runs: cpuid detection, the table of each instruction-set
 * path, the active path (LLMKIT_SIMD or lk_kernels_force), and the activation type of each
 * weight type.
 *
 * A path is usable when the CPU has its instructions and the operating system saves their
 * registers (XCR0, read with xgetbv): AVX2 needs AVX2, FMA and F16C with the YMM state;
 * AVX-512 needs F, BW, VL, DQ and VNNI besides, with the opmask and ZMM states. The avx512
 * files are compiled with -mavx512bf16 too, but use no BF16 instruction, so BF16 is not
 * required. The tables are built once, on first use: each path starts from the scalar
 * kernels and lets its files overwrite the entries they have; the AVX-512 table is built on
 * top of the AVX2 one, so an entry AVX-512 lacks runs the AVX2 kernel. After that the tables
 * are read-only; only the pointer to the active one changes (atomically, by force). */
#include "engine/quant/kernels.h"
#include "base/base.h"
#include <pthread.h>
#include <stdatomic.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static lk_kernels tables[3];
static bool usable[3];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static pthread_once_t active_once = PTHREAD_ONCE_INIT;
static _Atomic(const lk_kernels *) active;

static const char *const path_names[3] = { "scalar", "avx2", "avx512" };

#if defined(__x86_64__)
/* The OS-enabled state components (XCR0); 0 when the OS does not use xsave. */
static uint64_t xcr0(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static void detect(bool *avx2, bool *avx512) {
    *avx2 = *avx512 = false;
    unsigned a, b, c1, d;
    if (!__get_cpuid(1, &a, &b, &c1, &d)) return;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7) return;
    unsigned b7, c7, d7;
    __cpuid_count(7, 0, a, b7, c7, d7);
    const uint64_t xcr = xcr0();
    const bool ymm_state = (xcr & 0x6) == 0x6;      /* SSE and AVX state */
    const bool zmm_state = (xcr & 0xE6) == 0xE6;    /* and opmask, ZMM_Hi256, Hi16_ZMM */
    const bool fma = c1 & (1u << 12), avx = c1 & (1u << 28), f16c = c1 & (1u << 29);
    const bool has_avx2 = b7 & (1u << 5);
    *avx2 = ymm_state && avx && fma && f16c && has_avx2;
    const bool f = b7 & (1u << 16), dq = b7 & (1u << 17), bw = b7 & (1u << 30),
               vl = b7 & (1u << 31), vnni = c7 & (1u << 11);
    *avx512 = *avx2 && zmm_state && f && dq && bw && vl && vnni;
}
#else
static void detect(bool *avx2, bool *avx512) {
    *avx2 = *avx512 = false;
}
#endif

static void build_tables(void) {
    bool avx2, avx512;
    detect(&avx2, &avx512);
    usable[LK_SIMD_SCALAR] = true;
    usable[LK_SIMD_AVX2] = avx2;
    usable[LK_SIMD_AVX512] = avx512;

    lk_kernels *s = &tables[LK_SIMD_SCALAR];
    memset(s, 0, sizeof *s);
    lk_register_scalar(s);
    lk_register_k_scalar(s);
    lk_register_attn_scalar(s);
    s->name = path_names[LK_SIMD_SCALAR];

    lk_kernels *a2 = &tables[LK_SIMD_AVX2];
    *a2 = *s;
    if (avx2) {
        lk_register_avx2(a2);
        lk_register_k_avx2(a2);
        lk_register_attn_avx2(a2);
    }
    a2->name = path_names[LK_SIMD_AVX2];

    lk_kernels *a5 = &tables[LK_SIMD_AVX512];
    *a5 = *a2;
    if (avx512) {
        lk_register_avx512(a5);
        lk_register_k_avx512(a5);
        lk_register_attn_avx512(a5);
    }
    a5->name = path_names[LK_SIMD_AVX512];
}

static enum lk_simd best_path(void) {
    if (usable[LK_SIMD_AVX512]) return LK_SIMD_AVX512;
    if (usable[LK_SIMD_AVX2]) return LK_SIMD_AVX2;
    return LK_SIMD_SCALAR;
}

/* The path LLMKIT_SIMD names, or the best one (with a warning when it names something this
 * CPU cannot run or nothing we know). */
static void choose_active(void) {
    pthread_once(&tables_once, build_tables);
    enum lk_simd path = best_path();
    const char *want = getenv("LLMKIT_SIMD");
    if (want && *want) {
        int found = -1;
        for (int p = 0; p < 3; p++)
            if (strcmp(want, path_names[p]) == 0) found = p;
        if (found < 0)
            lk_log(LK_LOG_WARN, "LLMKIT_SIMD=%s: not one of scalar, avx2, avx512; using %s", want,
                   path_names[path]);
        else if (!usable[found])
            lk_log(LK_LOG_WARN, "LLMKIT_SIMD=%s: this CPU cannot run it; using %s", want,
                   path_names[path]);
        else
            path = (enum lk_simd)found;
    }
    atomic_store(&active, &tables[path]);
}

const lk_kernels *lk_kernels_active(void) {
    pthread_once(&active_once, choose_active);
    return atomic_load_explicit(&active, memory_order_acquire);
}

const lk_kernels *lk_kernels_get(enum lk_simd path) {
    pthread_once(&tables_once, build_tables);
    if ((unsigned)path > LK_SIMD_AVX512 || !usable[path]) return NULL;
    return &tables[path];
}

int lk_kernels_force(enum lk_simd path) {
    pthread_once(&active_once, choose_active);
    if ((unsigned)path > LK_SIMD_AVX512 || !usable[path]) return LK_EUNSUPPORTED;
    atomic_store_explicit(&active, &tables[path], memory_order_release);
    return LK_OK;
}

uint32_t lk_act_type(uint32_t wtype) {
    switch (wtype) {
    case LK_Q4_0:
    case LK_Q5_0:
    case LK_Q8_0:
        return LK_Q8_0;
    case LK_Q4_1:
    case LK_Q5_1:
        return LK_Q8_1;
    case LK_Q2_K:
    case LK_Q3_K:
    case LK_Q4_K:
    case LK_Q5_K:
    case LK_Q6_K:
        return LK_Q8_K;
    default:
        return LK_F32;
    }
}

size_t lk_act_row_size(uint32_t wtype, int64_t n) {
    return lk_row_size(lk_act_type(wtype), n);
}
