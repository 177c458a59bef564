/* Host tests for memobj/page_cache.c.
 *
 * All memory goes through a fake allocator that puts a header in front of
 * every block (size, magic), checks every free against it, fills fresh blocks
 * with garbage, counts calls and can fail the Nth allocation. The accounting
 * invariant checked everywhere: bytes outstanding == node bytes + one record
 * per page + one rmap entry per mapping; and the node count equals what a
 * minimal-height 64-way radix tree over the cached pages must have. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memobj/page_cache.h"

#define NODE_BYTES (8 + 64 * sizeof(void *))
#define REC_BYTES  sizeof(struct cache_page)
#define RMAP_BYTES sizeof(struct rmap_entry)
#define TOP        (PC_PAGE_LIMIT - 1)

/* ---- fake allocator --------------------------------------------------- */

#define FA_MAGIC 0x5041474543414348ull

struct fa_hdr {
    uint64_t magic;
    uint64_t size;
};

struct fake_alloc {
    uint64_t calls;  /* alloc calls, failed ones included */
    uint64_t allocs; /* successful */
    uint64_t frees;
    uint64_t bytes;  /* outstanding */
    int64_t fail_in; /* < 0: never; 0: fail the next call; n: after n more */
    bool fail_sticky;
};

static void *fa_alloc(size_t size, void *ctx)
{
    struct fake_alloc *fa = ctx;
    fa->calls++;
    if (fa->fail_in == 0) {
        if (!fa->fail_sticky)
            fa->fail_in = -1;
        return NULL;
    }
    if (fa->fail_in > 0)
        fa->fail_in--;
    struct fa_hdr *h = malloc(sizeof *h + size);
    assert_non_null(h);
    h->magic = FA_MAGIC;
    h->size = size;
    memset(h + 1, 0xa5, size);
    fa->allocs++;
    fa->bytes += size;
    return h + 1;
}

static void fa_free(void *p, size_t size, void *ctx)
{
    struct fake_alloc *fa = ctx;
    assert_non_null(p);
    struct fa_hdr *h = (struct fa_hdr *)p - 1;
    assert_true(h->magic == FA_MAGIC);
    assert_int_equal(h->size, size);
    assert_true(fa->bytes >= size);
    h->magic = 0;
    memset(p, 0x5a, size);
    fa->frees++;
    fa->bytes -= size;
    free(h);
}

struct fixture {
    struct fake_alloc fa;
    struct page_cache pc;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->fa.fail_in = -1;
    struct page_cache_ops ops = {fa_alloc, fa_free, &f->fa};
    page_cache_init(&f->pc, &ops);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    f->fa.fail_in = -1;
    page_cache_destroy(&f->pc, NULL, NULL);
    assert_int_equal(f->fa.bytes, 0);
    assert_int_equal(f->fa.allocs, f->fa.frees);
    free(f);
    return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static struct cache_page *ins(struct page_cache *pc, uint64_t page)
{
    struct cache_page *cp = NULL;
    assert_int_equal(page_cache_insert(pc, page, page * 4096 + 0x80000000ull, 0, &cp), PC_OK);
    assert_non_null(cp);
    return cp;
}

static uint64_t total_mappings(struct page_cache *pc);

/* Nodes of a minimal-height 64-way radix tree over pages[0..n) (sorted). */
static uint64_t expected_nodes(const uint64_t *pages, size_t n)
{
    if (!n)
        return 0;
    unsigned h = 1;
    while (pages[n - 1] >> (6 * h))
        h++;
    uint64_t nodes = 0;
    for (unsigned level = 1; level <= h; level++) {
        unsigned sh = 6 * level;
        for (size_t i = 0; i < n; i++)
            if (i == 0 || (pages[i] >> sh) != (pages[i - 1] >> sh))
                nodes++;
    }
    return nodes;
}

struct collect {
    uint64_t *pages;
    size_t n, cap;
};

static bool collect_cb(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    struct collect *c = ctx;
    assert_ptr_equal(page_cache_lookup(pc, page), cp);
    assert_int_equal(cp->page, page);
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->pages = realloc(c->pages, c->cap * sizeof *c->pages);
        assert_non_null(c->pages);
    }
    c->pages[c->n++] = page;
    return true;
}

static struct collect all_pages(struct page_cache *pc)
{
    struct collect c = {0};
    assert_int_equal(page_cache_range(pc, 0, UINT64_MAX, collect_cb, &c), PC_OK);
    return c;
}

static uint64_t total_mappings(struct page_cache *pc)
{
    struct collect c = all_pages(pc);
    uint64_t m = 0;
    for (size_t i = 0; i < c.n; i++)
        m += page_cache_lookup(pc, c.pages[i])->mapcount;
    free(c.pages);
    return m;
}

/* Accounting and shape invariants. */
static void check_invariants(struct page_cache *pc, struct fake_alloc *fa)
{
    struct collect c = all_pages(pc);
    assert_int_equal(c.n, page_cache_count(pc));
    for (size_t i = 1; i < c.n; i++)
        assert_true(c.pages[i - 1] < c.pages[i]);
    uint64_t maps = 0;
    for (size_t i = 0; i < c.n; i++) {
        struct cache_page *cp = page_cache_lookup(pc, c.pages[i]);
        uint32_t n = 0;
        for (struct rmap_entry *e = cp->rmap; e; e = e->next)
            n++;
        assert_int_equal(n, cp->mapcount);
        maps += n;
    }
    assert_int_equal(page_cache_node_bytes(pc), pc->nodes * NODE_BYTES);
    assert_int_equal(pc->nodes, expected_nodes(c.pages, c.n));
    assert_int_equal(fa->bytes, page_cache_node_bytes(pc) + c.n * REC_BYTES + maps * RMAP_BYTES);
    free(c.pages);
}

/* A byte dump of everything observable, for "state unchanged" checks. */
struct dump {
    char *buf;
    size_t len, cap;
};

static void dump_put(struct dump *d, const void *p, size_t n)
{
    if (d->len + n > d->cap) {
        d->cap = (d->len + n) * 2 + 256;
        d->buf = realloc(d->buf, d->cap);
        assert_non_null(d->buf);
    }
    memcpy(d->buf + d->len, p, n);
    d->len += n;
}

