/* pool.h — one pool of worker threads for the whole engine.
 *
 * The threads are started once and wait between jobs; a job is a function that every thread
 * (the caller is thread 0) runs with its index, and that may call lk_pool_barrier() to wait for
 * the others between phases (the forward pass has a barrier between ops). Waiting spins briefly
 * and then sleeps on a futex, so that a thread whose partner's virtual CPU was paused does not
 * burn its own core, and wakes quickly when the partner arrives. A job runs to completion before
 * the next starts; lk_pool_run is not reentrant and not for concurrent callers (the caller
 * serialises, as the server's scheduler will). */
#ifndef LK_POOL_H
#define LK_POOL_H

typedef struct lk_pool lk_pool;

/* A pool of n threads in all (n - 1 workers plus the caller); n < 1 means the number of online
 * CPUs. Returns NULL when threads cannot be created. */
lk_pool *lk_pool_new(int n);
void lk_pool_free(lk_pool *p);

/* Number of threads, the caller included. */
int lk_pool_size(const lk_pool *p);

typedef void (*lk_pool_fn)(void *ctx, int ith, int nth);

/* Run fn(ctx, ith, nth) on every thread, ith = 0 on the caller; return when all have returned.
 * A NULL pool runs fn(ctx, 0, 1) on the caller. */
void lk_pool_run(lk_pool *p, lk_pool_fn fn, void *ctx);

/* Inside a job: wait until every thread of the pool has reached this barrier. Memory written
 * before the barrier by any thread is visible after it to all. No-op for a NULL pool. */
void lk_pool_barrier(lk_pool *p);

/* The number of online CPUs (at least 1). */
int lk_ncpu(void);

#endif
