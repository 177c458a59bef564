/* Host tests for memobj/clock.c: second-chance order, pages leaving the
 * ring from inside the callbacks, writebacks, the scan bound, and a random
 * workload checked against a model of the ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memobj/clock.h"

#define N 64

struct world {
    struct clock c;
    struct cache_page pages[N];
    bool on[N];
    bool referenced[N]; /* "accessed bit" */
    bool dirty[N];
    bool busy[N];
    unsigned order[4 * N]; /* pages offered to reclaim, in order */
    unsigned offered;
    bool drop_next_too; /* reclaim also removes the page after it */
};

static unsigned idx(struct world *w, struct cache_page *cp)
{
    return (unsigned)(cp - w->pages);
}

static bool referenced(struct cache_page *cp, void *ctx)
{
    struct world *w = ctx;
    unsigned i = idx(w, cp);
    assert_true(w->on[i]);
    bool r = w->referenced[i];
    w->referenced[i] = false;
    return r;
}

static enum clock_action reclaim(struct cache_page *cp, void *ctx, uint64_t *pages)
{
    struct world *w = ctx;
    unsigned i = idx(w, cp);
    assert_true(w->on[i]);
    if (w->offered < sizeof(w->order) / sizeof(w->order[0]))
        w->order[w->offered++] = i;
    if (w->busy[i])
        return CLOCK_SKIP;
    if (w->dirty[i]) {
        w->dirty[i] = false; /* the write starts; the page is clean once done */
        w->busy[i] = true;
        return CLOCK_WRITING;
    }
    if (w->drop_next_too) {
        unsigned j = idx(w, cp->lru_next);
        if (j != i) {
            clock_remove(&w->c, cp->lru_next);
            w->on[j] = false;
            *pages = 2;
        }
    }
    clock_remove(&w->c, cp);
    w->on[i] = false;
    return CLOCK_FREED;
}

static struct clock_ops ops_of(struct world *w)
{
    return (struct clock_ops){.referenced = referenced, .reclaim = reclaim, .ctx = w};
}

static struct world *world_new(unsigned n)
{
    struct world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    clock_init(&w->c);
    for (unsigned i = 0; i < n; i++) {
        w->pages[i].page = i;
        clock_insert(&w->c, &w->pages[i]);
        w->on[i] = true;
    }
    return w;
}

/* Walk the ring: every page on it once, links consistent, count right. */
static void check_ring(struct world *w)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < N; i++)
        n += w->on[i];
    assert_int_equal(w->c.pages, n);
    if (n == 0) {
        assert_null(w->c.hand);
        return;
    }
    struct cache_page *cp = w->c.hand;
    uint64_t seen = 0;
    do {
        assert_true(w->on[idx(w, cp)]);
        assert_ptr_equal(cp->lru_next->lru_prev, cp);
        cp = cp->lru_next;
        seen++;
        assert_true(seen <= n);
    } while (cp != w->c.hand);
    assert_int_equal(seen, n);
}

static void test_empty(void **state)
{
    (void)state;
    struct world *w = world_new(0);
    struct clock_ops ops = ops_of(w);
    struct clock_result r;
    clock_scan(&w->c, 10, 100, &ops, &r);
    assert_int_equal(r.scanned, 0);
    check_ring(w);
    free(w);
}

/* Unreferenced pages go in insertion order (FIFO when nothing is used). */
static void test_fifo(void **state)
{
    (void)state;
    struct world *w = world_new(8);
    struct clock_ops ops = ops_of(w);
    struct clock_result r;
    clock_scan(&w->c, 3, 100, &ops, &r);
    assert_int_equal(r.freed, 3);
    assert_int_equal(w->order[0], 0);
    assert_int_equal(w->order[1], 1);
    assert_int_equal(w->order[2], 2);
    check_ring(w);
    free(w);
}

/* A referenced page is passed over once (its bit cleared) and taken on the
 * next sweep if not used again. */
static void test_second_chance(void **state)
{
    (void)state;
    struct world *w = world_new(4);
    w->referenced[0] = w->referenced[1] = true;
    struct clock_ops ops = ops_of(w);
    struct clock_result r;
    clock_scan(&w->c, 1, 100, &ops, &r);
    assert_int_equal(r.freed, 1);
    assert_int_equal(r.referenced, 2);
    assert_int_equal(w->order[0], 2);
    assert_false(w->referenced[0]);
    /* Used again: 0 keeps its place, 1 goes after 3. */
    w->referenced[0] = true;
    clock_scan(&w->c, 2, 100, &ops, &r);
    assert_int_equal(r.freed, 2);
    assert_int_equal(w->order[1], 3);
    assert_int_equal(w->order[2], 1);
    assert_true(w->on[0]);
    check_ring(w);
    free(w);
}

