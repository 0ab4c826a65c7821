/* quantize.c — `llmkit quantize`: convert a F32/F16/BF16 GGUF model to a quantized one, with the
 * tensor types chosen as llama.cpp's llama-quantize chooses them (engine/quantize.h). Prints a
 * progress bar on a terminal, then the type mix and the sizes. */
#include "cli/cli.h"
#include "engine/gguf.h"
#include "engine/quant/quant.h"
#include "engine/quantize.h"
#include "base/progress.h"

#include <inttypes.h>

static void progress(void *ud, uint64_t done, uint64_t total) {
    char detail[64];
    snprintf(detail, sizeof detail, "%.1fM of %.1fM weights", (double)done / 1e6, (double)total / 1e6);
    lk_progress *bar = ud;
    bar->total = total;
    lk_progress_update(bar, done, detail);
}

static void human(char *buf, size_t n, double bytes) {
    const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int i = 0;
    while (bytes >= 1024 && i < 4) bytes /= 1024, i++;
    snprintf(buf, n, i ? "%.2f %s" : "%.0f %s", bytes, u[i]);
}

static void summary(const lk_quantize_stats *s, const char *out, const char *target, double secs) {
    printf("wrote %s: %s, %" PRIu64 " tensors, %.1f s on %d thread%s\n", out, target, s->n_tensors, secs,
           s->n_threads, s->n_threads == 1 ? "" : "s");
    printf("type mix:\n");
    for (int t = 0; t < LK_QTYPE_COUNT; t++) {
        if (!s->n_of_type[t]) continue;
        char h[32];
        human(h, sizeof h, (double)s->bytes_of_type[t]);
        printf("  %-8s %5" PRIu64 " tensors  %10s  %5.1f%%\n", lk_qtype((uint32_t)t)->name, s->n_of_type[t], h,
               s->bytes_out ? 100.0 * (double)s->bytes_of_type[t] / (double)s->bytes_out : 0.0);
    }
    char hi[32], ho[32];
    human(hi, sizeof hi, (double)s->bytes_in);
    human(ho, sizeof ho, (double)s->bytes_out);
    double n = s->n_elements ? (double)s->n_elements : 1;
    printf("size: %s (%.2f bits per weight) -> %s (%.2f bits per weight)\n", hi, 8.0 * (double)s->bytes_in / n, ho,
           8.0 * (double)s->bytes_out / n);
}

/* --dry-run: the type each tensor would get. */
static int dry_run(const char *in, int ftype) {
    lk_error err = {0};
    gguf_file *f = gguf_open(in, &err);
    if (!f) return cli_fail(&err);
    lk_quant_model m;
    uint32_t *types = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *types);
    int rc = types ? lk_quant_model_from_gguf(f, &m, &err) : lk_errorf(&err, LK_ENOMEM, "out of memory");
    if (!rc) rc = lk_quant_choose_types(&m, f->tensors, f->n_tensors, ftype, types, &err);
    if (rc) {
        lk_error_prefix(&err, "%s", in);
        free(types);
        gguf_close(f);
        return cli_fail(&err);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        printf("%-40s %-6s -> %-6s [%" PRId64, t->name, lk_qtype(t->type)->name, lk_qtype(types[i])->name, t->ne[0]);
        for (uint32_t d = 1; d < t->n_dims; d++) printf(", %" PRId64, t->ne[d]);
        printf("]\n");
    }
    free(types);
    gguf_close(f);
    return 0;
}

int cmd_quantize(int argc, char **argv) {
    int n_threads = 0;
    bool dry = false;
    lk_opt opts[] = {
        { "threads", 't', LK_OPT_INT, &n_threads, "N", "threads (default: the number of cores)" },
        { "dry-run", 0, LK_OPT_FLAG, &dry, NULL, "list the type each tensor would get; write nothing" },
        { NULL, 0, 0, NULL, NULL, NULL },
    };
    lk_cmd_help help = {
        "llmkit quantize IN.gguf OUT.gguf TYPE [-t N] [--dry-run]",
        "Convert an F32, F16 or BF16 model to TYPE, one of\n"
        "  Q8_0 Q4_0 Q4_1 Q5_0 Q5_1          one type for every matrix, Q6_K for the output\n"
        "  Q4_K_M Q4_K_S Q5_K_M Q5_K_S Q6_K  K-quant mixes: attn_v and ffn_down get more bits in\n"
        "                                    some layers, as llama.cpp's llama-quantize chooses\n"
        "  F16 BF16 F32                      a plain conversion\n"
        "Norms and other vectors stay as they are. K-quant rows that are not a multiple of 256\n"
        "fall back to Q5_0, Q5_1 or Q8_0. OUT.gguf is replaced only once it is complete.",
        "  llmkit quantize model-f16.gguf model-q4_k_m.gguf Q4_K_M\n"
        "  llmkit quantize model-f16.gguf model-q8_0.gguf q8_0 -t 4\n",
    };
    const char *pos[3];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 3, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (n_pos != 3) return cli_usage("quantize: give IN.gguf OUT.gguf TYPE (see llmkit quantize --help)");
    int ftype = lk_ftype_from_name(pos[2]);
    if (ftype < 0) return cli_usage("quantize: unknown type '%s'; types: %s", pos[2], lk_ftype_names());
    if (n_threads < 0 || n_threads > 1024) return cli_usage("quantize: -t %d: expected 1 to 1024", n_threads);
    if (dry) return dry_run(pos[0], ftype);

    lk_progress bar;
    lk_progress_start(&bar, NULL, 0);
    lk_quantize_params p = { .ftype = ftype, .n_threads = n_threads, .progress = progress, .progress_ud = &bar };
    lk_quantize_stats s;
    lk_error err = {0};
    int qrc = lk_quantize_file(pos[0], pos[1], &p, &s, &err);
    lk_progress_end(&bar);
    if (qrc) return cli_fail(&err);
    summary(&s, pos[1], lk_ftype_name(ftype), lk_now() - bar.t0);
    return 0;
}
