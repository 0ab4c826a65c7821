/* opt.h — the one command-line option parser every subcommand uses.
 *
 * A subcommand describes its options in a table; lk_opt_parse fills the destinations, collects
 * the positional arguments, and prints help for --help or a usage error naming the option. */
#ifndef LK_OPT_H
#define LK_OPT_H

#include <stdbool.h>

enum lk_opt_kind {
    LK_OPT_FLAG,   /* bool *, set to true */
    LK_OPT_STR,    /* const char **, points into argv */
    LK_OPT_INT,    /* int * */
    LK_OPT_FLOAT,  /* float * */
    LK_OPT_U64,    /* unsigned long long * */
    LK_OPT_LIST,   /* lk_opt_list *: a repeatable string option */
};

typedef struct lk_opt_list {
    const char *items[32];
    int n;
} lk_opt_list;

typedef struct lk_opt {
    const char *name;     /* long name without "--" */
    char short_name;      /* 0 if none */
    enum lk_opt_kind kind;
    void *dst;
    const char *arg;      /* placeholder in help: "N", "TEXT", ... */
    const char *help;
} lk_opt;

typedef struct lk_cmd_help {
    const char *usage;    /* "llmkit run -m MODEL -p TEXT [options]" */
    const char *about;    /* a paragraph */
    const char *examples; /* lines, or NULL */
} lk_cmd_help;

enum { LK_OPT_OK = 0, LK_OPT_HELP = 1, LK_OPT_ERROR = 2 };

/* Parse argv[1..argc) against opts (terminated by an entry with name NULL). Positional
 * arguments are stored in pos[] (up to max_pos; *n_pos set). Accepts --name VALUE, --name=VALUE,
 * -x VALUE, and -- to end options. Returns LK_OPT_OK, LK_OPT_HELP (help printed to stdout) or
 * LK_OPT_ERROR (message printed to stderr). */
int lk_opt_parse(int argc, char **argv, const lk_opt *opts, const lk_cmd_help *help,
                 const char **pos, int max_pos, int *n_pos);

/* Print the help page of a command to stdout. */
void lk_opt_print_help(const lk_opt *opts, const lk_cmd_help *help);

#endif