static bool dump_cb(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    (void)pc;
    struct dump *d = ctx;
    dump_put(d, &page, sizeof page);
    dump_put(d, &cp, sizeof cp);
    dump_put(d, cp, sizeof *cp);
    for (struct rmap_entry *e = cp->rmap; e; e = e->next)
        dump_put(d, e, sizeof *e);
    return true;
}

static struct dump take_dump(struct page_cache *pc)
{
    struct dump d = {0};
    dump_put(&d, pc, sizeof *pc);
    assert_int_equal(page_cache_range(pc, 0, UINT64_MAX, dump_cb, &d), PC_OK);
    return d;
}

static void assert_same_dump(struct dump *a, struct dump *b)
{
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->buf, b->buf, a->len);
}

/* ---- basic operations ------------------------------------------------- */

static void test_strerror(void **state)
{
    (void)state;
    for (int e = 0; e < PC_ERR_COUNT; e++) {
        assert_non_null(pc_strerror(e));
        assert_string_not_equal(pc_strerror(e), "unknown page cache error");
    }
    assert_string_equal(pc_strerror(PC_ERR_COUNT), "unknown page cache error");
    assert_string_equal(pc_strerror((enum pc_err) - 1), "unknown page cache error");
}

static bool never_cb(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    (void)pc, (void)page, (void)cp, (void)ctx;
    fail_msg("visited page %llu of an empty range", (unsigned long long)page);
    return true;
}

static void test_empty(void **state)
{
    struct fixture *f = *state;
    struct page_cache *pc = &f->pc;
    uint64_t pa = 7;
    assert_int_equal(page_cache_count(pc), 0);
    assert_int_equal(page_cache_node_bytes(pc), 0);
    assert_null(page_cache_lookup(pc, 0));
    assert_null(page_cache_lookup(pc, TOP));
    assert_null(page_cache_lookup(pc, UINT64_MAX));
    assert_int_equal(page_cache_remove(pc, 0, 0, &pa), PC_ERR_NOT_FOUND);
    assert_int_equal(page_cache_remove(pc, PC_PAGE_LIMIT, 0, &pa), PC_ERR_RANGE);
    assert_int_equal(pa, 7);
    assert_int_equal(page_cache_range(pc, 0, UINT64_MAX, never_cb, NULL), PC_OK);
    assert_int_equal(page_cache_range(pc, 5, 4, never_cb, NULL), PC_ERR_RANGE);
    page_cache_destroy(pc, NULL, NULL);
    assert_int_equal(f->fa.calls, 0);
}

static void test_insert_lookup(void **state)
{
    struct fixture *f = *state;
    struct page_cache *pc = &f->pc;
    struct cache_page *cp = NULL, *other = NULL;

    assert_int_equal(
        page_cache_insert(pc, 5, 0x81234000, PC_DIRTY | (3u << PC_FLAG_USER_SHIFT), &cp), PC_OK);
    assert_non_null(cp);
    assert_int_equal(cp->pa, 0x81234000);
    assert_int_equal(cp->flags, PC_DIRTY | (3u << PC_FLAG_USER_SHIFT));
    assert_int_equal(cp->mapcount, 0);
    assert_null(cp->rmap);
    assert_int_equal(cp->page, 5);
    assert_int_equal(cp->age, 0);
    assert_int_equal(cp->user32, 0);
    assert_null(cp->owner);
    assert_null(cp->lru_prev);
    assert_null(cp->lru_next);
    assert_ptr_equal(page_cache_lookup(pc, 5), cp);
    assert_null(page_cache_lookup(pc, 4));
    assert_null(page_cache_lookup(pc, 6));
    assert_null(page_cache_lookup(pc, 5 + 64));
    assert_int_equal(page_cache_count(pc), 1);
    assert_int_equal(page_cache_node_bytes(pc), NODE_BYTES);

    /* EXISTS hands back the existing record and changes nothing. */
    uint64_t calls = f->fa.calls;
    assert_int_equal(page_cache_insert(pc, 5, 0x9000, 0, &other), PC_ERR_EXISTS);
    assert_ptr_equal(other, cp);
    assert_int_equal(cp->pa, 0x81234000);
    assert_int_equal(f->fa.calls, calls);
    assert_int_equal(page_cache_insert(pc, 5, 0x9000, 0, NULL), PC_ERR_EXISTS);

    /* RANGE. */
    other = (void *)1;
    assert_int_equal(page_cache_insert(pc, PC_PAGE_LIMIT, 0, 0, &other), PC_ERR_RANGE);
    assert_int_equal(page_cache_insert(pc, UINT64_MAX, 0, 0, &other), PC_ERR_RANGE);
    assert_ptr_equal(other, (void *)1);
    assert_int_equal(f->fa.calls, calls);

    /* out may be NULL. */
    assert_int_equal(page_cache_insert(pc, 6, 0x6000, 0, NULL), PC_OK);
    assert_int_equal(page_cache_lookup(pc, 6)->pa, 0x6000);

    /* The caller's fields survive other operations. */
    cp->age = 77;
    cp->user32 = 0xdeadbeef;
    cp->owner = f;
    cp->lru_prev = cp->lru_next = cp;
    cp->flags |= PC_FLAGS_USER;
    for (uint64_t p = 100; p < 5000; p += 7)
        ins(pc, p);
    for (uint64_t p = 100; p < 5000; p += 14)
        assert_int_equal(page_cache_remove(pc, p, 0, NULL), PC_OK);
    assert_ptr_equal(page_cache_lookup(pc, 5), cp);
    assert_int_equal(cp->age, 77);
    assert_int_equal(cp->user32, 0xdeadbeef);
    assert_ptr_equal(cp->owner, f);
    assert_ptr_equal(cp->lru_prev, cp);
    assert_true((cp->flags & PC_FLAGS_USER) == PC_FLAGS_USER);
    check_invariants(pc, &f->fa);
}

