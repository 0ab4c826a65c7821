/* membw.c — this machine's memory bandwidth, for the generation roofline in bench/engine.sh.
 *
 * Two kernels over arrays far larger than the caches, on every core at once (one thread per
 * online CPU, each on its own slice):
 *   read   sum += bits of a[i]         bytes: 8 per element (an integer sum, so that the compiler
 *                                      may vectorize it: a float sum would be kept in order)
 *   triad  a[i] = b[i] + s * c[i]      bytes: 24 per element (write-allocate not counted, as STREAM)
 * Each is run -r times; the best run is reported (the machine is shared and noisy).
 * Usage: membw [-m MiB per array (512)] [-r runs (5)] [-t threads] [--json] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct job {
    double *a, *b, *c;
    size_t lo, hi;
    int kind; /* 0 read, 1 triad */
    double sum;
    pthread_barrier_t *bar;
} job;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *run(void *arg) {
    job *j = arg;
    pthread_barrier_wait(j->bar);
    if (j->kind == 0) {
        const uint64_t *p = (const uint64_t *)j->a;
        uint64_t s = 0;
        for (size_t i = j->lo; i < j->hi; i++) s += p[i];
        j->sum = (double)(s & 0xffff);
    } else {
        for (size_t i = j->lo; i < j->hi; i++) j->a[i] = j->b[i] + 3.0 * j->c[i];
    }
    pthread_barrier_wait(j->bar);
    return NULL;
}

/* Seconds for one pass of the kernel over n elements with nt threads. */
static double pass(double *a, double *b, double *c, size_t n, int nt, int kind, double *sink) {
    pthread_t th[256];
    job jobs[256];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nt + 1);
    for (int t = 0; t < nt; t++) {
        jobs[t] = (job){ a, b, c, n * (size_t)t / (size_t)nt, n * (size_t)(t + 1) / (size_t)nt, kind, 0, &bar };
        pthread_create(&th[t], NULL, run, &jobs[t]);
    }
    pthread_barrier_wait(&bar); /* all started */
    double t0 = now();
    pthread_barrier_wait(&bar); /* all done */
    double dt = now() - t0;
    for (int t = 0; t < nt; t++) {
        pthread_join(th[t], NULL);
        *sink += jobs[t].sum;
    }
    pthread_barrier_destroy(&bar);
    return dt;
}

int main(int argc, char **argv) {
    size_t mib = 512;
    int runs = 5, nt = (int)sysconf(_SC_NPROCESSORS_ONLN), json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) mib = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) nt = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else {
            fprintf(stderr, "usage: membw [-m MiB] [-r runs] [-t threads] [--json]\n");
            return 2;
        }
    }
    if (nt < 1 || nt > 256 || runs < 1 || mib < 1) {
        fprintf(stderr, "membw: bad arguments\n");
        return 2;
    }
    size_t n = mib * 1024 * 1024 / sizeof(double);
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)), *c = malloc(n * sizeof(double));
    if (!a || !b || !c) {
        fprintf(stderr, "membw: out of memory for 3 x %zu MiB\n", mib);
        return 1;
    }
    for (size_t i = 0; i < n; i++) a[i] = 1.0, b[i] = 2.0, c[i] = 0.5; /* touch every page */
    double sink = 0, best_read = 1e30, best_triad = 1e30;
    for (int r = 0; r < runs; r++) {
        double t = pass(a, b, c, n, nt, 0, &sink);
        if (t < best_read) best_read = t;
        t = pass(a, b, c, n, nt, 1, &sink);
        if (t < best_triad) best_triad = t;
    }
    double read_gbs = 8.0 * (double)n / best_read / 1e9, triad_gbs = 24.0 * (double)n / best_triad / 1e9;
    if (json)
        printf("{\"threads\": %d, \"array_mib\": %zu, \"runs\": %d, \"read_gb_s\": %.2f, \"triad_gb_s\": %.2f}\n", nt, mib,
               runs, read_gbs, triad_gbs);
    else
        printf("memory bandwidth, %d threads, best of %d: read %.1f GB/s, triad %.1f GB/s%s\n", nt, runs, read_gbs,
               triad_gbs, sink == 0.123 ? " " : "");
    free(a);
    free(b);
    free(c);
    return 0;
}
