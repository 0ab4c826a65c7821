/* pool.c — the engine's thread pool: persistent workers, a job counter, a spin-then-sleep
 * barrier (see pool.h).
 *
 * Every wait here is on a 32-bit word that another thread changes: a worker waits for the job
 * generation to move, a thread at a barrier waits for the barrier's phase to move. The waiter
 * spins (with pause) for a short while, then sleeps in futex(FUTEX_WAIT) on the word; whoever
 * changes the word wakes sleepers with FUTEX_WAKE when there may be some. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "base/pool.h"
#include "base/base.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SPIN_ITERS 20000   /* ~20-50 us of pause instructions before sleeping */

struct lk_pool {
    int n;
    pthread_t *threads;
    lk_pool_fn fn;
    void *ctx;
    _Atomic uint32_t job;       /* generation: incremented for each job, and for shutdown */
    _Atomic uint32_t sleepers;  /* threads in futex wait (any word) */
    /* barrier */
    _Atomic int arrived;
    _Atomic uint32_t phase;
    bool stop;
};

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic uint32_t *word, uint32_t val) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

/* Wait until *word != val: spin, then sleep. */
static void wait_change(lk_pool *p, _Atomic uint32_t *word, uint32_t val) {
    for (int i = 0; i < SPIN_ITERS; i++) {
        if (atomic_load_explicit(word, memory_order_acquire) != val) return;
        cpu_relax();
    }
    while (atomic_load_explicit(word, memory_order_acquire) == val) {
        atomic_fetch_add(&p->sleepers, 1);
        futex_wait(word, val);
        atomic_fetch_sub(&p->sleepers, 1);
    }
}

/* After changing *word: wake sleepers if there may be any. The change (a seq_cst RMW) comes
 * before this load of sleepers, and a sleeper's increment of sleepers comes before the kernel's
 * check of *word in FUTEX_WAIT, so a waiter either sees the change or is counted here. */
static void wake(lk_pool *p, _Atomic uint32_t *word) {
    if (atomic_load(&p->sleepers)) futex_wake_all(word);
}

typedef struct worker_arg {
    lk_pool *p;
    int ith;
} worker_arg;

static void *worker(void *arg) {
    worker_arg *w = arg;
    lk_pool *p = w->p;
    int ith = w->ith;
    free(w);
    uint32_t seen = 0;
    for (;;) {
        wait_change(p, &p->job, seen);
        seen = atomic_load_explicit(&p->job, memory_order_acquire);
        if (p->stop) return NULL;
        p->fn(p->ctx, ith, p->n);
        lk_pool_barrier(p); /* the job's final barrier: the caller returns once all are here */
    }
}

int lk_ncpu(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

lk_pool *lk_pool_new(int n) {
    if (n < 1) n = lk_ncpu();
    lk_pool *p = lk_xcalloc(1, sizeof *p);
    p->n = n;
    p->threads = lk_xcalloc((size_t)n, sizeof *p->threads);
    for (int i = 1; i < n; i++) {
        worker_arg *w = lk_xmalloc(sizeof *w);
        w->p = p;
        w->ith = i;
        if (pthread_create(&p->threads[i], NULL, worker, w) != 0) {
            free(w);
            p->n = i; /* shut down the ones started */
            lk_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void lk_pool_free(lk_pool *p) {
    if (!p) return;
    p->stop = true;
    atomic_fetch_add(&p->job, 1);
    futex_wake_all(&p->job);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    free(p->threads);
    free(p);
}

int lk_pool_size(const lk_pool *p) { return p ? p->n : 1; }

void lk_pool_run(lk_pool *p, lk_pool_fn fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_fetch_add(&p->job, 1); /* seq_cst: ordered before the sleepers check in wake() */
    wake(p, &p->job);
    fn(ctx, 0, p->n);
    lk_pool_barrier(p); /* every worker ends its part with this barrier too */
}

void lk_pool_barrier(lk_pool *p) {
    if (!p || p->n == 1) return;
    uint32_t phase = atomic_load_explicit(&p->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->arrived, 1, memory_order_acq_rel) + 1 == p->n) {
        atomic_store_explicit(&p->arrived, 0, memory_order_relaxed);
        atomic_fetch_add(&p->phase, 1); /* seq_cst, see wake() */
        wake(p, &p->phase);
        return;
    }
    wait_change(p, &p->phase, phase);
}
