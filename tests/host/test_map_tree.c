/* Host tests for memobj/map_tree.c. Nodes come from malloc through a test
 * allocator that can fail on a chosen call, fills fresh nodes with garbage
 * (so a field the tree forgets to set shows) and embeds struct mapping in a
 * larger node (to exercise the clone hook). After every operation the tree's
 * structural invariants are checked; the differential test replays 100,000
 * seeded random operations against a page-granular model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "memobj/map_tree.h"
#include "newsys/caps.h"

#define PG   MAP_PAGE_SIZE
#define R    NS_RIGHT_READ
#define W    NS_RIGHT_WRITE
#define X    NS_RIGHT_EXEC
#define RW   (R | W)
#define RX   (R | X)
#define RWX  (R | W | X)
#define BASE 0x10000000ull
#define TOP  0x4000000000ull /* Sv39 user half */

#define NODE_MAGIC 0x6d61707065646e64ull

/* ---- test allocator ---- */

struct tnode {
    uint64_t magic;
    struct mapping m;
    uint64_t serial; /* copied by the clone hook */
};

struct alloc_ctx {
    long live, allocs, frees, clones;
    long countdown; /* fail when it reaches 0; -1: never */
    uint64_t next_serial;
};

static struct tnode *tnode_of(struct mapping *m)
{
    return (struct tnode *)((char *)m - offsetof(struct tnode, m));
}

static struct mapping *t_alloc(void *ctx)
{
    struct alloc_ctx *a = ctx;
    if (a->countdown == 0) {
        a->countdown = -1;
        return NULL;
    }
    if (a->countdown > 0)
        a->countdown--;
    struct tnode *n = malloc(sizeof *n);
    assert_non_null(n);
    memset(n, 0xa5, sizeof *n);
    n->magic = NODE_MAGIC;
    n->serial = a->next_serial++;
    a->live++;
    a->allocs++;
    return &n->m;
}

static void t_free(struct mapping *m, void *ctx)
{
    struct alloc_ctx *a = ctx;
    struct tnode *n = tnode_of(m);
    assert_int_equal(n->magic, NODE_MAGIC);
    n->magic = 0;
    a->live--;
    a->frees++;
    free(n);
}

static void t_clone(struct mapping *dst, const struct mapping *src, void *ctx)
{
    struct alloc_ctx *a = ctx;
    assert_int_equal(dst->va_start, src->va_end);
    assert_true(src->va_start < src->va_end);
    assert_true(dst->va_start < dst->va_end);
    assert_ptr_equal(dst->obj, src->obj);
    assert_int_equal(dst->obj_page, src->obj_page + (src->va_end - src->va_start) / PG);
    assert_int_equal(dst->rights, src->rights);
    assert_int_equal(dst->flags, src->flags);
    tnode_of(dst)->serial = tnode_of((struct mapping *)src)->serial;
    a->clones++;
}

struct fixture {
    struct alloc_ctx a;
    struct map_tree_ops ops;
    struct map_tree t;
};

static void fx_init(struct fixture *f, uint64_t top)
{
    memset(f, 0, sizeof *f);
    f->a.countdown = -1;
    f->ops = (struct map_tree_ops){t_alloc, t_free, t_clone, &f->a};
    map_tree_init(&f->t, top, &f->ops);
}

static void fx_fini(struct fixture *f)
{
    map_tree_destroy(&f->t, NULL, NULL);
    assert_null(f->t.root);
    assert_int_equal(f->t.count, 0);
    assert_int_equal(f->a.live, 0);
}

/* ---- invariants ---- */

/* Returns the subtree height after checking links, heights, balance and
 * key bounds [lo, hi). */
static int32_t check_subtree(const struct map_tree *t, const struct mapping *m,
                             const struct mapping *parent, uint64_t lo, uint64_t hi, uint64_t *n)
{
    if (!m)
        return 0;
    (*n)++;
    assert_int_equal(tnode_of((struct mapping *)m)->magic, NODE_MAGIC);
    assert_ptr_equal(m->parent, parent);
    assert_int_equal(m->va_start % PG, 0);
    assert_int_equal(m->va_end % PG, 0);
    assert_true(m->va_start < m->va_end);
    assert_true(m->va_end <= t->user_top);
    assert_true(m->va_start >= lo);
    assert_true(m->va_end <= hi);
    int32_t l = check_subtree(t, m->left, m, lo, m->va_start, n);
    int32_t r = check_subtree(t, m->right, m, m->va_end, hi, n);
    assert_true(l - r <= 1 && r - l <= 1);
    int32_t h = (l > r ? l : r) + 1;
    assert_int_equal(m->height, h);
    return h;
}

static void check_tree(const struct map_tree *t, const struct alloc_ctx *a)
{
    uint64_t n = 0;
    int32_t h = check_subtree(t, t->root, NULL, 0, UINT64_MAX, &n);
    assert_int_equal(n, t->count);
    if (a)
        assert_int_equal((uint64_t)a->live, t->count);
    /* AVL height bound: a tree of height h has at least N(h) nodes, with
     * N(1) = 1, N(2) = 2, N(h) = N(h-1) + N(h-2) + 1. */
    uint64_t nmin_prev = 0, nmin = 0;
    for (int32_t i = 1; i <= h; i++) {
        uint64_t next = i == 1 ? 1 : i == 2 ? 2 : nmin + nmin_prev + 1;
        nmin_prev = nmin;
        nmin = next;
    }
    assert_true(n >= nmin);
    /* Iteration is in order, complete and without overlap. */
    uint64_t k = 0, prev_end = 0;
    for (struct mapping *m = map_tree_first(t); m; m = map_tree_next(m)) {
        assert_true(m->va_start >= prev_end);
        prev_end = m->va_end;
        k++;
    }
    assert_int_equal(k, t->count);
}

/* ---- dumps (for "nothing changed") ---- */

struct dump_rec {
    const void *self, *left, *right, *parent, *obj;
    uint64_t va_start, va_end, obj_page;
    int32_t height;
    uint32_t rights, flags;
};

struct dump {
    struct dump_rec *rec;
    size_t n;
    const void *root;
    uint64_t count;
};