static void test_remove(void **state)
{
    struct fixture *f = *state;
    struct page_cache *pc = &f->pc;
    uint64_t pa = 0;

    struct cache_page *cp = ins(pc, 10);
    ins(pc, 11);
    assert_int_equal(page_cache_remove(pc, 12, 0, &pa), PC_ERR_NOT_FOUND);
    assert_int_equal(page_cache_remove(pc, 10 + 64, 0, &pa), PC_ERR_NOT_FOUND);
    assert_int_equal(page_cache_remove(pc, 1u << 20, 0, &pa), PC_ERR_NOT_FOUND);
    assert_int_equal(page_cache_remove(pc, PC_PAGE_LIMIT, PC_REMOVE_FORCE, &pa), PC_ERR_RANGE);
    assert_int_equal(pa, 0);

    /* Mapped: BUSY until the rmap is cleared. */
    assert_int_equal(page_cache_rmap_add(pc, cp, (void *)0x1, 0x4000), PC_OK);
    assert_int_equal(page_cache_remove(pc, 10, 0, &pa), PC_ERR_BUSY);
    assert_int_equal(page_cache_rmap_clear(pc, cp, NULL, NULL), 1);
    /* Pinned, busy: BUSY until the flag goes. */
    cp->flags |= PC_PINNED;
    assert_int_equal(page_cache_remove(pc, 10, 0, &pa), PC_ERR_BUSY);
    cp->flags = PC_BUSY;
    assert_int_equal(page_cache_remove(pc, 10, 0, &pa), PC_ERR_BUSY);
    /* Dirty and user flags do not stop a removal. */
    cp->flags = PC_DIRTY | PC_FLAGS_USER;
    assert_int_equal(pa, 0);
    assert_ptr_equal(page_cache_lookup(pc, 10), cp);
    assert_int_equal(page_cache_remove(pc, 10, 0, &pa), PC_OK);
    assert_int_equal(pa, 10 * 4096 + 0x80000000ull);
    assert_null(page_cache_lookup(pc, 10));
    assert_int_equal(page_cache_remove(pc, 10, 0, &pa), PC_ERR_NOT_FOUND);

    /* FORCE: mapped, pinned and busy, rmap entries freed without callbacks. */
    cp = page_cache_lookup(pc, 11);
    for (int i = 0; i < 5; i++)
        assert_int_equal(page_cache_rmap_add(pc, cp, (void *)(uintptr_t)(i + 1), 0x1000), PC_OK);
    cp->flags = PC_PINNED | PC_BUSY;
    assert_int_equal(page_cache_remove(pc, 11, 0, NULL), PC_ERR_BUSY);
    assert_int_equal(page_cache_remove(pc, 11, PC_REMOVE_FORCE, NULL), PC_OK);
    assert_int_equal(page_cache_count(pc), 0);
    assert_int_equal(f->fa.bytes, 0);
    assert_int_equal(pc->height, 0);
    assert_null(pc->root);
}

/* ---- sparse, huge indices ---------------------------------------------- */

static void test_sparse_huge(void **state)
{
    struct fixture *f = *state;
    struct page_cache *pc = &f->pc;
    const uint64_t p40 = (uint64_t)1 << 40;

    /* A lone top page: one node per level, 9 levels. */
    struct cache_page *top = ins(pc, TOP);
    assert_int_equal(pc->height, 9);
    assert_int_equal(pc->nodes, 9);
    assert_ptr_equal(page_cache_lookup(pc, TOP), top);
    assert_null(page_cache_lookup(pc, TOP - 1));
    assert_null(page_cache_lookup(pc, 0));
    assert_null(page_cache_lookup(pc, PC_PAGE_LIMIT));
    assert_int_equal(page_cache_remove(pc, TOP, 0, NULL), PC_OK);
    assert_int_equal(pc->nodes, 0);
    assert_int_equal(f->fa.bytes, 0);

    /* Grow from page 0 through 2^40 to the top, then shrink back. */
    struct cache_page *zero = ins(pc, 0);
    assert_int_equal(pc->height, 1);
    assert_int_equal(pc->nodes, 1);
    struct cache_page *mid = ins(pc, p40);
    assert_int_equal(pc->height, 7); /* 64^7 = 2^42 > 2^40 */
    assert_int_equal(pc->nodes, 7 + 6);
    top = ins(pc, TOP);
    assert_int_equal(pc->height, 9);
    assert_int_equal(pc->nodes, 13 + 2 + 8); /* two new roots, 8 new below the top */
    check_invariants(pc, &f->fa);
    assert_ptr_equal(page_cache_lookup(pc, 0), zero);
    assert_ptr_equal(page_cache_lookup(pc, p40), mid);
    assert_ptr_equal(page_cache_lookup(pc, TOP), top);
    assert_null(page_cache_lookup(pc, p40 - 1));
    assert_null(page_cache_lookup(pc, p40 + 1));
    assert_null(page_cache_lookup(pc, 1));

    struct collect c = all_pages(pc);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.pages[0], 0);
    assert_int_equal(c.pages[1], p40);
    assert_int_equal(c.pages[2], TOP);
    free(c.pages);
    c = (struct collect){0};
    assert_int_equal(page_cache_range(pc, 1, TOP, collect_cb, &c), PC_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.pages[0], p40);
    free(c.pages);

    assert_int_equal(page_cache_remove(pc, TOP, 0, NULL), PC_OK);
    assert_int_equal(pc->height, 7);
    check_invariants(pc, &f->fa);
    assert_int_equal(page_cache_remove(pc, p40, 0, NULL), PC_OK);
    assert_int_equal(pc->height, 1);
    assert_int_equal(pc->nodes, 1);
    assert_ptr_equal(page_cache_lookup(pc, 0), zero);
    assert_int_equal(page_cache_remove(pc, 0, 0, NULL), PC_OK);
    assert_int_equal(pc->height, 0);
    assert_int_equal(f->fa.bytes, 0);

    /* Removing the low page of a tall tree leaves it as tall as the high one
     * needs. */
    ins(pc, 0);
    ins(pc, TOP);
    assert_int_equal(page_cache_remove(pc, 0, 0, NULL), PC_OK);
    assert_int_equal(pc->height, 9);
    assert_int_equal(pc->nodes, 9);
    check_invariants(pc, &f->fa);

    /* Every power of two and its neighbours. */
    for (unsigned b = 0; b < 52; b++) {
        uint64_t p = (uint64_t)1 << b;
        for (int d = -1; d <= 1; d++) {
            if (!page_cache_lookup(pc, p + d))
                ins(pc, p + d);
        }
    }
    check_invariants(pc, &f->fa);
    for (unsigned b = 0; b < 52; b++)
        assert_non_null(page_cache_lookup(pc, ((uint64_t)1 << b) + 1));
}

/* ---- range walks -------------------------------------------------------- */

struct stopper {
    struct collect c;
    size_t stop_after;
};

