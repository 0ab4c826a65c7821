/* gguf.c — `llmkit gguf`: GGUF file tools. `random` writes a deterministic random model for
 * tests and benchmarks; `dump` lists a file's metadata and tensors. */
#include "cli/cli.h"
#include "engine/gguf.h"
#include "engine/quant/quant.h"
#include "engine/randmodel.h"

#include <inttypes.h>
#include <unistd.h>

static void progress(void *ud, int done, int total) {
    (void)ud;
    int width = 30, fill = total ? done * width / total : width;
    fprintf(stderr, "\r[%.*s%*s] %d/%d tensors", fill, "##############################", width - fill, "", done, total);
    if (done == total) fputc('\n', stderr);
}

static int gguf_random(int argc, char **argv) {
    lk_random_params p = { .arch = "llama", .n_layer = 2, .dim = 64, .n_head = 4, .n_head_kv = 2, .n_ff = 128,
                           .n_ctx = 2048, .seed = 42 };
    const char *type = "f32";
    unsigned long long seed = 42;
    float rope_base = 0;
    lk_opt opts[] = {
        { "arch", 0, LK_OPT_STR, &p.arch, "llama|qwen2", "architecture (llama)" },
        { "layers", 0, LK_OPT_INT, &p.n_layer, "L", "transformer blocks (2)" },
        { "dim", 0, LK_OPT_INT, &p.dim, "D", "embedding size (64)" },
        { "heads", 0, LK_OPT_INT, &p.n_head, "H", "attention heads (4)" },
        { "kv-heads", 0, LK_OPT_INT, &p.n_head_kv, "K", "key/value heads (2)" },
        { "head-dim", 0, LK_OPT_INT, &p.head_dim, "N", "head size (default dim / heads)" },
        { "ffn", 0, LK_OPT_INT, &p.n_ff, "F", "feed-forward size (128)" },
        { "ctx", 0, LK_OPT_INT, &p.n_ctx, "C", "training context length (2048)" },
        { "vocab-from", 0, LK_OPT_STR, &p.vocab_path, "V.gguf", "copy the tokenizer (and chat template) from this GGUF" },
        { "type", 0, LK_OPT_STR, &type, "TYPE", "weight type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k" },
        { "seed", 0, LK_OPT_U64, &seed, "S", "random seed (42)" },
        { "rope-base", 0, LK_OPT_FLOAT, &rope_base, "B", "rope frequency base (10000 llama, 1e6 qwen2)" },
        { "tied", 0, LK_OPT_FLAG, &p.tied, NULL, "no output.weight: tie it to the token embedding" },
        { "llama3-rope", 0, LK_OPT_FLAG, &p.llama3_rope, NULL, "add Llama 3.1 rope frequency factors" },
        { "chat-template", 0, LK_OPT_STR, &p.chat_template, "NAME", "embed this template family's template" },
        { "output", 'o', LK_OPT_STR, &p.out_path, "OUT.gguf", "where to write the model" },
        { NULL, 0, 0, NULL, NULL, NULL },
    };
    lk_cmd_help help = {
        "llmkit gguf random --vocab-from V.gguf -o OUT.gguf [--arch llama|qwen2] [shape options] [--type T]",
        "Write a deterministic random model: a real GGUF of the architecture with the vocabulary of\n"
        "V.gguf, weights drawn from N(0, 0.02) with the seed, norms 1, matrices in the chosen type\n"
        "(K-quant rows that are not a multiple of 256 fall back as llama.cpp's quantizer does).",
        "  llmkit gguf random --vocab-from vocab.gguf --layers 30 --dim 576 --heads 9 --kv-heads 3 \\\n"
        "      --ffn 1536 --type q8_0 -o smollm-shape.gguf\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!p.vocab_path || !p.out_path) return cli_usage("gguf random: --vocab-from and -o are required");
    int t = lk_qtype_from_name(type);
    if (t < 0 || !lk_qtype((uint32_t)t)->engine)
        return cli_usage("gguf random: --type '%s' is not one of f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k", type);
    p.type = (uint32_t)t;
    p.seed = seed;
    p.rope_base = rope_base;
    if (isatty(2)) p.progress = progress;
    lk_error err = {0};
    if (lk_random_model(&p, &err)) return cli_fail(&err);
    fprintf(stderr, "llmkit: wrote %s\n", p.out_path);
    return 0;
}

static void print_value(const gguf_value *v, int depth) {
    switch (v->type) {
    case GGUF_STRING: {
        int n = v->s.len > 60 ? 60 : (int)v->s.len;
        putchar('"');
        for (int i = 0; i < n; i++) {
            char ch = v->s.ptr[i];
            if (ch == '\n') fputs("\\n", stdout);
            else putchar(ch);
        }
        printf(v->s.len > 60 ? "\"... (%" PRIu64 " bytes)" : "\"", v->s.len);
        break;
    }
    case GGUF_ARRAY:
        printf("[%s x %" PRIu64 "]", gguf_type_name(v->arr.elem_type), v->arr.n);
        if (v->arr.n && v->arr.elem_type == GGUF_STRING && depth == 0) {
            gguf_value first = { .type = GGUF_STRING, .s = v->arr.strs[0] };
            printf(" first ");
            print_value(&first, 1);
        }
        break;
    case GGUF_FLOAT32: case GGUF_FLOAT64: printf("%g", v->f); break;
    case GGUF_BOOL: printf(v->b ? "true" : "false"); break;
    case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_UINT64: printf("%" PRIu64, v->u); break;
    default: printf("%" PRId64, v->i); break;
    }
}

static int gguf_dump(int argc, char **argv) {
    bool no_tensors = false;
    lk_opt opts[] = {
        { "no-tensors", 0, LK_OPT_FLAG, &no_tensors, NULL, "list metadata only" },
        { NULL, 0, 0, NULL, NULL, NULL },
    };
    lk_cmd_help help = { "llmkit gguf dump FILE.gguf [--no-tensors]",
                         "List every metadata key with its type and value, then every tensor.", NULL };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 1, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (n_pos != 1) return cli_usage("gguf dump: give one GGUF file");
    lk_error err = {0};
    gguf_file *f = gguf_open(pos[0], &err);
    if (!f) return cli_fail(&err);
    printf("GGUF v%u, %" PRIu64 " metadata keys, %" PRIu64 " tensors, alignment %u, data at %zu\n", f->version,
           f->n_kv, f->n_tensors, f->alignment, f->data_offset);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        printf("%-45s %-8s ", f->kv[i].key, gguf_type_name(f->kv[i].val.type));
        print_value(&f->kv[i].val, 0);
        putchar('\n');
    }
    for (uint64_t i = 0; !no_tensors && i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        printf("%-40s %-6s [%" PRId64, t->name, lk_qtype(t->type)->name, t->ne[0]);
        for (uint32_t d = 1; d < t->n_dims; d++) printf(", %" PRId64, t->ne[d]);
        printf("] at %" PRIu64 "\n", t->offset);
    }
    gguf_close(f);
    return 0;
}

int cmd_gguf(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: llmkit gguf random|dump [options]\n\n"
               "  random   write a deterministic random model with a real vocabulary\n"
               "  dump     list a GGUF file's metadata and tensors\n\n"
               "'llmkit gguf SUBCOMMAND --help' explains one.\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "random") == 0) return gguf_random(argc - 1, argv + 1);
    if (strcmp(argv[1], "dump") == 0) return gguf_dump(argc - 1, argv + 1);
    return cli_usage("gguf: unknown subcommand '%s' (random, dump)", argv[1]);
}