static void dump_walk(const struct mapping *m, struct dump *d)
{
    if (!m)
        return;
    struct dump_rec *r = &d->rec[d->n++];
    memset(r, 0, sizeof *r);
    /* Field by field: the padding stays zero for memcmp. */
    r->self = m;
    r->left = m->left;
    r->right = m->right;
    r->parent = m->parent;
    r->obj = m->obj;
    r->va_start = m->va_start;
    r->va_end = m->va_end;
    r->obj_page = m->obj_page;
    r->height = m->height;
    r->rights = m->rights;
    r->flags = m->flags;
    dump_walk(m->left, d);
    dump_walk(m->right, d);
}

static struct dump dump_tree(const struct map_tree *t)
{
    struct dump d = {calloc(t->count + 1, sizeof(struct dump_rec)), 0, t->root, t->count};
    assert_non_null(d.rec);
    dump_walk(t->root, &d);
    assert_int_equal(d.n, t->count);
    return d;
}

static void dump_equal(struct dump a, struct dump b)
{
    assert_int_equal(a.n, b.n);
    assert_int_equal(a.count, b.count);
    assert_ptr_equal(a.root, b.root);
    assert_memory_equal(a.rec, b.rec, a.n * sizeof(struct dump_rec));
    free(a.rec);
    free(b.rec);
}

/* ---- callback recorders ---- */

struct piece {
    void *obj;
    uint64_t obj_page, va, npages;
    uint32_t rights, new_rights;
};

struct rec {
    struct piece p[64];
    int n;
};

static void rec_removed(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages, uint32_t rights,
                        void *ctx)
{
    struct rec *r = ctx;
    assert_true(r->n < 64);
    r->p[r->n++] = (struct piece){obj, obj_page, va, npages, rights, 0};
}

static void rec_changed(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages,
                        uint32_t old_rights, uint32_t new_rights, void *ctx)
{
    struct rec *r = ctx;
    assert_true(r->n < 64);
    r->p[r->n++] = (struct piece){obj, obj_page, va, npages, old_rights, new_rights};
}

static void must_not_call_removed(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages,
                                  uint32_t rights, void *ctx)
{
    (void)obj, (void)obj_page, (void)va, (void)npages, (void)rights, (void)ctx;
    fail_msg("removed callback on a failing operation");
}

static void must_not_call_changed(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages,
                                  uint32_t o, uint32_t n, void *ctx)
{
    (void)obj, (void)obj_page, (void)va, (void)npages, (void)o, (void)n, (void)ctx;
    fail_msg("changed callback on a failing operation");
}

static void piece_is(const struct piece *p, void *obj, uint64_t obj_page, uint64_t va,
                     uint64_t npages, uint32_t rights)
{
    assert_ptr_equal(p->obj, obj);
    assert_int_equal(p->obj_page, obj_page);
    assert_int_equal(p->va, va);
    assert_int_equal(p->npages, npages);
    assert_int_equal(p->rights, rights);
}

/* Expected mapping list: (va_start, va_end, obj, obj_page, rights). */
struct want {
    uint64_t start, end;
    void *obj;
    uint64_t obj_page;
    uint32_t rights;
};

static void tree_is(const struct fixture *f, const struct want *w, size_t n)
{
    check_tree(&f->t, &f->a);
    assert_int_equal(f->t.count, n);
    size_t i = 0;
    for (struct mapping *m = map_tree_first(&f->t); m; m = map_tree_next(m), i++) {
        assert_int_equal(m->va_start, w[i].start);
        assert_int_equal(m->va_end, w[i].end);
        assert_ptr_equal(m->obj, w[i].obj);
        assert_int_equal(m->obj_page, w[i].obj_page);
        assert_int_equal(m->rights, w[i].rights);
    }
    assert_int_equal(i, n);
}

#define TREE_IS(f, ...)                                                                            \
    do {                                                                                           \
        const struct want w_[] = {__VA_ARGS__};                                                    \
        tree_is(f, w_, sizeof w_ / sizeof w_[0]);                                                  \
    } while (0)

static char objs[16];
#define OA ((void *)&objs[0])
#define OB ((void *)&objs[1])
#define OC ((void *)&objs[2])

static enum map_err ins(struct fixture *f, uint64_t va, uint64_t np, void *obj, uint64_t op,
                        uint32_t rights)
{
    enum map_err e = map_tree_insert(&f->t, va, np, obj, op, rights, false, NULL, NULL, NULL);
    check_tree(&f->t, &f->a);
    return e;
}

/* ---- unit tests ---- */

static void test_strerror_and_init(void **state)
{
    (void)state;
    for (int e = 0; e < MAP_ERR_COUNT; e++)
        assert_non_null(map_strerror((enum map_err)e));
    assert_string_equal(map_strerror(MAP_ERR_COUNT), "unknown mapping error");
    assert_string_equal(map_strerror((enum map_err) - 1), "unknown mapping error");

    struct fixture f;
    fx_init(&f, TOP + 123);
    assert_int_equal(f.t.user_top, TOP);
    assert_null(map_tree_first(&f.t));
    assert_null(map_tree_lookup(&f.t, BASE));
    assert_null(map_tree_find_from(&f.t, 0));
    check_tree(&f.t, &f.a);
    fx_fini(&f);
}