static bool stop_cb(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    struct stopper *s = ctx;
    collect_cb(pc, page, cp, &s->c);
    return s->c.n < s->stop_after;
}

static void test_range(void **state)
{
    struct fixture *f = *state;
    struct page_cache *pc = &f->pc;
    static const uint64_t pages[] = {
        0,        1,  63, 64, 65, 127, 128, 4095, 4096, 262143, 262144, 1000000, (uint64_t)1 << 40,
        TOP - 64, TOP};
    const size_t n = sizeof pages / sizeof pages[0];
    for (size_t i = n; i--;)
        ins(pc, pages[i]);
    check_invariants(pc, &f->fa);

    /* Every [first, last) over interesting bounds against a filter. */
    uint64_t bounds[64];
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        bounds[nb++] = pages[i];
        bounds[nb++] = pages[i] + 1;
        if (pages[i])
            bounds[nb++] = pages[i] - 1;
    }
    bounds[nb++] = PC_PAGE_LIMIT;
    bounds[nb++] = UINT64_MAX;
    for (size_t a = 0; a < nb; a++)
        for (size_t b = 0; b < nb; b++) {
            struct collect c = {0};
            enum pc_err e = page_cache_range(pc, bounds[a], bounds[b], collect_cb, &c);
            if (bounds[a] > bounds[b]) {
                assert_int_equal(e, PC_ERR_RANGE);
                assert_int_equal(c.n, 0);
                continue;
            }
            assert_int_equal(e, PC_OK);
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (pages[i] >= bounds[a] && pages[i] < bounds[b]) {
                    assert_true(k < c.n);
                    assert_int_equal(c.pages[k++], pages[i]);
                }
            assert_int_equal(k, c.n);
            free(c.pages);
        }

    /* The visitor can stop the walk. */
    struct stopper s = {{0}, 4};
    assert_int_equal(page_cache_range(pc, 1, UINT64_MAX, stop_cb, &s), PC_OK);
    assert_int_equal(s.c.n, 4);
    assert_int_equal(s.c.pages[3], 65);
    free(s.c.pages);
}

/* Truncate: drop every page >= from, clearing each one's rmap first. */
struct truncate_ctx {
    uint64_t from;
    uint64_t visited, unmapped;
    uint64_t last;
};

static void count_unmap(struct cache_page *cp, void *aspace, uint64_t va, void *ctx)
{
    (void)cp, (void)aspace, (void)va;
    ((struct truncate_ctx *)ctx)->unmapped++;
}

static bool truncate_cb(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    struct truncate_ctx *t = ctx;
    assert_true(page >= t->from);
    assert_true(t->visited == 0 || page > t->last);
    t->last = page;
    t->visited++;
    page_cache_rmap_clear(pc, cp, count_unmap, t);
    uint64_t pa;
    assert_int_equal(page_cache_remove(pc, page, 0, &pa), PC_OK);
    assert_int_equal(pa, page * 4096 + 0x80000000ull);
    return true;
}

static void test_truncate(void **state)
{
    struct fixture *f = *state;
    struct page_cache *pc = &f->pc;
    /* Dense 0..2999 plus sparse pages at huge indices, two mappings each. */
    uint64_t extra[] = {4096, 262144, (uint64_t)1 << 30, (uint64_t)1 << 40, TOP};
    for (uint64_t p = 0; p < 3000; p++) {
        struct cache_page *cp = ins(pc, p);
        assert_int_equal(page_cache_rmap_add(pc, cp, (void *)0x10, p << 12), PC_OK);
        assert_int_equal(page_cache_rmap_add(pc, cp, (void *)0x20, p << 12), PC_OK);
    }
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        ins(pc, extra[i]);
    check_invariants(pc, &f->fa);

    static const uint64_t cuts[] = {(uint64_t)1 << 40, 262145, 2500, 1000, 64, 63, 1, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        uint64_t before = page_cache_count(pc);
        struct truncate_ctx t = {.from = cuts[i]};
        assert_int_equal(page_cache_range(pc, cuts[i], UINT64_MAX, truncate_cb, &t), PC_OK);
        assert_int_equal(page_cache_count(pc), before - t.visited);
        struct collect c = all_pages(pc);
        if (c.n)
            assert_true(c.pages[c.n - 1] < cuts[i]);
        free(c.pages);
        check_invariants(pc, &f->fa);
    }
    assert_int_equal(page_cache_count(pc), 0);
    assert_int_equal(f->fa.bytes, 0);
}

/* A visitor that rewrites the cache around it: removes the next page, adds
 * one three pages ahead, inserts below itself (not visited). The walk must
 * visit exactly the lowest cached page above the previous one each time. */
struct churn {
    uint64_t prev;
    bool started;
    uint64_t visits;
};

static bool churn_cb(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    struct churn *c = ctx;
    (void)cp;
    if (c->started) {
        assert_true(page > c->prev);
        for (uint64_t p = c->prev + 1; p < page; p++)
            assert_null(page_cache_lookup(pc, p));
    }
    c->started = true;
    c->prev = page;
    c->visits++;
    if (page % 3 == 0)
        page_cache_remove(pc, page + 1, 0, NULL);
    if (page % 5 == 0 && page + 3 < 2000 && !page_cache_lookup(pc, page + 3))
        ins(pc, page + 3);
    if (page >= 10 && !page_cache_lookup(pc, page - 10))
        ins(pc, page - 10);
    if (page % 7 == 0)
        assert_int_equal(page_cache_remove(pc, page, 0, NULL), PC_OK);
    return true;
}

static void test_range_visitor_modifies(void **state)
{
    struct fixture *f = *state;
    struct page_cache *pc = &f->pc;
    for (uint64_t p = 0; p < 2000; p += 2)
        ins(pc, p);
    struct churn c = {0};
    assert_int_equal(page_cache_range(pc, 0, 2000, churn_cb, &c), PC_OK);
    assert_true(c.visits > 1000);
    check_invariants(pc, &f->fa);
}

/* ---- reverse map -------------------------------------------------------- */

struct rmap_seen {
    void *aspace[4096];
    uint64_t va[4096];
    uint32_t n;
    uint32_t stop_after;
};

