/* serve.c — `llmkit serve`: serve one or more models (any lk_model spec) over the OpenAI and
 * Anthropic HTTP APIs until SIGINT or SIGTERM, then stop gracefully. The server is
 * src/server/; this file parses options, opens the models and prints where to reach them. */
#include "cli/cli.h"
#include "server/server.h"

#include <signal.h>
#include <pthread.h>

int cmd_serve(int argc, char **argv) {
    lk_opt_list specs = {0}, names = {0};
    const char *host = "127.0.0.1", *api_key = NULL, *keys_file = NULL;
    int port = 8080, slots = 0, queue = 0, max_tokens = 4096, max_conn = 256;
    long long max_body = 4 << 20;
    float drain = 30;
    const char *max_body_s = NULL;
    cli_model cm;
    lk_opt opts[40] = {
        { "model", 'm', LK_OPT_LIST, &specs, "SPEC", "a model to serve: a .gguf file, openai:MODEL, anthropic:MODEL, "
          "ollama:MODEL, http(s)://HOST/v1#MODEL (repeatable)" },
        { "name", 0, LK_OPT_LIST, &names, "NAME", "the name clients use for the model given by the matching -m "
          "(default: the file name without .gguf, or the API model id)" },
        { "host", 0, LK_OPT_STR, &host, "ADDR", "address to listen on (127.0.0.1; 0.0.0.0 for every interface)" },
        { "port", 0, LK_OPT_INT, &port, "N", "port to listen on (8080; 0 picks a free one)" },
        { "slots", 0, LK_OPT_INT, &slots, "N", "local: sequences decoded together (default 8)" },
        { "queue", 0, LK_OPT_INT, &queue, "N", "local: requests that may wait for a slot before 429 (default 64)" },
        { "api-key", 0, LK_OPT_STR, &api_key, "KEY", "require this key (Authorization: Bearer or x-api-key)" },
        { "api-keys", 0, LK_OPT_STR, &keys_file, "FILE", "require one of the keys in FILE (one per line)" },
        { "max-tokens", 0, LK_OPT_INT, &max_tokens, "N", "the largest max_tokens a request may ask for (4096)" },
        { "max-body", 0, LK_OPT_STR, &max_body_s, "BYTES", "the largest request body (4194304); more is 413" },
        { "max-connections", 0, LK_OPT_INT, &max_conn, "N", "connections at once (256)" },
        { "drain", 0, LK_OPT_FLOAT, &drain, "S", "on SIGINT/SIGTERM, let running requests finish for S seconds (30)" },
    };
    int n_opts = 12;
    n_opts += cli_model_opts(&cm, opts + n_opts);
    opts[n_opts].name = NULL;
    lk_cmd_help help = {
        "llmkit serve -m SPEC [--name NAME] [-m SPEC --name NAME ...] [options]",
        "Serve models over HTTP with the OpenAI API (POST /v1/chat/completions, /v1/completions,\n"
        "/v1/embeddings, GET /v1/models) and the Anthropic API (POST /v1/messages), streaming by\n"
        "SSE, plus GET /health and GET /metrics (Prometheus). Any model spec can be served: local\n"
        "GGUF files run in the engine, API models are proxied. Requests are checked strictly: a\n"
        "field the model cannot honour is a 400 naming it. --timeout is the longest a request may\n"
        "run (600 s). SIGINT or SIGTERM stops accepting, lets running requests finish (--drain)\n"
        "and exits 0. See docs/serve.md.",
        "  llmkit serve -m model.gguf\n"
        "  llmkit serve -m a.gguf --name small -m b.gguf --name big --port 9000 --api-key secret\n"
        "  llmkit serve -m openai:gpt-4o-mini -m anthropic:claude-haiku-4-5 --port 0\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!specs.n) return cli_usage("serve: give at least one model with -m SPEC (see llmkit serve --help)");
    if (names.n > specs.n) return cli_usage("serve: %d --name for %d -m; each --name names the -m in the same place",
                                            names.n, specs.n);
    if (port < 0 || port > 65535) return cli_usage("serve: --port %d: expected 0 to 65535", port);
    if (slots < 0 || slots > 256) return cli_usage("serve: --slots %d: expected 1 to 256", slots);
    if (queue < 0) return cli_usage("serve: --queue %d: expected 0 or more", queue);
    if (max_tokens < 1) return cli_usage("serve: --max-tokens %d: expected 1 or more", max_tokens);
    if (max_conn < 1) return cli_usage("serve: --max-connections %d: expected 1 or more", max_conn);
    if (!(drain >= 0)) return cli_usage("serve: --drain: expected seconds >= 0");
    if (max_body_s && (lk_parse_i64(max_body_s, &max_body) || max_body < 1))
        return cli_usage("serve: --max-body '%s': expected a number of bytes", max_body_s);
    if (api_key && keys_file) return cli_usage("serve: give --api-key or --api-keys, not both");
    if (api_key && !*api_key) return cli_usage("serve: --api-key is empty");

    char **keys = NULL;
    size_t n_keys = 0;
    lk_error err = {0};
    if (keys_file && srv_load_keys(keys_file, &keys, &n_keys, &err)) return cli_fail(&err);
    if (api_key) {
        keys = lk_xcalloc(1, sizeof *keys);
        keys[0] = lk_xstrdup(api_key);
        n_keys = 1;
    }
    srv_opts so = { .host = host, .port = port, .max_connections = max_conn, .max_body = (size_t)max_body,
                    .max_tokens = max_tokens, .request_timeout_s = cm.timeout, .api_keys = (const char *const *)keys,
                    .n_api_keys = n_keys };
    srv_server *s = srv_new(&so);
    srv_keys_free(keys, n_keys);

    lk_model *models[32] = {0};
    int n_models = 0;
    rc = 0;
    lk_model_opts lo;
    cli_model_lk_opts(&cm, &lo);
    lo.slots = slots;
    lo.queue = queue;
    if (cm.threads < 0 || cm.threads > 1024) rc = cli_usage("serve: --threads %d: expected 1 to 1024", cm.threads);
    if (cm.n_ctx < 0) rc = cli_usage("serve: --ctx %d: expected a positive size", cm.n_ctx);
    if (specs.n > (int)LK_ARRAY_LEN(models)) rc = cli_usage("serve: at most %d models", (int)LK_ARRAY_LEN(models));
    for (int i = 0; i < specs.n && !rc; i++) {
        models[i] = lk_model_open_ex(specs.items[i], &lo, &err);
        if (!models[i]) {
            rc = cli_fail(&err);
            break;
        }
        n_models++;
        const char *name = i < names.n ? names.items[i] : lk_model_name(models[i]);
        if (srv_add_model(s, name, models[i], &err)) rc = cli_fail(&err);
    }
    /* SIGINT and SIGTERM are taken by sigwait below: block them before any thread starts */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!rc && srv_start(s, &err)) rc = cli_fail(&err);
    if (!rc) {
        const char *shown = strchr(host, ':') ? NULL : host; /* IPv6 literals in brackets */
        char base[300];
        if (shown && !strcmp(shown, "0.0.0.0")) shown = "127.0.0.1";
        snprintf(base, sizeof base, shown ? "http://%s:%d" : "http://[%s]:%d", shown ? shown : host, srv_port(s));
        printf("llmkit: serving");
        for (int i = 0; i < n_models; i++)
            printf("%s %s (%s)", i ? "," : "", i < names.n ? names.items[i] : lk_model_name(models[i]),
                   lk_model_spec(models[i]));
        printf(" at %s/v1\n", base);
        const char *first = names.n ? names.items[0] : lk_model_name(models[0]);
        printf("try: curl %s/v1/chat/completions -H 'Content-Type: application/json'%s -d '{\"model\": \"%s\", "
               "\"messages\": [{\"role\": \"user\", \"content\": \"Hello!\"}], \"max_tokens\": 32}'\n", base,
               n_keys ? " -H \"Authorization: Bearer $KEY\"" : "", first);
        printf("metrics: curl %s/metrics   (Ctrl-C stops)\n", base);
        fflush(stdout);
        int sig = 0;
        sigwait(&sigs, &sig);
        int busy = srv_in_flight(s);
        fprintf(stderr, "llmkit: %s: stopping; %d request%s in flight (waiting up to %g s)\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", busy, busy == 1 ? "" : "s", drain);
        int cancelled = srv_stop(s, drain);
        if (cancelled) fprintf(stderr, "llmkit: cancelled %d request%s at the deadline\n", cancelled, cancelled == 1 ? "" : "s");
    }
    srv_free(s);
    for (int i = 0; i < n_models; i++) lk_model_free(models[i]);
    return rc;
}