static void test_effective_rights(void **state)
{
    (void)state;
    enum map_err e;
    /* Subtractive: intersection, GRANT in the cap ignored. */
    assert_int_equal(map_effective_rights(NS_RIGHTS_ALL, RWX, false, &e), RWX);
    assert_int_equal(e, MAP_OK);
    assert_int_equal(map_effective_rights(R, RW, false, &e), R);
    assert_int_equal(e, MAP_OK);
    assert_int_equal(map_effective_rights(RX, RWX, false, &e), RX);
    assert_int_equal(e, MAP_OK);
    assert_int_equal(map_effective_rights(RWX, X, false, &e), X); /* execute-only is fine */
    assert_int_equal(e, MAP_OK);
    /* Strict: any narrowing is an error. */
    assert_int_equal(map_effective_rights(R, RW, true, &e), 0);
    assert_int_equal(e, MAP_ERR_RIGHTS);
    assert_int_equal(map_effective_rights(RW | NS_RIGHT_GRANT, RW, true, &e), RW);
    assert_int_equal(e, MAP_OK);
    /* Write without read is dropped (no write-only PTE); strict refuses. */
    assert_int_equal(map_effective_rights(RWX, W | X, false, &e), X);
    assert_int_equal(e, MAP_OK);
    assert_int_equal(map_effective_rights(W | X, RWX, false, &e), X);
    assert_int_equal(e, MAP_OK);
    assert_int_equal(map_effective_rights(RWX, W | X, true, &e), 0);
    assert_int_equal(e, MAP_ERR_RIGHTS);
    assert_int_equal(map_effective_rights(RWX, W, false, &e), 0);
    assert_int_equal(e, MAP_ERR_RIGHTS);
    /* Nothing left, or unknown bits asked for. */
    assert_int_equal(map_effective_rights(X, RW, false, &e), 0);
    assert_int_equal(e, MAP_ERR_RIGHTS);
    assert_int_equal(map_effective_rights(RWX, 0, false, &e), 0);
    assert_int_equal(e, MAP_ERR_RIGHTS);
    assert_int_equal(map_effective_rights(NS_RIGHTS_ALL, R | NS_RIGHT_GRANT, false, &e), 0);
    assert_int_equal(e, MAP_ERR_RIGHTS);
    assert_int_equal(map_effective_rights(RWX, 1u << 31, false, &e), 0);
    assert_int_equal(e, MAP_ERR_RIGHTS);
    assert_int_equal(map_effective_rights(RWX, RW, false, NULL), RW);
    /* Exhaustive: the result is always a subset of both, never W without R,
     * and strict succeeds exactly when nothing narrowed. */
    for (uint32_t cap = 0; cap < 16; cap++) {
        for (uint32_t req = 0; req < 16; req++) {
            for (int strict = 0; strict < 2; strict++) {
                uint32_t eff = map_effective_rights(cap, req, strict, &e);
                if (e != MAP_OK) {
                    assert_int_equal(eff, 0);
                    continue;
                }
                assert_int_equal(eff & ~(cap & req & RWX), 0);
                assert_false((eff & W) && !(eff & R));
                assert_true(eff & RX);
                if (strict)
                    assert_int_equal(eff, req);
            }
        }
    }
}

static void test_insert_lookup(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, TOP);
    struct mapping *m = NULL;
    assert_int_equal(map_tree_insert(&f.t, BASE, 4, OA, 10, RW, false, NULL, NULL, &m), MAP_OK);
    assert_non_null(m);
    assert_int_equal(m->flags, 0);
    assert_int_equal(m->va_start, BASE);
    assert_int_equal(m->va_end, BASE + 4 * PG);
    assert_ptr_equal(map_tree_lookup(&f.t, BASE), m);
    assert_ptr_equal(map_tree_lookup(&f.t, BASE + 4 * PG - 1), m);
    assert_ptr_equal(map_tree_lookup(&f.t, BASE + 123), m);
    assert_null(map_tree_lookup(&f.t, BASE - 1));
    assert_null(map_tree_lookup(&f.t, BASE + 4 * PG));
    assert_ptr_equal(map_tree_find_from(&f.t, 0), m);
    assert_ptr_equal(map_tree_find_from(&f.t, BASE + 4 * PG - 1), m);
    assert_null(map_tree_find_from(&f.t, BASE + 4 * PG));

    /* Adjacent mappings of the same object and rights stay separate. */
    assert_int_equal(ins(&f, BASE + 4 * PG, 2, OA, 14, RW), MAP_OK);
    assert_int_equal(ins(&f, BASE - 2 * PG, 2, OA, 8, RW), MAP_OK);
    TREE_IS(&f, {BASE - 2 * PG, BASE, OA, 8, RW}, {BASE, BASE + 4 * PG, OA, 10, RW},
            {BASE + 4 * PG, BASE + 6 * PG, OA, 14, RW});
    assert_int_equal(map_tree_lookup(&f.t, BASE + 4 * PG)->obj_page, 14);
    assert_int_equal(map_tree_lookup(&f.t, BASE - 1)->obj_page, 8);

    /* Up to exactly the user top; va 0 is the caller's business. */
    assert_int_equal(ins(&f, TOP - 3 * PG, 3, OB, 0, R), MAP_OK);
    assert_int_equal(ins(&f, 0, 1, OB, 0, R), MAP_OK);
    assert_ptr_equal(map_tree_lookup(&f.t, TOP - 1)->obj, OB);
    assert_null(map_tree_lookup(&f.t, TOP));
    assert_ptr_equal(map_tree_lookup(&f.t, 0)->obj, OB);
    /* Object page end may reach UINT64_MAX exactly. */
    assert_int_equal(ins(&f, BASE + 100 * PG, 2, OC, UINT64_MAX - 2, RX), MAP_OK);
    assert_int_equal(f.t.count, 6);
    assert_int_equal(f.a.allocs, 6);
    fx_fini(&f);
}

static void test_insert_errors(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, TOP);
    assert_int_equal(ins(&f, BASE, 4, OA, 0, RW), MAP_OK);
    struct dump before = dump_tree(&f.t);
    long allocs = f.a.allocs;
    struct {
        uint64_t va, np, op;
        bool replace;
        enum map_err e;
    } cases[] = {
        {BASE + 1, 1, 0, false, MAP_ERR_MISALIGNED},
        {BASE + PG - 1, 1, 0, true, MAP_ERR_MISALIGNED},
        {BASE + 8 * PG, 0, 0, false, MAP_ERR_RANGE},
        {BASE + 8 * PG, 0, 0, true, MAP_ERR_RANGE},
        {BASE + 8 * PG, UINT64_MAX, 0, false, MAP_ERR_RANGE},
        {BASE + 8 * PG, (UINT64_MAX >> 12) + 1, 0, false, MAP_ERR_RANGE},
        {UINT64_MAX & ~(PG - 1), 1, 0, false, MAP_ERR_RANGE},
        {UINT64_MAX & ~(PG - 1), 2, 0, true, MAP_ERR_RANGE}, /* va + len wraps */
        {PG, UINT64_MAX >> 12, 0, false, MAP_ERR_RANGE},     /* wraps exactly */
        {TOP - PG, 2, 0, false, MAP_ERR_RANGE},
        {TOP, 1, 0, true, MAP_ERR_RANGE},
        {BASE + 8 * PG, 2, UINT64_MAX - 1, false, MAP_ERR_RANGE}, /* object page wraps */
        {BASE + 8 * PG, 1, UINT64_MAX, true, MAP_ERR_RANGE},
        {BASE, 4, 0, false, MAP_ERR_OVERLAP},
        {BASE - PG, 2, 0, false, MAP_ERR_OVERLAP},
        {BASE + 3 * PG, 2, 0, false, MAP_ERR_OVERLAP},
        {BASE + PG, 1, 0, false, MAP_ERR_OVERLAP},
        {BASE - PG, 6, 0, false, MAP_ERR_OVERLAP},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(map_tree_insert(&f.t, cases[i].va, cases[i].np, OB, cases[i].op, R,
                                         cases[i].replace, must_not_call_removed, NULL, NULL),
                         cases[i].e);
    }
    assert_int_equal(f.a.allocs, allocs); /* errors are found before allocating */
    dump_equal(before, dump_tree(&f.t));
    fx_fini(&f);
}