static bool rmap_walk_cb(struct cache_page *cp, void *aspace, uint64_t va, void *ctx)
{
    (void)cp;
    struct rmap_seen *s = ctx;
    s->aspace[s->n] = aspace;
    s->va[s->n++] = va;
    return s->n < s->stop_after;
}

static void rmap_clear_cb(struct cache_page *cp, void *aspace, uint64_t va, void *ctx)
{
    struct rmap_seen *s = ctx;
    assert_null(cp->rmap);
    assert_int_equal(cp->mapcount, 0);
    s->aspace[s->n] = aspace;
    s->va[s->n++] = va;
}

static void *space(unsigned i)
{
    return (void *)(uintptr_t)(0x1000 * (i + 1));
}

static void test_rmap(void **state)
{
    struct fixture *f = *state;
    struct page_cache *pc = &f->pc;
    struct rmap_seen *s = calloc(1, sizeof *s);
    assert_non_null(s);
    struct cache_page *cp = ins(pc, 42);
    struct cache_page *other = ins(pc, 43);

    /* 300 spaces, the page at two addresses in each: counts twice. */
    for (unsigned i = 0; i < 300; i++) {
        assert_int_equal(page_cache_rmap_add(pc, cp, space(i), 0x10000), PC_OK);
        assert_int_equal(page_cache_rmap_add(pc, cp, space(i), 0x20000 + i * 0x1000), PC_OK);
    }
    assert_int_equal(page_cache_rmap_add(pc, other, space(0), 0x10000), PC_OK);
    assert_int_equal(cp->mapcount, 600);
    check_invariants(pc, &f->fa);

    /* Walk: newest first, early stop. */
    s->stop_after = UINT32_MAX;
    assert_int_equal(page_cache_rmap_walk(cp, rmap_walk_cb, s), 600);
    assert_int_equal(s->n, 600);
    for (unsigned i = 0; i < 300; i++) {
        assert_ptr_equal(s->aspace[2 * i], space(299 - i));
        assert_int_equal(s->va[2 * i], 0x20000 + (299 - i) * 0x1000);
        assert_ptr_equal(s->aspace[2 * i + 1], space(299 - i));
        assert_int_equal(s->va[2 * i + 1], 0x10000);
    }
    s->n = 0;
    s->stop_after = 3;
    assert_int_equal(page_cache_rmap_walk(cp, rmap_walk_cb, s), 3);
    assert_int_equal(s->n, 3);

    /* Remove: NOT_FOUND for an absent pair (wrong va, wrong space, other
     * page's pair), then every odd space's first mapping. */
    assert_int_equal(page_cache_rmap_remove(pc, cp, space(0), 0x30000), PC_ERR_NOT_FOUND);
    assert_int_equal(page_cache_rmap_remove(pc, cp, space(300), 0x10000), PC_ERR_NOT_FOUND);
    assert_int_equal(page_cache_rmap_remove(pc, other, space(1), 0x10000), PC_ERR_NOT_FOUND);
    assert_int_equal(cp->mapcount, 600);
    for (unsigned i = 1; i < 300; i += 2)
        assert_int_equal(page_cache_rmap_remove(pc, cp, space(i), 0x10000), PC_OK);
    assert_int_equal(cp->mapcount, 450);
    assert_int_equal(page_cache_rmap_remove(pc, cp, space(1), 0x10000), PC_ERR_NOT_FOUND);
    /* Remove the newest and the oldest entries. */
    assert_int_equal(page_cache_rmap_remove(pc, cp, space(299), 0x20000 + 299 * 0x1000), PC_OK);
    assert_int_equal(page_cache_rmap_remove(pc, cp, space(0), 0x10000), PC_OK);
    assert_int_equal(cp->mapcount, 448);
    check_invariants(pc, &f->fa);

    /* Clear: every entry once, list detached before the first call. */
    s->n = 0;
    assert_int_equal(page_cache_rmap_clear(pc, cp, rmap_clear_cb, s), 448);
    assert_int_equal(s->n, 448);
    assert_int_equal(cp->mapcount, 0);
    assert_null(cp->rmap);
    assert_int_equal(page_cache_rmap_clear(pc, cp, rmap_clear_cb, s), 0);
    assert_int_equal(page_cache_rmap_walk(cp, rmap_walk_cb, s), 0);
    assert_int_equal(other->mapcount, 1);
    check_invariants(pc, &f->fa);

    /* Duplicate pairs are separate entries, removed one at a time. */
    assert_int_equal(page_cache_rmap_add(pc, cp, space(5), 0x5000), PC_OK);
    assert_int_equal(page_cache_rmap_add(pc, cp, space(5), 0x5000), PC_OK);
    assert_int_equal(cp->mapcount, 2);
    assert_int_equal(page_cache_rmap_remove(pc, cp, space(5), 0x5000), PC_OK);
    assert_int_equal(page_cache_rmap_remove(pc, cp, space(5), 0x5000), PC_OK);
    assert_int_equal(page_cache_rmap_remove(pc, cp, space(5), 0x5000), PC_ERR_NOT_FOUND);
    assert_int_equal(cp->mapcount, 0);

    /* Many pages, many spaces, cleared page by page. */
    for (uint64_t p = 1000; p < 1100; p++) {
        struct cache_page *q = ins(pc, p);
        for (unsigned i = 0; i < 40; i++)
            assert_int_equal(page_cache_rmap_add(pc, q, space(i), p << 12), PC_OK);
    }
    check_invariants(pc, &f->fa);
    for (uint64_t p = 1000; p < 1100; p++) {
        s->n = 0;
        assert_int_equal(page_cache_rmap_clear(pc, page_cache_lookup(pc, p), NULL, NULL), 40);
        assert_int_equal(page_cache_remove(pc, p, 0, NULL), PC_OK);
    }
    check_invariants(pc, &f->fa);
    free(s);
}

/* ---- allocation failure at every point --------------------------------- */

enum op_kind { OP_INSERT, OP_RMAP_ADD };

/* Runs op with the k-th allocation failing for k = 0, 1, ... until it
 * succeeds; every failure must be NO_MEMORY with the state unchanged.
 * Returns the number of allocation points. */