/* Every page used: one sweep clears all bits, the second takes pages. */
static void test_all_referenced(void **state)
{
    (void)state;
    struct world *w = world_new(16);
    for (unsigned i = 0; i < 16; i++)
        w->referenced[i] = true;
    struct clock_ops ops = ops_of(w);
    struct clock_result r;
    clock_scan(&w->c, 1, 16, &ops, &r); /* the bound stops it after one sweep */
    assert_int_equal(r.freed, 0);
    assert_int_equal(r.scanned, 16);
    clock_scan(&w->c, 1, 16, &ops, &r);
    assert_int_equal(r.freed, 1);
    assert_int_equal(w->order[0], 0);
    check_ring(w);
    free(w);
}

/* Dirty pages start writing and stay; busy ones are skipped; once clean
 * and idle a later sweep frees them. */
static void test_dirty_and_busy(void **state)
{
    (void)state;
    struct world *w = world_new(4);
    w->dirty[0] = true;
    w->busy[1] = true;
    struct clock_ops ops = ops_of(w);
    struct clock_result r;
    clock_scan(&w->c, 2, 100, &ops, &r);
    assert_int_equal(r.writing, 1);
    assert_int_equal(r.skipped, 1);
    assert_int_equal(r.freed, 1); /* page 2 */
    assert_true(w->on[0] && w->on[1] && !w->on[2]);
    w->busy[0] = w->busy[1] = false; /* the write completed */
    clock_scan(&w->c, 3, 100, &ops, &r);
    assert_int_equal(r.freed, 3);
    check_ring(w);
    free(w);
}

/* reclaim may take more pages than the one offered (a run), including
 * the one the hand points at next; the pages it says it took all count
 * toward what the scan wants. */
static void test_remove_in_callback(void **state)
{
    (void)state;
    struct world *w = world_new(10);
    w->drop_next_too = true;
    struct clock_ops ops = ops_of(w);
    struct clock_result r;
    clock_scan(&w->c, 3, 100, &ops, &r);
    assert_int_equal(r.freed, 4); /* two offers of two pages each */
    assert_int_equal(r.scanned, 2);
    assert_int_equal(w->order[0], 0);
    assert_int_equal(w->order[1], 2);
    for (unsigned i = 0; i < 4; i++)
        assert_false(w->on[i]);
    assert_true(w->on[4]);
    check_ring(w);
    /* Down to one page, then none. */
    clock_scan(&w->c, 100, 100, &ops, &r);
    assert_int_equal(w->c.pages, 0);
    assert_null(w->c.hand);
    free(w);
}

/* New pages enter just behind the hand: looked at last. */
static void test_insert_behind_hand(void **state)
{
    (void)state;
    struct world *w = world_new(4);
    struct clock_ops ops = ops_of(w);
    struct clock_result r;
    clock_scan(&w->c, 1, 100, &ops, &r); /* 0 goes; hand at 1 */
    w->pages[10].page = 10;
    clock_insert(&w->c, &w->pages[10]);
    w->on[10] = true;
    clock_scan(&w->c, 4, 100, &ops, &r);
    assert_int_equal(w->order[1], 1);
    assert_int_equal(w->order[2], 2);
    assert_int_equal(w->order[3], 3);
    assert_int_equal(w->order[4], 10);
    check_ring(w);
    free(w);
}

/* Random inserts, removals, references and scans against the ring's own
 * invariants; every page offered was on the ring and unreferenced. */
static void test_random(void **state)
{
    (void)state;
    struct world *w = world_new(0);
    struct clock_ops ops = ops_of(w);
    srand(12345);
    for (unsigned step = 0; step < 20000; step++) {
        unsigned i = (unsigned)rand() % N;
        switch (rand() % 5) {
        case 0:
            if (!w->on[i]) {
                w->pages[i].page = i;
                clock_insert(&w->c, &w->pages[i]);
                w->on[i] = true;
            }
            break;
        case 1:
            if (w->on[i]) {
                clock_remove(&w->c, &w->pages[i]);
                w->on[i] = false;
            }
            break;
        case 2:
            w->referenced[i] = true;
            break;
        case 3:
            w->dirty[i] = rand() % 4 == 0;
            w->busy[i] = false;
            break;
        default: {
            struct clock_result r;
            w->offered = 0;
            clock_scan(&w->c, (uint64_t)(rand() % 4), (uint64_t)(rand() % (2 * N)), &ops, &r);
            assert_true(r.scanned == r.referenced + r.freed + r.writing + r.skipped);
            break;
        }
        }
        check_ring(w);
    }
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_second_chance),
        cmocka_unit_test(test_all_referenced),
        cmocka_unit_test(test_dirty_and_busy),
        cmocka_unit_test(test_remove_in_callback),
        cmocka_unit_test(test_insert_behind_hand),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