static void test_replace(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, TOP);
    struct rec r = {0};

    /* Same range, stronger rights: the remap. */
    assert_int_equal(ins(&f, BASE, 4, OA, 0, R), MAP_OK);
    assert_int_equal(map_tree_insert(&f.t, BASE, 4, OB, 7, RW, true, rec_removed, &r, NULL),
                     MAP_OK);
    TREE_IS(&f, {BASE, BASE + 4 * PG, OB, 7, RW});
    assert_int_equal(r.n, 1);
    piece_is(&r.p[0], OA, 0, BASE, 4, R);
    assert_int_equal(f.a.live, 1);

    /* Replace with no overlap is a plain insert, no callback. */
    r.n = 0;
    assert_int_equal(
        map_tree_insert(&f.t, BASE + 10 * PG, 4, OA, 0, R, true, rec_removed, &r, NULL), MAP_OK);
    assert_int_equal(r.n, 0);

    /* Strictly inside one mapping: it splits around the new one. */
    r.n = 0;
    assert_int_equal(map_tree_insert(&f.t, BASE + PG, 2, OC, 100, RX, true, rec_removed, &r, NULL),
                     MAP_OK);
    TREE_IS(&f, {BASE, BASE + PG, OB, 7, RW}, {BASE + PG, BASE + 3 * PG, OC, 100, RX},
            {BASE + 3 * PG, BASE + 4 * PG, OB, 10, RW}, {BASE + 10 * PG, BASE + 14 * PG, OA, 0, R});
    assert_int_equal(r.n, 1);
    piece_is(&r.p[0], OB, 8, BASE + PG, 2, RW);
    assert_int_equal(f.a.clones, 1);

    /* Across several: trims the first and the last, drops those inside. */
    r.n = 0;
    assert_int_equal(
        map_tree_insert(&f.t, BASE + 2 * PG, 10, OA, 50, RWX, true, rec_removed, &r, NULL), MAP_OK);
    TREE_IS(&f, {BASE, BASE + PG, OB, 7, RW}, {BASE + PG, BASE + 2 * PG, OC, 100, RX},
            {BASE + 2 * PG, BASE + 12 * PG, OA, 50, RWX},
            {BASE + 12 * PG, BASE + 14 * PG, OA, 2, R});
    assert_int_equal(r.n, 3);
    piece_is(&r.p[0], OC, 101, BASE + 2 * PG, 1, RX);
    piece_is(&r.p[1], OB, 10, BASE + 3 * PG, 1, RW);
    piece_is(&r.p[2], OA, 0, BASE + 10 * PG, 2, R);

    /* Covering everything. */
    r.n = 0;
    assert_int_equal(map_tree_insert(&f.t, BASE, 20, OB, 0, R, true, rec_removed, &r, NULL),
                     MAP_OK);
    TREE_IS(&f, {BASE, BASE + 20 * PG, OB, 0, R});
    assert_int_equal(r.n, 4);
    uint64_t total = 0;
    for (int i = 0; i < r.n; i++)
        total += r.p[i].npages;
    assert_int_equal(total, 14);
    fx_fini(&f);
}

static void test_unmap(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, TOP);
    struct rec r = {0};
    assert_int_equal(ins(&f, BASE, 10, OA, 0, RW), MAP_OK);

    /* A hole in the middle makes two. */
    assert_int_equal(map_tree_unmap(&f.t, BASE + 3 * PG, 2, rec_removed, &r), MAP_OK);
    TREE_IS(&f, {BASE, BASE + 3 * PG, OA, 0, RW}, {BASE + 5 * PG, BASE + 10 * PG, OA, 5, RW});
    assert_int_equal(r.n, 1);
    piece_is(&r.p[0], OA, 3, BASE + 3 * PG, 2, RW);

    /* Head and tail trims. */
    r.n = 0;
    assert_int_equal(map_tree_unmap(&f.t, BASE, 1, rec_removed, &r), MAP_OK);
    assert_int_equal(map_tree_unmap(&f.t, BASE + 9 * PG, 1, rec_removed, &r), MAP_OK);
    TREE_IS(&f, {BASE + PG, BASE + 3 * PG, OA, 1, RW}, {BASE + 5 * PG, BASE + 9 * PG, OA, 5, RW});
    assert_int_equal(r.n, 2);
    piece_is(&r.p[0], OA, 0, BASE, 1, RW);
    piece_is(&r.p[1], OA, 9, BASE + 9 * PG, 1, RW);

    /* Unmapped ranges: nothing there at all. */
    struct dump before = dump_tree(&f.t);
    assert_int_equal(map_tree_unmap(&f.t, BASE, 1, must_not_call_removed, NULL),
                     MAP_ERR_NOT_MAPPED);
    assert_int_equal(map_tree_unmap(&f.t, BASE + 3 * PG, 2, must_not_call_removed, NULL),
                     MAP_ERR_NOT_MAPPED);
    assert_int_equal(map_tree_unmap(&f.t, BASE + 9 * PG, 100, must_not_call_removed, NULL),
                     MAP_ERR_NOT_MAPPED);
    assert_int_equal(map_tree_unmap(&f.t, 0, 1, must_not_call_removed, NULL), MAP_ERR_NOT_MAPPED);
    assert_int_equal(map_tree_unmap(&f.t, BASE + 1, 1, must_not_call_removed, NULL),
                     MAP_ERR_MISALIGNED);
    assert_int_equal(map_tree_unmap(&f.t, BASE, 0, must_not_call_removed, NULL), MAP_ERR_RANGE);
    assert_int_equal(map_tree_unmap(&f.t, BASE, UINT64_MAX >> 12, must_not_call_removed, NULL),
                     MAP_ERR_RANGE);
    assert_int_equal(map_tree_unmap(&f.t, TOP - PG, 2, must_not_call_removed, NULL), MAP_ERR_RANGE);
    dump_equal(before, dump_tree(&f.t));

    /* Partly mapped, spanning a gap: the mapped parts go, MAP_OK. */
    r.n = 0;
    assert_int_equal(map_tree_unmap(&f.t, BASE, 7, rec_removed, &r), MAP_OK);
    TREE_IS(&f, {BASE + 7 * PG, BASE + 9 * PG, OA, 7, RW});
    assert_int_equal(r.n, 2);
    piece_is(&r.p[0], OA, 1, BASE + PG, 2, RW);
    piece_is(&r.p[1], OA, 5, BASE + 5 * PG, 2, RW);

    /* Exactly one whole mapping, then an empty tree. */
    r.n = 0;
    assert_int_equal(map_tree_unmap(&f.t, BASE + 7 * PG, 2, rec_removed, &r), MAP_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(f.t.count, 0);
    assert_int_equal(f.a.live, 0);
    assert_int_equal(map_tree_unmap(&f.t, BASE, 1, NULL, NULL), MAP_ERR_NOT_MAPPED);
    fx_fini(&f);
}