static unsigned fail_everywhere(struct fixture *f, enum op_kind kind, uint64_t page, void *aspace)
{
    struct page_cache *pc = &f->pc;
    for (unsigned k = 0;; k++) {
        struct dump before = take_dump(pc);
        uint64_t bytes = f->fa.bytes, allocs = f->fa.allocs, frees = f->fa.frees;
        f->fa.fail_in = k;
        enum pc_err e;
        struct cache_page *out = (void *)0x1;
        if (kind == OP_INSERT) {
            e = page_cache_insert(pc, page, 0x1000, 0, &out);
        } else {
            e = page_cache_rmap_add(pc, page_cache_lookup(pc, page), aspace, 0x2000);
        }
        bool failed_injected = f->fa.fail_in == -1;
        f->fa.fail_in = -1;
        if (e == PC_OK) {
            assert_false(failed_injected);
            free(before.buf);
            check_invariants(pc, &f->fa);
            return k;
        }
        assert_int_equal(e, PC_ERR_NO_MEMORY);
        assert_true(failed_injected);
        if (kind == OP_INSERT)
            assert_ptr_equal(out, (void *)0x1);
        assert_int_equal(f->fa.bytes, bytes);
        assert_int_equal(f->fa.allocs - allocs, f->fa.frees - frees);
        struct dump after = take_dump(pc);
        assert_same_dump(&before, &after);
        free(before.buf);
        free(after.buf);
    }
}

static void test_alloc_failure(void **state)
{
    struct fixture *f = *state;
    /* Into an empty cache at the top: record + 9 nodes. */
    assert_int_equal(fail_everywhere(f, OP_INSERT, TOP, NULL), 10);
    /* Below it, sharing only the root: record + 8 nodes. */
    assert_int_equal(fail_everywhere(f, OP_INSERT, 0, NULL), 9);
    /* Sharing the path down to the leaf: record only. */
    assert_int_equal(fail_everywhere(f, OP_INSERT, 1, NULL), 1);
    /* Sharing some levels. */
    assert_int_equal(fail_everywhere(f, OP_INSERT, (uint64_t)1 << 30, NULL), 1 + 5);
    assert_int_equal(fail_everywhere(f, OP_RMAP_ADD, 1, space(1)), 1);
    assert_int_equal(fail_everywhere(f, OP_RMAP_ADD, 1, space(2)), 1);
    /* Growth: a fresh cache, 0 then 2^40 (6 roots + 6 below + record). */
    page_cache_destroy(&f->pc, NULL, NULL);
    assert_int_equal(f->fa.bytes, 0);
    assert_int_equal(fail_everywhere(f, OP_INSERT, 0, NULL), 2);
    assert_int_equal(fail_everywhere(f, OP_INSERT, (uint64_t)1 << 40, NULL), 13);
    assert_int_equal(fail_everywhere(f, OP_INSERT, TOP, NULL), 11);
    assert_int_equal(fail_everywhere(f, OP_INSERT, 64, NULL), 2);

    assert_int_equal(fail_everywhere(f, OP_RMAP_ADD, 64, space(3)), 1);

    /* Removal never allocates, even with allocation failing for good. */
    f->fa.fail_in = 0;
    f->fa.fail_sticky = true;
    uint64_t calls = f->fa.calls;
    assert_int_equal(page_cache_rmap_clear(&f->pc, page_cache_lookup(&f->pc, 64), NULL, NULL), 1);
    assert_int_equal(page_cache_remove(&f->pc, TOP, 0, NULL), PC_OK);
    assert_int_equal(page_cache_remove(&f->pc, 64, 0, NULL), PC_OK);
    assert_int_equal(page_cache_remove(&f->pc, (uint64_t)1 << 40, 0, NULL), PC_OK);
    assert_int_equal(page_cache_insert(&f->pc, 2, 0, 0, NULL), PC_ERR_NO_MEMORY);
    assert_int_equal(f->fa.calls, calls + 1);
    f->fa.fail_sticky = false;
    f->fa.fail_in = -1;
    check_invariants(&f->pc, &f->fa);
}

/* ---- destroy ------------------------------------------------------------ */

struct destroy_ctx {
    uint64_t visits, last, maps, pa_sum;
};

static void destroy_cb(uint64_t page, struct cache_page *cp, void *ctx)
{
    struct destroy_ctx *d = ctx;
    assert_int_equal(cp->page, page);
    assert_true(d->visits == 0 || page > d->last);
    d->last = page;
    d->visits++;
    d->pa_sum += cp->pa;
    for (struct rmap_entry *e = cp->rmap; e; e = e->next)
        d->maps++;
}

static void test_destroy(void **state)
{
    struct fixture *f = *state;
    struct page_cache *pc = &f->pc;
    uint64_t x = 12345, pa_sum = 0, maps = 0;
    for (int i = 0; i < 3000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t page = (i & 1) ? (x >> 12) : (x >> 50);
        struct cache_page *cp;
        if (page_cache_insert(pc, page, page << 12, 0, &cp) == PC_OK) {
            pa_sum += page << 12;
            for (unsigned m = 0; m < (page & 3); m++, maps++)
                assert_int_equal(page_cache_rmap_add(pc, cp, space(m), page), PC_OK);
        }
    }
    check_invariants(pc, &f->fa);
    uint64_t count = page_cache_count(pc);
    assert_true(f->fa.bytes > 0);

    struct destroy_ctx d = {0};
    page_cache_destroy(pc, destroy_cb, &d);
    assert_int_equal(d.visits, count);
    assert_int_equal(d.maps, maps);
    assert_int_equal(d.pa_sum, pa_sum);
    assert_int_equal(f->fa.bytes, 0);
    assert_int_equal(f->fa.allocs, f->fa.frees);
    assert_int_equal(page_cache_count(pc), 0);
    assert_int_equal(page_cache_node_bytes(pc), 0);
    assert_null(page_cache_lookup(pc, 0));

    /* Usable again. */
    ins(pc, 77);
    ins(pc, TOP);
    check_invariants(pc, &f->fa);
    page_cache_destroy(pc, NULL, NULL);
    assert_int_equal(f->fa.bytes, 0);
}

/* ---- randomized differential test against a sorted array --------------- */

#define MODEL_CAP 8192
#define MODEL_MAP 6

struct model_page {
    uint64_t page, pa;
    uint32_t flags;
    uint32_t nmap;
    void *aspace[MODEL_MAP]; /* oldest first */
    uint64_t va[MODEL_MAP];
};

