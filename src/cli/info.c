/* info.c — `llmkit info`: what a GGUF file holds and what running it takes. */
#include "cli/cli.h"
#include "engine/chat.h"
#include "engine/model.h"
#include "engine/quant/quant.h"

#include <inttypes.h>

static void human(char *buf, size_t n, double bytes) {
    const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int i = 0;
    while (bytes >= 1024 && i < 4) bytes /= 1024, i++;
    snprintf(buf, n, i ? "%.2f %s" : "%.0f %s", bytes, u[i]);
}

static void count(char *buf, size_t n, double v) {
    if (v >= 1e9) snprintf(buf, n, "%.2fB", v / 1e9);
    else if (v >= 1e6) snprintf(buf, n, "%.1fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, n, "%.1fK", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
}

/* Tensors per type, with their bytes. */
static void type_mix(const gguf_file *gf) {
    uint64_t n[LK_QTYPE_COUNT] = {0}, bytes[LK_QTYPE_COUNT] = {0}, total = 0;
    for (uint64_t i = 0; i < gf->n_tensors; i++) {
        uint32_t t = gf->tensors[i].type;
        if (t >= LK_QTYPE_COUNT) continue;
        n[t]++;
        bytes[t] += gf->tensors[i].nbytes;
        total += gf->tensors[i].nbytes;
    }
    printf("type mix:\n");
    for (int t = 0; t < LK_QTYPE_COUNT; t++) {
        if (!n[t]) continue;
        char h[32];
        human(h, sizeof h, (double)bytes[t]);
        printf("  %-8s %5" PRIu64 " tensors  %10s  %5.1f%%\n", lk_qtype((uint32_t)t)->name, n[t], h,
               total ? 100.0 * (double)bytes[t] / (double)total : 0.0);
    }
}

int cmd_info(int argc, char **argv) {
    int n_ctx = 0;
    lk_opt opts[] = {
        { "ctx", 'c', LK_OPT_INT, &n_ctx, "N", "context for the memory estimate (default: the model's, and 4096)" },
        { NULL, 0, 0, NULL, NULL, NULL },
    };
    lk_cmd_help help = {
        "llmkit info MODEL.gguf [--ctx N]",
        "Describe a GGUF model: architecture, parameter count, file size, weight types,\n"
        "tokenizer, chat template, and the memory needed to run it at a given context.",
        "  llmkit info model.gguf --ctx 8192\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 1, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (n_pos != 1) return cli_usage("info: give one GGUF file (see llmkit info --help)");
    const char *path = pos[0];
    lk_error err = {0};
    gguf_file *gf = gguf_open(path, &err);
    if (!gf) return cli_fail(&err);
    char h[32], c[32];
    human(h, sizeof h, (double)gf->size);
    printf("file:          %s (%s, GGUF v%u, %" PRIu64 " tensors, %" PRIu64 " metadata keys)\n", path, h,
           gf->version, gf->n_tensors, gf->n_kv);
    lk_llm *m = NULL;
    if (lk_llm_load(path, &m, &err)) {
        char *arch = NULL;
        lk_error e2 = {0};
        gguf_get_str(gf, "general.architecture", false, &arch, &e2);
        printf("architecture:  %s\n", arch ? arch : "(none)");
        free(arch);
        if (gf->n_tensors) type_mix(gf);
        printf("engine:        cannot run it: %s\n", err.msg);
        gguf_close(gf);
        return 0;
    }
    const lk_hparams *hp = &m->hp;
    count(c, sizeof c, (double)lk_llm_n_params(m));
    human(h, sizeof h, (double)lk_llm_weight_bytes(m));
    printf("name:          %s\n", m->name);
    printf("architecture:  %s\n", lk_arch_name(hp->arch));
    printf("parameters:    %s (%s of weights, %.2f bits per weight)\n", c, h,
           8.0 * (double)lk_llm_weight_bytes(m) / (double)lk_llm_n_params(m));
    printf("shape:         %d layers, dim %d, %d heads (%d KV heads, head size %d), ffn %d, vocab %d\n",
           hp->n_layer, hp->dim, hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_ff, hp->n_vocab);
    printf("context:       %d tokens (training)\n", hp->n_ctx_train);
    printf("rope:          base %g, %d dims, %s pairs%s%s\n", hp->rope_base, hp->n_rot, hp->rope_neox ? "NeoX" : "adjacent",
           hp->rope_freq_scale != 1.0f ? ", linear scaling" : "", m->rope_freqs ? ", frequency factors (Llama 3.1)" : "");
    printf("norm eps:      %g\n", hp->norm_eps);
    printf("output:        %s\n", m->tied_output ? "tied to the token embedding" : "output.weight");
    type_mix(gf);
    const tokenizer *t = m->tok;
    printf("tokenizer:     %s (%s), %d tokens, BOS %d%s, EOS %d\n",
           tok_model(t) == TOK_MODEL_SPM ? "SentencePiece" : "byte-level BPE", tok_pre(t), tok_n_vocab(t), tok_bos(t),
           tok_add_bos(t) ? " (added)" : "", tok_eos(t));
    int tmpl = chat_template_detect(m->chat_template);
    printf("chat template: %s\n", tmpl >= 0 ? chat_template_name(tmpl) : m->chat_template ? "(not recognised)" : "(none)");
    int ctxs[2] = { n_ctx > 0 ? n_ctx : hp->n_ctx_train, 4096 };
    int nc = n_ctx > 0 || hp->n_ctx_train == 4096 ? 1 : 2;
    for (int i = 0; i < nc; i++) {
        double kv = (double)lk_kv_bytes_per_token(hp, LK_F16) * ctxs[i];
        char k[32], tot[32];
        human(k, sizeof k, kv);
        human(tot, sizeof tot, kv + (double)lk_llm_weight_bytes(m));
        printf("memory @ %-6d weights %s + KV cache %s (f16) = %s\n", ctxs[i], h, k, tot);
    }
    lk_llm_free(m);
    gguf_close(gf);
    return 0;
}