static void test_protect(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, TOP);
    struct rec r = {0};
    assert_int_equal(ins(&f, BASE, 10, OA, 0, RWX), MAP_OK);

    /* The middle of one mapping: three pieces. */
    assert_int_equal(map_tree_protect(&f.t, BASE + 2 * PG, 3, R, rec_changed, &r), MAP_OK);
    TREE_IS(&f, {BASE, BASE + 2 * PG, OA, 0, RWX}, {BASE + 2 * PG, BASE + 5 * PG, OA, 2, R},
            {BASE + 5 * PG, BASE + 10 * PG, OA, 5, RWX});
    assert_int_equal(r.n, 1);
    piece_is(&r.p[0], OA, 2, BASE + 2 * PG, 3, RWX);
    assert_int_equal(r.p[0].new_rights, R);

    /* Across three with the same rights as the middle one: only the outer
     * two are cut and reported; the middle is left alone. */
    r.n = 0;
    long allocs = f.a.allocs;
    assert_int_equal(map_tree_protect(&f.t, BASE + PG, 5, R, rec_changed, &r), MAP_OK);
    assert_int_equal(f.a.allocs, allocs + 2);
    TREE_IS(&f, {BASE, BASE + PG, OA, 0, RWX}, {BASE + PG, BASE + 2 * PG, OA, 1, R},
            {BASE + 2 * PG, BASE + 5 * PG, OA, 2, R}, {BASE + 5 * PG, BASE + 6 * PG, OA, 5, R},
            {BASE + 6 * PG, BASE + 10 * PG, OA, 6, RWX});
    assert_int_equal(r.n, 2);
    piece_is(&r.p[0], OA, 1, BASE + PG, 1, RWX);
    piece_is(&r.p[1], OA, 5, BASE + 5 * PG, 1, RWX);

    /* No change at all: no callback, no allocation, no split. */
    r.n = 0;
    allocs = f.a.allocs;
    struct dump before = dump_tree(&f.t);
    assert_int_equal(map_tree_protect(&f.t, BASE + 2 * PG, 2, R, must_not_call_changed, NULL),
                     MAP_OK);
    assert_int_equal(f.a.allocs, allocs);
    dump_equal(before, dump_tree(&f.t));

    /* Whole mappings, exact edges: no allocation. Rights are stored as
     * given, widening included (the caller's rule). */
    r.n = 0;
    allocs = f.a.allocs;
    assert_int_equal(map_tree_protect(&f.t, BASE, 10, RW, rec_changed, &r), MAP_OK);
    assert_int_equal(f.a.allocs, allocs);
    assert_int_equal(r.n, 5);
    for (struct mapping *m = map_tree_first(&f.t); m; m = map_tree_next(m))
        assert_int_equal(m->rights, RW);

    /* A hole anywhere, or a range not mapped at its start: error, nothing
     * changed. */
    assert_int_equal(map_tree_unmap(&f.t, BASE + 7 * PG, 1, NULL, NULL), MAP_OK);
    assert_int_equal(ins(&f, BASE + 20 * PG, 2, OB, 0, RW), MAP_OK);
    before = dump_tree(&f.t);
    allocs = f.a.allocs;
    assert_int_equal(map_tree_protect(&f.t, BASE + 6 * PG, 2, R, must_not_call_changed, NULL),
                     MAP_ERR_NOT_MAPPED);
    assert_int_equal(map_tree_protect(&f.t, BASE + 7 * PG, 1, R, must_not_call_changed, NULL),
                     MAP_ERR_NOT_MAPPED);
    assert_int_equal(map_tree_protect(&f.t, BASE - PG, 2, R, must_not_call_changed, NULL),
                     MAP_ERR_NOT_MAPPED);
    assert_int_equal(map_tree_protect(&f.t, BASE + 9 * PG, 12, R, must_not_call_changed, NULL),
                     MAP_ERR_NOT_MAPPED);
    assert_int_equal(map_tree_protect(&f.t, BASE + 20 * PG, 3, R, must_not_call_changed, NULL),
                     MAP_ERR_NOT_MAPPED);
    assert_int_equal(map_tree_protect(&f.t, BASE + 3, 1, R, must_not_call_changed, NULL),
                     MAP_ERR_MISALIGNED);
    assert_int_equal(map_tree_protect(&f.t, BASE, 0, R, must_not_call_changed, NULL),
                     MAP_ERR_RANGE);
    assert_int_equal(map_tree_protect(&f.t, TOP, 1, R, must_not_call_changed, NULL), MAP_ERR_RANGE);
    assert_int_equal(map_tree_protect(&f.t, PG, UINT64_MAX >> 12, R, must_not_call_changed, NULL),
                     MAP_ERR_RANGE);
    assert_int_equal(f.a.allocs, allocs);
    dump_equal(before, dump_tree(&f.t));

    /* Across touching mappings of different objects. */
    assert_int_equal(ins(&f, BASE + 22 * PG, 2, OC, 9, RW), MAP_OK);
    r.n = 0;
    assert_int_equal(map_tree_protect(&f.t, BASE + 21 * PG, 2, 0, rec_changed, &r), MAP_OK);
    assert_int_equal(r.n, 2);
    piece_is(&r.p[0], OB, 1, BASE + 21 * PG, 1, RW);
    piece_is(&r.p[1], OC, 9, BASE + 22 * PG, 1, RW);
    assert_int_equal(map_tree_lookup(&f.t, BASE + 21 * PG)->rights, 0);
    assert_int_equal(map_tree_lookup(&f.t, BASE + 20 * PG)->rights, RW);
    assert_int_equal(map_tree_lookup(&f.t, BASE + 23 * PG)->rights, RW);
    check_tree(&f.t, &f.a);
    fx_fini(&f);
}

