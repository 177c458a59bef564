/* Host tests for frames/iopin.c: quotas, leases, quarantine, a leaking
 * driver, an account that closes, bad arguments, and a seeded random run
 * against a model of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frames/iopin.h"

#define PA(n) ((uint64_t)(n) << 12)

static unsigned revoked, freed;

static void on_revoke(struct pin *p, void *ctx)
{
    (void)ctx;
    assert_int_equal(p->state, PIN_EXPIRED);
    revoked++;
}

static void on_free(struct pin *p, void *ctx)
{
    (void)ctx;
    assert_int_equal(p->state, PIN_FREE);
    freed++;
}

static int reset(void **state)
{
    (void)state;
    revoked = freed = 0;
    return 0;
}

static void test_quota(void **state)
{
    (void)state;
    struct pin_account a;
    struct pin p[3] = {0};
    assert_int_equal(pin_account_init(&a, 2, 100), PIN_OK);
    assert_int_equal(pin_take(&a, &p[0], PA(1), 0), PIN_OK);
    assert_int_equal(pin_take(&a, &p[1], PA(2), 0), PIN_OK);
    assert_int_equal(pin_take(&a, &p[2], PA(3), 0), PIN_ERR_QUOTA);
    assert_int_equal(p[2].state, PIN_FREE);
    assert_int_equal(pin_release(&p[0]), PIN_OK);
    assert_int_equal(a.held, 1);
    assert_int_equal(pin_take(&a, &p[2], PA(3), 5), PIN_OK);
    assert_int_equal(a.held, 2);
    assert_int_equal(a.taken, 3);
}

/* Within the lease a pin is usable; at its end it is expired, and
 * releasing it then does not free the page: quarantine first. */
static void test_lease_and_quarantine(void **state)
{
    (void)state;
    struct pin_account a;
    struct pin p = {0};
    pin_account_init(&a, 4, 100);
    assert_int_equal(pin_take(&a, &p, PA(7), 1000), PIN_OK);
    assert_int_equal(pin_use(&p, 1099), PIN_OK);
    assert_int_equal(pin_use(&p, 1100), PIN_ERR_EXPIRED);
    assert_int_equal(p.state, PIN_EXPIRED);
    assert_int_equal(pin_use(&p, 1101), PIN_ERR_EXPIRED);
    assert_int_equal(pin_release(&p), PIN_ERR_EXPIRED);
    assert_int_equal(a.held, 1); /* still counted */
    /* The caller revoked it when pin_use said so: no second revoke. */
    assert_int_equal(pin_expire(&a, 1150, on_revoke, on_free, NULL), 0);
    assert_int_equal(revoked, 0);
    assert_int_equal(pin_expire(&a, 1200, on_revoke, on_free, NULL), 1);
    assert_int_equal(freed, 1);
    assert_int_equal(a.held, 0);
    assert_int_equal(p.state, PIN_FREE);
    assert_null(a.pins);
}

/* The kernel's sweep finds leases over: revoke once, free a lease later. */
static void test_expire_sweep(void **state)
{
    (void)state;
    struct pin_account a;
    struct pin p[3] = {0};
    pin_account_init(&a, 3, 10);
    pin_take(&a, &p[0], PA(1), 0);
    pin_take(&a, &p[1], PA(2), 5);
    pin_take(&a, &p[2], PA(3), 8);
    assert_int_equal(pin_release(&p[2]), PIN_OK);
    assert_int_equal(pin_expire(&a, 9, on_revoke, on_free, NULL), 0);
    assert_int_equal(pin_expire(&a, 10, on_revoke, on_free, NULL), 1); /* p0 */
    assert_int_equal(revoked, 1);
    assert_int_equal(pin_expire(&a, 15, on_revoke, on_free, NULL), 1); /* p1 */
    assert_int_equal(revoked, 2);
    assert_int_equal(pin_expire(&a, 19, on_revoke, on_free, NULL), 0);
    assert_int_equal(pin_expire(&a, 25, on_revoke, on_free, NULL), 2); /* both quarantines */
    assert_int_equal(freed, 2);
    assert_int_equal(a.held, 0);
    assert_int_equal(a.expired, 2);
    assert_int_equal(a.released, 3);
}

/* A driver that takes pins and never gives them back: it meets its quota,
 * and two leases later the ledger has freed them - the cache is not held. */
static void test_leaking_driver(void **state)
{
    (void)state;
    struct pin_account a;
    struct pin p[8] = {0};
    pin_account_init(&a, 4, 50);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pin_take(&a, &p[i], PA(i + 1), 0), PIN_OK);
    assert_int_equal(pin_take(&a, &p[4], PA(5), 1), PIN_ERR_QUOTA);
    pin_expire(&a, 50, on_revoke, on_free, NULL);
    assert_int_equal(revoked, 4);
    assert_int_equal(pin_take(&a, &p[4], PA(5), 60), PIN_ERR_QUOTA); /* quarantined */
    pin_expire(&a, 100, on_revoke, on_free, NULL);
    assert_int_equal(freed, 4);
    assert_int_equal(pin_take(&a, &p[4], PA(5), 100), PIN_OK);
}

/* The holder dies: every live pin is revoked now, freed a lease later. */
static void test_close(void **state)
{
    (void)state;
    struct pin_account a;
    struct pin p[3] = {0};
    pin_account_init(&a, 3, 20);
    pin_take(&a, &p[0], PA(1), 0);
    pin_take(&a, &p[1], PA(2), 0);
    pin_take(&a, &p[2], PA(3), 0);
    assert_int_equal(pin_use(&p[2], 30), PIN_ERR_EXPIRED); /* already expired */
    pin_account_close(&a, 5, on_revoke, NULL);
    assert_int_equal(revoked, 2);
    assert_int_equal(pin_expire(&a, 24, on_revoke, on_free, NULL), 0);
    assert_int_equal(pin_expire(&a, 50, on_revoke, on_free, NULL), 3);
    assert_int_equal(freed, 3);
    assert_int_equal(a.held, 0);
}

