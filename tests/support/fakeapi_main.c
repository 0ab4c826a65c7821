/* fakeapi_main.c — build/tests/fakeapi, the echo server of fakeapi.h as a program, for the
 * shell tests of the CLI against API models.
 *
 *   fakeapi [--key KEY] [--split N]
 *
 * Starts a loopback server answering with fake_echo (an API key required when --key is given;
 * streamed bodies dribbled out in random pieces of 1..N bytes with --split), prints its port and
 * a newline on stdout, and serves until stdin reaches EOF or SIGTERM / SIGINT arrives. A shell
 * test keeps stdin open with a pipe or FIFO for as long as it needs the server. */
#include "fakeapi.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }

static int usage(void) {
    fprintf(stderr, "usage: fakeapi [--key KEY] [--split N]\n");
    return 2;
}

int main(int argc, char **argv) {
    fake_echo_opts opts = { NULL, 0 };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            opts.key = argv[++i];
        } else if (strcmp(argv[i], "--split") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || n < 0 || n > 1 << 20) return usage();
            opts.split = (int)n;
        } else {
            return usage();
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() below returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    fake_server *s = fake_start();
    if (!s) {
        fprintf(stderr, "fakeapi: cannot listen on 127.0.0.1: %s\n", strerror(errno));
        return 1;
    }
    fake_set_handler(s, fake_echo, &opts);
    printf("%d\n", fake_port(s));
    fflush(stdout);

    while (!got_signal) {
        struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
        int r = poll(&pfd, 1, 200);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        char buf[4096];
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break; /* EOF */
    }
    fake_stop(s);
    return 0;
}
