/* opt.c — parsing subcommand options from a table, and printing a readable --help. */
#include "base/opt.h"
#include "base/base.h"

#include <errno.h>
#include <math.h>

static const lk_opt *find_long(const lk_opt *opts, const char *name, size_t len) {
    for (const lk_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

static const lk_opt *find_short(const lk_opt *opts, char c) {
    for (const lk_opt *o = opts; o->name; o++)
        if (o->short_name == c) return o;
    return NULL;
}

static int usage_error(const lk_cmd_help *help, const char *fmt, const char *a, const char *b) {
    fputs("llmkit: ", stderr);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nusage: %s\n(see --help)\n", help->usage);
    return LK_OPT_ERROR;
}

static int set_value(const lk_opt *o, const char *val, const lk_cmd_help *help) {
    long long i;
    double d;
    switch (o->kind) {
    case LK_OPT_STR:
        *(const char **)o->dst = val;
        return LK_OPT_OK;
    case LK_OPT_LIST: {
        lk_opt_list *l = o->dst;
        if (l->n >= (int)LK_ARRAY_LEN(l->items))
            return usage_error(help, "too many --%s options%s", o->name, "");
        l->items[l->n++] = val;
        return LK_OPT_OK;
    }
    case LK_OPT_INT:
        if (lk_parse_i64(val, &i) || i < -2147483647LL || i > 2147483647LL)
            return usage_error(help, "--%s: '%s' is not an integer", o->name, val);
        *(int *)o->dst = (int)i;
        return LK_OPT_OK;
    case LK_OPT_U64:
        if (lk_parse_i64(val, &i) || i < 0)
            return usage_error(help, "--%s: '%s' is not a non-negative integer", o->name, val);
        *(unsigned long long *)o->dst = (unsigned long long)i;
        return LK_OPT_OK;
    case LK_OPT_FLOAT:
        if (lk_parse_f64(val, &d) || !isfinite(d))
            return usage_error(help, "--%s: '%s' is not a number", o->name, val);
        *(float *)o->dst = (float)d;
        return LK_OPT_OK;
    case LK_OPT_FLAG:
        break;
    }
    return LK_OPT_OK;
}

int lk_opt_parse(int argc, char **argv, const lk_opt *opts, const lk_cmd_help *help,
                 const char **pos, int max_pos, int *n_pos) {
    *n_pos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const lk_opt *o = NULL;
        const char *val = NULL;
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            lk_opt_print_help(opts, help);
            return LK_OPT_HELP;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-' && a[2]) {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            o = find_long(opts, a + 2, len);
            if (!o) return usage_error(help, "unknown option '%s'%s", a, "");
            if (eq) val = eq + 1;
        } else if (!only_pos && a[0] == '-' && a[1] && a[1] != '-' && !(a[1] >= '0' && a[1] <= '9')) {
            o = find_short(opts, a[1]);
            if (!o) return usage_error(help, "unknown option '%s'%s", a, "");
            if (a[2]) val = a + 2;
        } else {
            if (*n_pos >= max_pos) return usage_error(help, "unexpected argument '%s'%s", a, "");
            pos[(*n_pos)++] = a;
            continue;
        }
        if (o->kind == LK_OPT_FLAG) {
            if (val) return usage_error(help, "--%s takes no value%s", o->name, "");
            *(bool *)o->dst = true;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) return usage_error(help, "--%s needs a value (%s)", o->name, o->arg ? o->arg : "VALUE");
            val = argv[++i];
        }
        int rc = set_value(o, val, help);
        if (rc) return rc;
    }
    return LK_OPT_OK;
}

void lk_opt_print_help(const lk_opt *opts, const lk_cmd_help *help) {
    printf("usage: %s\n\n%s\n", help->usage, help->about);
    bool any = false;
    for (const lk_opt *o = opts; o->name; o++) any = true;
    if (any) printf("\noptions:\n");
    for (const lk_opt *o = opts; o->name; o++) {
        char left[64];
        int n = 0;
        if (o->short_name) n = snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->name);
        else n = snprintf(left, sizeof left, "    --%s", o->name);
        if (o->kind != LK_OPT_FLAG && n > 0 && (size_t)n < sizeof left)
            snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg ? o->arg : "VALUE");
        printf("  %-28s %s\n", left, o->help);
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
    if (help->examples) printf("\nexamples:\n%s", help->examples);
}
