/* The kernel lock under real concurrency: host threads play harts. Each
 * adds to counters that only the lock protects (non-atomic
 * read-modify-write with a yield in the middle to widen the window), so a
 * lost update shows; tickets must be served in order; try_acquire never
 * takes a held lock. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kernel/core/klock.h"

#define HARTS  4
#define ROUNDS 20000

static struct klock lock = KLOCK_INIT;
static volatile uint64_t counter, pairs_a, pairs_b;
static volatile int inside;

static void *hart(void *arg)
{
    int who = (int)(intptr_t)arg;
    for (unsigned i = 0; i < ROUNDS; i++) {
        klock_acquire(&lock, who);
        if (inside++ != 0) /* two holders at once */
            counter = UINT64_MAX / 2;
        assert_true(klock_held_by(&lock, who));
        uint64_t c = counter;
        if ((i & 255) == 0)
            sched_yield();
        counter = c + 1;
        pairs_a++;
        pairs_b = pairs_a; /* must always move together */
        inside--;
        klock_release(&lock, who);
    }
    return NULL;
}

static void test_mutual_exclusion(void **state)
{
    (void)state;
    pthread_t t[HARTS];
    for (intptr_t i = 0; i < HARTS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hart, (void *)i), 0);
    for (int i = 0; i < HARTS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(counter, (uint64_t)HARTS * ROUNDS);
    assert_int_equal(pairs_a, pairs_b);
    assert_int_equal(lock.next, lock.owner); /* nobody waits, nobody holds */
    assert_int_equal(lock.holder, KLOCK_NOBODY);
}

static void test_try_acquire(void **state)
{
    (void)state;
    struct klock l = KLOCK_INIT;
    assert_true(klock_try_acquire(&l, 1));
    assert_true(klock_held_by(&l, 1));
    assert_false(klock_held_by(&l, 2));
    assert_false(klock_try_acquire(&l, 2));
    klock_release(&l, 1);
    assert_false(klock_held_by(&l, 1));
    assert_true(klock_try_acquire(&l, 2));
    klock_release(&l, 2);
    assert_int_equal(l.next, 2);
    assert_int_equal(l.owner, 2);
}

/* Tickets wrap around 2^32 without losing order. */
static void test_ticket_wrap(void **state)
{
    (void)state;
    struct klock l = {UINT32_MAX - 1, UINT32_MAX - 1, KLOCK_NOBODY, 0};
    for (int i = 0; i < 4; i++) {
        klock_acquire(&l, 0);
        assert_true(klock_held_by(&l, 0));
        klock_release(&l, 0);
    }
    assert_int_equal(l.next, 2);
    assert_int_equal(l.owner, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_exclusion),
        cmocka_unit_test(test_try_acquire),
        cmocka_unit_test(test_ticket_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
