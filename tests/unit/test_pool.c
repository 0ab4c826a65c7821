/* test_pool.c — the thread pool: every thread runs each job once, barriers separate phases,
 * many short jobs in a row (the forward pass runs one per token) neither hang nor lose work. */
#include "testutil.h"
#include "base/pool.h"

#include <stdatomic.h>
#include <unistd.h>

typedef struct job {
    lk_pool *pool;
    _Atomic int calls;
    int seen[16];
    int phases[64][16];
    bool ok;
} job;

static void count(void *ctx, int ith, int nth) {
    job *j = ctx;
    atomic_fetch_add(&j->calls, 1);
    j->seen[ith] = nth;
}

/* Each job is run once by every thread, with its index, and nth is the pool size. */
static void test_run_calls_every_thread_once(void **state) {
    (void)state;
    for (int n = 1; n <= 4; n++) {
        lk_pool *p = lk_pool_new(n);
        assert_non_null(p);
        assert_int_equal(lk_pool_size(p), n);
        job j = {0};
        lk_pool_run(p, count, &j);
        assert_int_equal(atomic_load(&j.calls), n);
        for (int i = 0; i < n; i++) assert_int_equal(j.seen[i], n);
        lk_pool_free(p);
    }
}

/* Writes made before a barrier are seen by every thread after it. */
static void phases(void *ctx, int ith, int nth) {
    job *j = ctx;
    for (int ph = 0; ph < 64; ph++) {
        j->phases[ph][ith] = ph + 1;
        lk_pool_barrier(j->pool);
        for (int t = 0; t < nth; t++)
            if (j->phases[ph][t] != ph + 1) j->ok = false;
        lk_pool_barrier(j->pool);
    }
}

static void test_barrier_separates_phases(void **state) {
    (void)state;
    lk_pool *p = lk_pool_new(3);
    job j = {0};
    j.ok = true;
    j.pool = p;
    for (int rep = 0; rep < 20; rep++) {
        memset(j.phases, 0, sizeof j.phases);
        lk_pool_run(p, phases, &j);
    }
    assert_true(j.ok);
    lk_pool_free(p);
}

/* Thousands of short jobs in a row, as one per generated token: none lost, none doubled. */
static void test_many_short_jobs(void **state) {
    (void)state;
    lk_pool *p = lk_pool_new(2);
    job j = {0};
    for (int i = 0; i < 20000; i++) lk_pool_run(p, count, &j);
    assert_int_equal(atomic_load(&j.calls), 40000);
    lk_pool_free(p);
}

/* Workers that slept (idle longer than the spin) wake up for the next job. */
static void test_jobs_after_idle_sleep(void **state) {
    (void)state;
    lk_pool *p = lk_pool_new(2);
    job j = {0};
    for (int i = 0; i < 3; i++) {
        usleep(20000);
        lk_pool_run(p, count, &j);
    }
    assert_int_equal(atomic_load(&j.calls), 6);
    lk_pool_free(p);
}

/* A NULL pool runs the job on the caller alone. */
static void test_null_pool_runs_inline(void **state) {
    (void)state;
    job j = {0};
    lk_pool_run(NULL, count, &j);
    lk_pool_barrier(NULL);
    assert_int_equal(atomic_load(&j.calls), 1);
    assert_int_equal(j.seen[0], 1);
    assert_int_equal(lk_pool_size(NULL), 1);
    assert_true(lk_ncpu() >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_calls_every_thread_once),
        cmocka_unit_test(test_barrier_separates_phases),
        cmocka_unit_test(test_many_short_jobs),
        cmocka_unit_test(test_jobs_after_idle_sleep),
        cmocka_unit_test(test_null_pool_runs_inline),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