static void test_split_keeps_flags_and_embedding(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, TOP);
    struct mapping *m;
    assert_int_equal(map_tree_insert(&f.t, BASE, 8, OA, 0, RW, false, NULL, NULL, &m), MAP_OK);
    m->flags = 0x55;
    tnode_of(m)->serial = 4242;
    assert_int_equal(map_tree_unmap(&f.t, BASE + 2 * PG, 1, NULL, NULL), MAP_OK);
    assert_int_equal(map_tree_protect(&f.t, BASE + 5 * PG, 1, R, NULL, NULL), MAP_OK);
    assert_int_equal(map_tree_insert(&f.t, BASE + 6 * PG, 1, OB, 0, R, true, NULL, NULL, NULL),
                     MAP_OK);
    /* Pieces of the original: [0,2) [3,5) [5,6) [7,8); the new one at 6. */
    int pieces = 0;
    for (struct mapping *p = map_tree_first(&f.t); p; p = map_tree_next(p)) {
        if (p->obj != OA)
            continue;
        assert_int_equal(p->flags, 0x55);
        assert_int_equal(tnode_of(p)->serial, 4242);
        pieces++;
    }
    assert_int_equal(pieces, 4);
    assert_int_equal(f.a.clones, 3);
    assert_ptr_equal(map_tree_lookup(&f.t, BASE), m); /* the lowest piece keeps the node */
    fx_fini(&f);
}

/* No clone hook and no callbacks at all is fine. */
static void test_null_hooks(void **state)
{
    (void)state;
    struct alloc_ctx a = {.countdown = -1};
    struct map_tree_ops ops = {t_alloc, t_free, NULL, &a};
    struct map_tree t;
    map_tree_init(&t, TOP, &ops);
    assert_int_equal(map_tree_insert(&t, BASE, 8, OA, 0, RW, false, NULL, NULL, NULL), MAP_OK);
    assert_int_equal(map_tree_unmap(&t, BASE + PG, 1, NULL, NULL), MAP_OK);
    assert_int_equal(map_tree_protect(&t, BASE + 3 * PG, 2, R, NULL, NULL), MAP_OK);
    assert_int_equal(map_tree_insert(&t, BASE, 8, OA, 0, RW, true, NULL, NULL, NULL), MAP_OK);
    check_tree(&t, &a);
    map_tree_destroy(&t, NULL, NULL);
    assert_int_equal(a.live, 0);
}

struct destroy_count {
    uint64_t calls, pages;
    uint8_t seen[1000];
};

static void count_destroyed(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages,
                            uint32_t rights, void *ctx)
{
    struct destroy_count *dc = ctx;
    assert_ptr_equal(obj, OA);
    assert_int_equal(rights, R);
    assert_int_equal(va, BASE + obj_page * 3 * PG);
    assert_true(obj_page < 1000);
    dc->seen[obj_page]++;
    dc->calls++;
    dc->pages += npages;
}

static void test_iteration_and_destroy(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, TOP);
    /* Insert in a scrambled order; iterate in address order. */
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t k = (i * 7919) % 1000;
        assert_int_equal(
            map_tree_insert(&f.t, BASE + k * 3 * PG, 2, OA, k, R, false, NULL, NULL, NULL), MAP_OK);
    }
    check_tree(&f.t, &f.a);
    uint64_t k = 0;
    for (struct mapping *m = map_tree_first(&f.t); m; m = map_tree_next(m), k++) {
        assert_int_equal(m->va_start, BASE + k * 3 * PG);
        assert_int_equal(m->obj_page, k);
        assert_ptr_equal(map_tree_find_from(&f.t, m->va_start - PG), m); /* in the gap below */
        assert_ptr_equal(map_tree_lookup(&f.t, m->va_start + PG), m);
        assert_null(map_tree_lookup(&f.t, m->va_end));
    }
    assert_int_equal(k, 1000);
    assert_null(map_tree_find_from(&f.t, BASE + 3000 * PG));

    /* Destroy reports every mapping once, then frees it. */
    struct destroy_count dc = {0, 0, {0}};
    map_tree_destroy(&f.t, count_destroyed, &dc);
    assert_int_equal(dc.calls, 1000);
    assert_int_equal(dc.pages, 2000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(dc.seen[i], 1);
    assert_int_equal(f.t.count, 0);
    assert_null(f.t.root);
    assert_int_equal(f.a.live, 0);
    /* Usable again afterwards. */
    assert_int_equal(ins(&f, BASE, 1, OA, 0, R), MAP_OK);
    fx_fini(&f);
}

/* Sequential inserts (the worst case for an unbalanced tree), removals of
 * every other node and of ranges, with the invariants checked throughout. */
static void test_balance(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, TOP);
    const uint64_t n = 4096;
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(map_tree_insert(&f.t, BASE + i * PG, 1, OA, i, R, false, NULL, NULL, NULL),
                         MAP_OK);
        if (i % 64 == 0)
            check_tree(&f.t, &f.a);
    }
    check_tree(&f.t, &f.a);
    assert_true(f.t.root->height <= 14); /* 1.44 log2(4098) ~ 17.3; AVL does better here */
    for (uint64_t i = 0; i < n; i += 2) {
        assert_int_equal(map_tree_unmap(&f.t, BASE + i * PG, 1, NULL, NULL), MAP_OK);
        if (i % 128 == 0)
            check_tree(&f.t, &f.a);
    }
    check_tree(&f.t, &f.a);
    assert_int_equal(f.t.count, n / 2);
    /* Descending inserts into the holes. */
    for (uint64_t i = n; i-- > 0;) {
        if (i % 2 == 0)
            assert_int_equal(
                map_tree_insert(&f.t, BASE + i * PG, 1, OB, i, R, false, NULL, NULL, NULL), MAP_OK);
        if (i % 128 == 0)
            check_tree(&f.t, &f.a);
    }
    /* Big range unmaps from the left edge: many deletions at once. */
    for (uint64_t i = 0; i < n; i += 512) {
        assert_int_equal(map_tree_unmap(&f.t, BASE + i * PG, 300, NULL, NULL), MAP_OK);
        check_tree(&f.t, &f.a);
    }
    assert_int_equal(f.t.count, n - 8 * 300);
    /* One remap over everything collapses it to one node. */
    assert_int_equal(map_tree_insert(&f.t, BASE, n, OC, 0, RW, true, NULL, NULL, NULL), MAP_OK);
    check_tree(&f.t, &f.a);
    assert_int_equal(f.t.count, 1);
    fx_fini(&f);
}

