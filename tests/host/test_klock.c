/* The kernel lock under real concurrency: host threads play harts. Each
 * adds to counters that only the lock protects (non-atomic
 * read-modify-write with a yield in the middle to widen the window), so a
 * lost update shows; tickets must be served in order; try_acquire never
 * takes a held lock; a parked waiter is always woken on its turn. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <time.h>
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

/* Parking as wfi and an IPI would do it: a pending wake-up per waiter
 * that park consumes. A park that times out on its own turn is a lost
 * wake-up (the releaser should have woken it); one that times out
 * before its turn would be a bug too, as turns come in microseconds. */
static struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool pending;
} sleepers[HARTS];
static volatile unsigned lost_wakeups, unparks;

void klock_park_prepare(int who)
{
    pthread_mutex_lock(&sleepers[who].m);
    sleepers[who].pending = false;
    pthread_mutex_unlock(&sleepers[who].m);
}

void klock_park(int who)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&sleepers[who].m);
    int e = 0;
    while (!sleepers[who].pending && e != ETIMEDOUT)
        e = pthread_cond_timedwait(&sleepers[who].c, &sleepers[who].m, &until);
    if (!sleepers[who].pending) {
        __atomic_fetch_add(&lost_wakeups, 1, __ATOMIC_RELAXED);
        klock_spin_limit = 1u << 30; /* no more parking: finish, and fail */
    }
    sleepers[who].pending = false;
    pthread_mutex_unlock(&sleepers[who].m);
}

void klock_unpark(int who)
{
    __atomic_fetch_add(&unparks, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&sleepers[who].m);
    sleepers[who].pending = true;
    pthread_cond_signal(&sleepers[who].c);
    pthread_mutex_unlock(&sleepers[who].m);
}

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

static void run_harts(void)
{
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

static void test_mutual_exclusion(void **state)
{
    (void)state;
    run_harts();
}

/* Every wait parks at once: mutual exclusion and order hold, and every
 * sleeper is woken on its turn. */
static void test_parking(void **state)
{
    (void)state;
    for (int i = 0; i < HARTS; i++) {
        pthread_mutex_init(&sleepers[i].m, NULL);
        pthread_cond_init(&sleepers[i].c, NULL);
    }
    unsigned spins = klock_spin_limit;
    klock_spin_limit = 1;
    counter = pairs_a = pairs_b = 0;
    lock = (struct klock)KLOCK_INIT;
    run_harts();
    klock_spin_limit = spins;
    assert_int_equal(lost_wakeups, 0);
    assert_true(lock.parks > 0);
    assert_true(unparks > 0);
    assert_int_equal(lock.parked, 0);
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
    struct klock l = {.next = UINT32_MAX - 1, .owner = UINT32_MAX - 1, .holder = KLOCK_NOBODY};
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
        cmocka_unit_test(test_parking),
        cmocka_unit_test(test_try_acquire),
        cmocka_unit_test(test_ticket_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