/* A frame dies with its pin live (its driver died mid-transfer): the pin
 * is expired at once and its page waits a lease; an expired one is left
 * as it is. */
static void test_abandon(void **state)
{
    (void)state;
    struct pin_account a;
    struct pin p = {0}, q = {0};
    pin_account_init(&a, 2, 30);
    pin_take(&a, &p, PA(1), 0);
    pin_take(&a, &q, PA(2), 0);
    assert_true(pin_abandon(&p, 10));
    assert_int_equal(p.state, PIN_EXPIRED);
    assert_false(pin_abandon(&p, 11));
    assert_int_equal(pin_use(&q, 30), PIN_ERR_EXPIRED);
    assert_false(pin_abandon(&q, 31));
    assert_int_equal(pin_expire(&a, 39, on_revoke, on_free, NULL), 0);
    assert_int_equal(pin_expire(&a, 40, on_revoke, on_free, NULL), 1); /* p: 10 + 30 */
    assert_int_equal(pin_expire(&a, 60, on_revoke, on_free, NULL), 1); /* q: 30 + 30 */
    assert_int_equal(freed, 2);
    assert_int_equal(revoked, 0);
    assert_int_equal(a.held, 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct pin_account a;
    struct pin p = {0}, q = {0};
    assert_int_equal(pin_account_init(&a, 0, 10), PIN_ERR_ARG);
    assert_int_equal(pin_account_init(&a, 1, 0), PIN_ERR_ARG);
    assert_int_equal(pin_account_init(&a, 1, 10), PIN_OK);
    assert_int_equal(pin_take(&a, &p, PA(1) + 8, 0), PIN_ERR_ARG);
    assert_int_equal(pin_release(&p), PIN_ERR_STATE);
    assert_int_equal(pin_use(&p, 0), PIN_ERR_STATE);
    assert_int_equal(pin_take(&a, &p, PA(1), 0), PIN_OK);
    assert_int_equal(pin_take(&a, &p, PA(2), 0), PIN_ERR_STATE); /* taken twice */
    assert_int_equal(pin_take(&a, &q, PA(2), 0), PIN_ERR_QUOTA);
    assert_int_equal(pin_release(&p), PIN_OK);
    assert_int_equal(pin_release(&p), PIN_ERR_STATE); /* released twice */
    assert_int_equal(a.held, 0);
}

/* Random takes, uses, releases and sweeps against a model: the count held
 * is the pins not free, never above the limit; a pin is live exactly while
 * now is before its lease's end (or until a use past it); freed pins were
 * revoked first, a lease before. */
static void test_random_against_model(void **state)
{
    (void)state;
    enum { N = 16 };
    uint64_t seed = 12345;
    for (int round = 0; round < 20; round++) {
        struct pin_account a;
        struct pin p[N];
        uint64_t taken_at[N], expired_at[N];
        memset(p, 0, sizeof(p));
        pin_account_init(&a, 6, 40);
        uint64_t now = 0;
        for (int step = 0; step < 2000; step++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(seed >> 33), i = r % N;
            now += (r >> 8) % 4;
            switch ((r >> 4) % 4) {
            case 0: {
                uint32_t held = a.held;
                enum pin_err e = pin_take(&a, &p[i], PA(i + 1), now);
                if (e == PIN_OK) {
                    taken_at[i] = now;
                    assert_true(held < a.limit);
                } else {
                    assert_true(e == PIN_ERR_STATE || (e == PIN_ERR_QUOTA && held == a.limit));
                }
                break;
            }
            case 1: {
                uint8_t was = p[i].state;
                enum pin_err e = pin_use(&p[i], now);
                if (was == PIN_LIVE && now < taken_at[i] + 40)
                    assert_int_equal(e, PIN_OK);
                else if (was == PIN_LIVE) {
                    assert_int_equal(e, PIN_ERR_EXPIRED);
                    expired_at[i] = now;
                }
                break;
            }
            case 2:
                pin_release(&p[i]);
                break;
            default: {
                uint8_t before[N];
                for (int k = 0; k < N; k++)
                    before[k] = p[k].state;
                pin_expire(&a, now, NULL, NULL, NULL);
                for (int k = 0; k < N; k++) {
                    if (before[k] == PIN_LIVE && p[k].state == PIN_EXPIRED) {
                        assert_true(now >= taken_at[k] + 40);
                        expired_at[k] = now;
                    }
                    if (before[k] == PIN_EXPIRED && p[k].state == PIN_FREE)
                        assert_true(now >= expired_at[k] + 40);
                }
            }
            }
            uint32_t counted = 0;
            for (int k = 0; k < N; k++)
                counted += p[k].state != PIN_FREE;
            assert_int_equal(counted, a.held);
            assert_true(a.held <= a.limit);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_quota, reset),
        cmocka_unit_test_setup(test_lease_and_quarantine, reset),
        cmocka_unit_test_setup(test_expire_sweep, reset),
        cmocka_unit_test_setup(test_leaking_driver, reset),
        cmocka_unit_test_setup(test_close, reset),
        cmocka_unit_test_setup(test_abandon, reset),
        cmocka_unit_test_setup(test_bad_arguments, reset),
        cmocka_unit_test_setup(test_random_against_model, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