struct model {
    struct model_page **p;
    size_t n;
    uint64_t maps;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* Index of the first entry >= page. */
static size_t model_lower(const struct model *m, uint64_t page)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->p[mid]->page < page)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct model_page *model_find(struct model *m, uint64_t page)
{
    size_t i = model_lower(m, page);
    return i < m->n && m->p[i]->page == page ? m->p[i] : NULL;
}

static void model_insert(struct model *m, uint64_t page, uint64_t pa, uint32_t flags)
{
    size_t i = model_lower(m, page);
    assert_true(m->n < MODEL_CAP);
    struct model_page *mp = calloc(1, sizeof *mp);
    assert_non_null(mp);
    *mp = (struct model_page){.page = page, .pa = pa, .flags = flags};
    memmove(&m->p[i + 1], &m->p[i], (m->n - i) * sizeof *m->p);
    m->p[i] = mp;
    m->n++;
}

static void model_remove(struct model *m, uint64_t page)
{
    size_t i = model_lower(m, page);
    assert_true(i < m->n && m->p[i]->page == page);
    m->maps -= m->p[i]->nmap;
    free(m->p[i]);
    memmove(&m->p[i], &m->p[i + 1], (m->n - i - 1) * sizeof *m->p);
    m->n--;
}

static uint64_t random_page(const struct model *m)
{
    uint64_t r = rnd();
    switch (r % 10) {
    case 0:
    case 1:
    case 2:
    case 3:
        return (r >> 8) % 3000;
    case 4:
    case 5:
        return ((uint64_t)1 << 40) - 200 + (r >> 8) % 400;
    case 6:
        return TOP - (r >> 8) % 300;
    case 7:
        return (r >> 12) & TOP;
    default:
        if (m->n)
            return m->p[(r >> 8) % m->n]->page;
        return (r >> 8) % 64;
    }
}

static void compare_page(const struct model_page *mp, const struct cache_page *cp)
{
    assert_non_null(cp);
    assert_int_equal(cp->page, mp->page);
    assert_int_equal(cp->pa, mp->pa);
    assert_int_equal(cp->flags, mp->flags);
    assert_int_equal(cp->mapcount, mp->nmap);
    uint32_t k = mp->nmap;
    for (const struct rmap_entry *e = cp->rmap; e; e = e->next) {
        assert_true(k > 0);
        k--;
        assert_ptr_equal(e->aspace, mp->aspace[k]);
        assert_int_equal(e->va, mp->va[k]);
    }
    assert_int_equal(k, 0);
}

struct diff_walk {
    struct model *m;
    uint64_t pos, last;
    uint64_t visits;
    bool mutate, stopped;
};

static bool diff_walk_cb(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    struct diff_walk *w = ctx;
    struct model *m = w->m;
    size_t i = model_lower(m, w->pos);
    assert_true(i < m->n);
    assert_int_equal(page, m->p[i]->page);
    assert_true(page < w->last);
    compare_page(m->p[i], cp);
    w->pos = page + 1;
    w->visits++;
    if (w->mutate) {
        uint64_t r = rnd();
        if (r % 8 == 0) { /* truncate-style: drop the visited page */
            page_cache_rmap_clear(pc, cp, NULL, NULL);
            assert_int_equal(page_cache_remove(pc, page, PC_REMOVE_FORCE, NULL), PC_OK);
            model_remove(m, page);
        } else if (r % 8 <= 2 && m->n < MODEL_CAP - 1) { /* insert somewhere */
            uint64_t p = random_page(m);
            if (!model_find(m, p)) {
                assert_int_equal(page_cache_insert(pc, p, p ^ 0x77, 0, NULL), PC_OK);
                model_insert(m, p, p ^ 0x77, 0);
            }
        } else if (r % 8 == 3) { /* remove somewhere else */
            uint64_t p = random_page(m);
            struct model_page *mp = model_find(m, p);
            if (mp) {
                assert_int_equal(page_cache_remove(pc, p, PC_REMOVE_FORCE, NULL), PC_OK);
                model_remove(m, p);
            }
        }
    }
    w->stopped = (rnd() & 63) == 0;
    return !w->stopped;
}

/* Truncation in the differential test: pages may be pinned, so force. */
static bool diff_truncate_cb(struct page_cache *pc, uint64_t page, struct cache_page *cp, void *ctx)
{
    struct truncate_ctx *t = ctx;
    assert_true(page >= t->from);
    assert_true(t->visited == 0 || page > t->last);
    t->last = page;
    t->visited++;
    page_cache_rmap_clear(pc, cp, count_unmap, t);
    assert_int_equal(page_cache_remove(pc, page, PC_REMOVE_FORCE, NULL), PC_OK);
    return true;
}