/* ---- allocation failure at every allocation point ---- */

typedef enum map_err (*op_fn)(struct fixture *f, struct rec *r);

/* Builds: A [0,10) RW; B [12,14) R; C [14,20) RWX (pages from BASE). */
static void build_fail_scene(struct fixture *f)
{
    assert_int_equal(ins(f, BASE, 10, OA, 0, RW), MAP_OK);
    assert_int_equal(ins(f, BASE + 12 * PG, 2, OB, 0, R), MAP_OK);
    assert_int_equal(ins(f, BASE + 14 * PG, 6, OC, 0, RWX), MAP_OK);
}

static enum map_err op_insert_plain(struct fixture *f, struct rec *r)
{
    return map_tree_insert(&f->t, BASE + 10 * PG, 2, OB, 0, R, false, rec_removed, r, NULL);
}

static enum map_err op_insert_replace_middle(struct fixture *f, struct rec *r)
{
    return map_tree_insert(&f->t, BASE + 2 * PG, 3, OB, 0, R, true, rec_removed, r, NULL);
}

static enum map_err op_insert_replace_span(struct fixture *f, struct rec *r)
{
    return map_tree_insert(&f->t, BASE + 5 * PG, 10, OB, 0, R, true, rec_removed, r, NULL);
}

static enum map_err op_unmap_middle(struct fixture *f, struct rec *r)
{
    return map_tree_unmap(&f->t, BASE + 15 * PG, 2, rec_removed, r);
}

static enum map_err op_protect_middle(struct fixture *f, struct rec *r)
{
    return map_tree_protect(&f->t, BASE + 3 * PG, 4, R, rec_changed, r);
}

static enum map_err op_protect_edges(struct fixture *f, struct rec *r)
{
    return map_tree_protect(&f->t, BASE + 13 * PG, 3, RW, rec_changed, r);
}

static void test_alloc_failure_every_point(void **state)
{
    (void)state;
    const struct {
        op_fn op;
        long nodes; /* allocations the operation makes */
    } ops[] = {
        {op_insert_plain, 1}, {op_insert_replace_middle, 2}, {op_insert_replace_span, 1},
        {op_unmap_middle, 1}, {op_protect_middle, 2},        {op_protect_edges, 2},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        long k;
        for (k = 0;; k++) {
            struct fixture f;
            fx_init(&f, TOP);
            build_fail_scene(&f);
            struct dump before = dump_tree(&f.t);
            long allocs = f.a.allocs, frees = f.a.frees;
            f.a.countdown = k;
            struct rec r = {0};
            enum map_err e = ops[i].op(&f, &r);
            if (e == MAP_OK) {
                /* Got all the way: k allocation points were tested. */
                assert_int_equal(f.a.allocs - allocs, ops[i].nodes);
                assert_true(r.n > 0 || ops[i].op == op_insert_plain);
                check_tree(&f.t, &f.a);
                free(before.rec);
                fx_fini(&f);
                break;
            }
            assert_int_equal(e, MAP_ERR_NO_MEMORY);
            assert_int_equal(r.n, 0);
            assert_int_equal(f.a.allocs - allocs, k);
            assert_int_equal(f.a.frees - frees, k); /* the ones it got went back */
            dump_equal(before, dump_tree(&f.t));
            check_tree(&f.t, &f.a);
            fx_fini(&f);
        }
        assert_int_equal(k, ops[i].nodes);
    }
}

/* ---- differential test against a page-granular model ---- */

#define WIN_PAGES 4096u
#define NOBJ      6
#define STEPS     100000u

struct mpage {
    uint8_t obj; /* 0: unmapped; else index + 1 into objs */
    uint8_t rights;
    uint64_t obj_page;
};

struct model {
    struct mpage pg[WIN_PAGES];
    uint8_t seen[WIN_PAGES]; /* pages reported by the current operation */
    uint64_t reported;       /* pages reported by the current operation */
    uint64_t total_removed, total_changed;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    /* xorshift64*: a fixed seed gives the same run every time. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

static void model_piece(struct model *md, void *obj, uint64_t obj_page, uint64_t va,
                        uint64_t npages, uint32_t rights)
{
    assert_true(va >= BASE && va % PG == 0);
    uint64_t p0 = (va - BASE) / PG;
    assert_true(npages > 0 && p0 + npages <= WIN_PAGES);
    for (uint64_t i = 0; i < npages; i++) {
        struct mpage *p = &md->pg[p0 + i];
        assert_int_not_equal(p->obj, 0);
        assert_ptr_equal(obj, &objs[p->obj - 1]);
        assert_int_equal(p->obj_page, obj_page + i);
        assert_int_equal(p->rights, rights);
        assert_int_equal(md->seen[p0 + i], 0);
        md->seen[p0 + i] = 1;
    }
    md->reported += npages;
}

static void model_removed(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages,
                          uint32_t rights, void *ctx)
{
    struct model *md = ctx;
    model_piece(md, obj, obj_page, va, npages, rights);
    md->total_removed += npages;
}

static void model_changed(void *obj, uint64_t obj_page, uint64_t va, uint64_t npages,
                          uint32_t old_rights, uint32_t new_rights, void *ctx)
{
    struct model *md = ctx;
    assert_int_not_equal(old_rights, new_rights);
    model_piece(md, obj, obj_page, va, npages, old_rights);
    md->total_changed += npages;
}

static void model_compare(const struct fixture *f, const struct model *md)
{
    check_tree(&f->t, &f->a);
    uint64_t p = 0;
    for (struct mapping *m = map_tree_first(&f->t); m; m = map_tree_next(m)) {
        uint64_t s = (m->va_start - BASE) / PG, e = (m->va_end - BASE) / PG;
        assert_true(m->va_start >= BASE && e <= WIN_PAGES);
        for (; p < s; p++)
            assert_int_equal(md->pg[p].obj, 0);
        for (; p < e; p++) {
            assert_int_not_equal(md->pg[p].obj, 0);
            assert_ptr_equal(m->obj, &objs[md->pg[p].obj - 1]);
            assert_int_equal(md->pg[p].obj_page, m->obj_page + (p - s));
            assert_int_equal(md->pg[p].rights, m->rights);
        }
    }
    for (; p < WIN_PAGES; p++)
        assert_int_equal(md->pg[p].obj, 0);
}

static void test_differential(void **state)
{
    (void)state;
    static struct model md;
    memset(&md, 0, sizeof md);
    struct fixture f;
    fx_init(&f, BASE + WIN_PAGES * PG);
    uint64_t tree_removed_expect = 0, tree_changed_expect = 0;
    unsigned nomem = 0, ok = 0, errs = 0;
    uint64_t max_count = 0;

    for (unsigned step = 0; step < STEPS; step++) {
        uint64_t p0 = rnd_below(WIN_PAGES);
        /* Mostly short ranges, so the tree grows to hundreds of nodes and
         * cuts are frequent; now and then a long one clears a stretch. */
        uint64_t r = rnd_below(1000), np;
        if (r < 800)
            np = 1 + rnd_below(8);
        else if (r < 970)
            np = 1 + rnd_below(64);
        else if (r < 998)
            np = 1 + rnd_below(512);
        else
            np = 1 + rnd_below(WIN_PAGES);
        bool beyond = rnd_below(200) == 0; /* sometimes past the user top */
        if (!beyond && p0 + np > WIN_PAGES)
            np = WIN_PAGES - p0;
        uint64_t va = BASE + p0 * PG;
        uint8_t obj = (uint8_t)(1 + rnd_below(NOBJ));
        uint64_t obj_page = rnd_below(1ull << 40);
        uint8_t rights = (uint8_t)rnd_below(8);
        unsigned kind = (unsigned)rnd_below(100);