static void test_random_differential(void **state)
{
    struct fixture *f = *state;
    struct page_cache *pc = &f->pc;
    struct model m = {calloc(MODEL_CAP, sizeof(struct model_page *)), 0, 0};
    assert_non_null(m.p);
    rng_state = 0x9e3779b97f4a7c15ull;
    uint64_t counts[16] = {0}, truncations = 0;
    size_t max_n = 0;
    uint64_t sum_n = 0;

    for (unsigned step = 0; step < 100000; step++) {
        uint64_t r = rnd();
        unsigned op = r % 16;
        counts[op]++;
        /* Occasionally fail one of the next few allocations. */
        bool inject = (r >> 8) % 20 == 0;
        if (inject)
            f->fa.fail_in = (int64_t)((r >> 16) % 4);
        uint64_t page = random_page(&m);
        struct model_page *mp = model_find(&m, page);

        switch (op) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4: { /* insert */
            if (m.n >= MODEL_CAP - 1)
                break;
            uint32_t flags = (uint32_t)(r >> 32) & (PC_DIRTY | PC_FLAGS_USER);
            struct cache_page *out = NULL;
            enum pc_err e = page_cache_insert(pc, page, page * 3, flags, &out);
            if (mp) {
                assert_int_equal(e, PC_ERR_EXISTS);
                compare_page(mp, out);
            } else if (e == PC_ERR_NO_MEMORY) {
                assert_true(inject);
                assert_null(page_cache_lookup(pc, page));
            } else {
                assert_int_equal(e, PC_OK);
                model_insert(&m, page, page * 3, flags);
                compare_page(model_find(&m, page), out);
            }
            break;
        }
        case 5:
        case 6:
        case 7: { /* remove, sometimes forced; may be busy */
            unsigned how = (r >> 40) % 4 == 0 ? PC_REMOVE_FORCE : 0;
            uint64_t pa = 0;
            enum pc_err e = page_cache_remove(pc, page, how, &pa);
            if (!mp) {
                assert_int_equal(e, PC_ERR_NOT_FOUND);
            } else if (!how && (mp->nmap || (mp->flags & (PC_PINNED | PC_BUSY)))) {
                assert_int_equal(e, PC_ERR_BUSY);
            } else {
                assert_int_equal(e, PC_OK);
                assert_int_equal(pa, mp->pa);
                model_remove(&m, page);
            }
            break;
        }
        case 8: { /* lookup */
            struct cache_page *cp = page_cache_lookup(pc, page);
            if (mp)
                compare_page(mp, cp);
            else
                assert_null(cp);
            break;
        }
        case 9:
        case 10: { /* rmap add */
            if (!mp || mp->nmap == MODEL_MAP)
                break;
            void *as = space((r >> 20) % 4);
            uint64_t va = ((r >> 24) % 4) << 12;
            enum pc_err e = page_cache_rmap_add(pc, page_cache_lookup(pc, page), as, va);
            if (e == PC_ERR_NO_MEMORY) {
                assert_true(inject);
            } else {
                assert_int_equal(e, PC_OK);
                mp->aspace[mp->nmap] = as;
                mp->va[mp->nmap++] = va;
                m.maps++;
            }
            compare_page(mp, page_cache_lookup(pc, page));
            break;
        }
        case 11: { /* rmap remove (the newest matching entry goes) */
            if (!mp)
                break;
            void *as = space((r >> 20) % 4);
            uint64_t va = ((r >> 24) % 4) << 12;
            enum pc_err e = page_cache_rmap_remove(pc, page_cache_lookup(pc, page), as, va);
            int k = (int)mp->nmap - 1;
            while (k >= 0 && !(mp->aspace[k] == as && mp->va[k] == va))
                k--;
            if (k < 0) {
                assert_int_equal(e, PC_ERR_NOT_FOUND);
            } else {
                assert_int_equal(e, PC_OK);
                memmove(&mp->aspace[k], &mp->aspace[k + 1], (mp->nmap - k - 1) * sizeof(void *));
                memmove(&mp->va[k], &mp->va[k + 1], (mp->nmap - k - 1) * sizeof(uint64_t));
                mp->nmap--;
                m.maps--;
            }
            compare_page(mp, page_cache_lookup(pc, page));
            break;
        }
        case 12: { /* rmap clear, or flip pin/busy */
            if (!mp)
                break;
            if ((r >> 30) & 1) {
                uint32_t n = mp->nmap;
                assert_int_equal(page_cache_rmap_clear(pc, page_cache_lookup(pc, page), NULL, NULL),
                                 n);
                mp->nmap = 0;
                m.maps -= n;
            } else {
                uint32_t bit = ((r >> 31) & 1) ? PC_PINNED : PC_BUSY;
                mp->flags ^= bit;
                page_cache_lookup(pc, page)->flags ^= bit;
            }
            break;
        }
        case 13:
        case 14: { /* range walk over a random window, sometimes mutating */
            uint64_t a = random_page(&m), b = random_page(&m);
            if ((r >> 33) % 8 == 0)
                b = UINT64_MAX;
            if (a > b) {
                assert_int_equal(page_cache_range(pc, a, b, diff_walk_cb, NULL), PC_ERR_RANGE);
                break;
            }
            f->fa.fail_in = -1; /* the visitor's inserts must succeed */
            struct diff_walk w = {&m,   a, b < PC_PAGE_LIMIT ? b : PC_PAGE_LIMIT, 0, (r >> 36) & 1,
                                  false};
            assert_int_equal(page_cache_range(pc, a, b, diff_walk_cb, &w), PC_OK);
            /* Unless the visitor stopped it, nothing is left unvisited. */
            size_t i = model_lower(&m, w.pos);
            if (!w.stopped)
                assert_true(i >= m.n || m.p[i]->page >= w.last);
            break;
        }
        case 15: { /* truncate everything >= page, rarely */
            if ((r >> 20) % 256)
                break;
            truncations++;
            f->fa.fail_in = -1;
            struct truncate_ctx t = {.from = page};
            size_t i = model_lower(&m, page);
            uint64_t maps = 0;
            for (size_t k = i; k < m.n; k++)
                maps += m.p[k]->nmap;
            assert_int_equal(page_cache_range(pc, page, UINT64_MAX, diff_truncate_cb, &t), PC_OK);
            assert_int_equal(t.visited, m.n - i);
            assert_int_equal(t.unmapped, maps);
            while (m.n > i)
                model_remove(&m, m.p[m.n - 1]->page);
            break;
        }
        }
        f->fa.fail_in = -1;

        max_n = m.n > max_n ? m.n : max_n;
        sum_n += m.n;
        assert_int_equal(page_cache_count(pc), m.n);
        assert_int_equal(f->fa.bytes,
                         page_cache_node_bytes(pc) + m.n * REC_BYTES + m.maps * RMAP_BYTES);
        if (step % 2000 == 0) {
            struct collect c = all_pages(pc);
            assert_int_equal(c.n, m.n);
            for (size_t i = 0; i < m.n; i++) {
                assert_int_equal(c.pages[i], m.p[i]->page);
                compare_page(m.p[i], page_cache_lookup(pc, m.p[i]->page));
            }
            assert_int_equal(pc->nodes, expected_nodes(c.pages, c.n));
            free(c.pages);
        }
    }
    for (unsigned op = 0; op < 16; op++)
        assert_true(counts[op] > 1000);
    print_message("differential: %zu pages at the end, %zu at most, %llu on average, "
                  "%llu truncations\n",
                  m.n, max_n, (unsigned long long)(sum_n / 100000),
                  (unsigned long long)truncations);
    assert_true(m.n > 100);
    check_invariants(pc, &f->fa);
    assert_int_equal(total_mappings(pc), m.maps);

    struct destroy_ctx d = {0};
    page_cache_destroy(pc, destroy_cb, &d);
    assert_int_equal(d.visits, m.n);
    assert_int_equal(d.maps, m.maps);
    assert_int_equal(f->fa.bytes, 0);
    while (m.n)
        free(m.p[--m.n]);
    free(m.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_insert_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_huge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_visitor_modifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rmap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_differential, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