        /* What the model says. */
        uint64_t present = 0, differ = 0;
        if (!beyond || p0 + np <= WIN_PAGES) {
            for (uint64_t i = p0; i < p0 + np; i++) {
                present += md.pg[i].obj != 0;
                differ += md.pg[i].obj != 0 && md.pg[i].rights != rights;
            }
        }
        bool out_of_range = p0 + np > WIN_PAGES;
        enum map_err want;
        uint64_t want_reported;
        if (kind < 30) { /* plain map */
            want = out_of_range ? MAP_ERR_RANGE : present ? MAP_ERR_OVERLAP : MAP_OK;
            want_reported = 0;
        } else if (kind < 50) { /* remap */
            want = out_of_range ? MAP_ERR_RANGE : MAP_OK;
            want_reported = present;
        } else if (kind < 75) { /* unmap */
            want = out_of_range ? MAP_ERR_RANGE : present ? MAP_OK : MAP_ERR_NOT_MAPPED;
            want_reported = present;
        } else { /* protect */
            want = out_of_range ? MAP_ERR_RANGE : present == np ? MAP_OK : MAP_ERR_NOT_MAPPED;
            want_reported = differ;
        }

        /* Sometimes fail one of the next allocations. */
        bool inject = rnd_below(16) == 0;
        f.a.countdown = inject ? (long)rnd_below(3) : -1;
        struct dump before = {0};
        if (inject)
            before = dump_tree(&f.t);
        for (int attempt = 0;; attempt++) {
            md.reported = 0;
            if (!out_of_range)
                memset(&md.seen[p0], 0, np);
            uint64_t rm0 = md.total_removed, ch0 = md.total_changed;
            enum map_err e;
            if (kind < 50)
                e = map_tree_insert(&f.t, va, np, &objs[obj - 1], obj_page, rights, kind >= 30,
                                    model_removed, &md, NULL);
            else if (kind < 75)
                e = map_tree_unmap(&f.t, va, np, model_removed, &md);
            else
                e = map_tree_protect(&f.t, va, np, rights, model_changed, &md);
            if (e == MAP_ERR_NO_MEMORY) {
                assert_true(inject && attempt == 0);
                assert_int_equal(want, MAP_OK);
                assert_int_equal(md.reported, 0);
                assert_int_equal(md.total_removed, rm0);
                assert_int_equal(md.total_changed, ch0);
                assert_int_equal(f.a.live, (long)f.t.count);
                dump_equal(before, dump_tree(&f.t));
                before.rec = NULL;
                nomem++;
                f.a.countdown = -1;
                continue; /* the same operation again, with memory */
            }
            assert_int_equal(e, want);
            assert_int_equal(md.reported, e == MAP_OK ? want_reported : 0);
            break;
        }
        if (before.rec)
            free(before.rec);
        f.a.countdown = -1;
        assert_int_equal(f.a.live, (long)f.t.count);

        /* Apply to the model. */
        if (want == MAP_OK) {
            ok++;
            for (uint64_t i = 0; i < np; i++) {
                struct mpage *p = &md.pg[p0 + i];
                if (kind < 50)
                    *p = (struct mpage){obj, rights, obj_page + i};
                else if (kind < 75)
                    *p = (struct mpage){0, 0, 0};
                else
                    p->rights = rights;
            }
            if (kind >= 30 && kind < 75)
                tree_removed_expect += present;
            else if (kind >= 75)
                tree_changed_expect += differ;
        } else {
            errs++;
        }
        if (f.t.count > max_count)
            max_count = f.t.count;
        if (step % 256 == 255)
            model_compare(&f, &md);
    }
    model_compare(&f, &md);
    assert_int_equal(md.total_removed, tree_removed_expect);
    assert_int_equal(md.total_changed, tree_changed_expect);
    /* The run must have exercised every outcome. */
    assert_true(nomem > 100);
    assert_true(ok > STEPS / 3);
    assert_true(errs > STEPS / 10);
    assert_true(max_count > 300);

    /* Destroy reports exactly what the model still has mapped. */
    uint64_t mapped = 0;
    for (unsigned i = 0; i < WIN_PAGES; i++)
        mapped += md.pg[i].obj != 0;
    memset(md.seen, 0, sizeof md.seen);
    md.reported = 0;
    map_tree_destroy(&f.t, model_removed, &md);
    assert_int_equal(md.reported, mapped);
    fx_fini(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_and_init),
        cmocka_unit_test(test_effective_rights),
        cmocka_unit_test(test_insert_lookup),
        cmocka_unit_test(test_insert_errors),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_unmap),
        cmocka_unit_test(test_protect),
        cmocka_unit_test(test_split_keeps_flags_and_embedding),
        cmocka_unit_test(test_null_hooks),
        cmocka_unit_test(test_iteration_and_destroy),
        cmocka_unit_test(test_balance),
        cmocka_unit_test(test_alloc_failure_every_point),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
