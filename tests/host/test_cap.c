/* Host tests for kernel/core/cap.c and kernel/core/kobj.c.
 *
 * Objects are fakes whose destroy hooks log their id, uncharge, kill and
 * (for heap objects) free: ASan then catches any use of an object after
 * its destruction. Objects that stale capabilities must keep pointing at
 * live in a "pool" (never freed, re-initialised with kobj_init to simulate
 * the type-stable allocator handing the same memory to a new object).
 *
 * Deep cases run in a thread with a 64 KiB stack, where a recursion 10,000
 * deep would overflow; those threads use no cmocka asserts (they would
 * longjmp across threads) and report back through a struct. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "kernel/core/bank.h"
#include "kernel/core/cap.h"
#include "kernel/core/kobj.h"

/* ---- fake objects ---------------------------------------------------- */

struct fobj {
    struct kobj obj; /* first: hooks cast back */
    int id;
    bool heap;
};

struct fcs {
    struct kobj obj;
    int id;
    bool keep; /* stale caps may still point here: the test frees it */
    struct cspace cs;
    struct cap_slot slots[];
};

#define LOG_MAX 40000
static int destroy_log[LOG_MAX];
static size_t ndestroyed;

static void log_destroy(int id)
{
    if (ndestroyed < LOG_MAX)
        destroy_log[ndestroyed] = id;
    ndestroyed++;
}

static void fobj_destroy(struct kobj *o)
{
    struct fobj *f = (struct fobj *)o;
    log_destroy(f->id);
    bank_uncharge_object(o);
    kobj_kill(o);
    if (f->heap)
        free(f);
}

static void fcs_destroy(struct kobj *o)
{
    struct fcs *c = (struct fcs *)o;
    cspace_clear(&c->cs);
    log_destroy(c->id);
    bank_uncharge_object(o);
    kobj_kill(o);
    if (!c->keep)
        free(c);
}

static const struct kobj_type_ops fobj_ops = {.destroy = fobj_destroy};
static const struct kobj_type_ops fcs_ops = {.destroy = fcs_destroy};

static int setup(void **state)
{
    (void)state;
    ndestroyed = 0;
    kobj_register_type(NS_CAP_ENDPOINT, &fobj_ops);
    kobj_register_type(NS_CAP_NOTIFICATION, &fobj_ops);
    kobj_register_type(NS_CAP_FRAME, &fobj_ops);
    kobj_register_type(NS_CAP_THREAD, &fobj_ops);
    kobj_register_type(NS_CAP_CSPACE, &fcs_ops);
    return 0;
}

static void fobj_init(struct fobj *f, enum ns_cap_type t, int id)
{
    kobj_init(&f->obj, t);
    f->id = id;
    f->heap = false;
}

static struct fcs *fcs_new(uint32_t n, int id)
{
    struct fcs *c = calloc(1, sizeof(*c) + n * sizeof(struct cap_slot));
    assert_non_null(c);
    kobj_init(&c->obj, NS_CAP_CSPACE);
    c->id = id;
    cspace_init(&c->cs, c->slots, n);
    return c;
}

/* ---- a small world: three spaces, four pool objects ------------------ */

#define NCS 3
#define NSL 8

struct world {
    struct cap_slot slots[NCS][NSL];
    struct cspace cs[NCS];
    struct fobj ep, ntf, frm, thr;
};

static struct world W;
static struct world snap_w;

static void world_init(void)
{
    memset(&W, 0, sizeof(W));
    for (int i = 0; i < NCS; i++)
        cspace_init(&W.cs[i], W.slots[i], NSL);
    fobj_init(&W.ep, NS_CAP_ENDPOINT, 1);
    fobj_init(&W.ntf, NS_CAP_NOTIFICATION, 2);
    fobj_init(&W.frm, NS_CAP_FRAME, 3);
    fobj_init(&W.thr, NS_CAP_THREAD, 4);
}

static void snap(void)
{
    memcpy(&snap_w, &W, sizeof(W));
}

static void assert_unchanged(void)
{
    assert_memory_equal(&snap_w, &W, sizeof(W));
}

static struct cap_slot *S(int cs, int i)
{
    return &W.slots[cs][i];
}

static int nchildren(const struct cap_slot *s)
{
    int n = 0;
    for (const struct cap_slot *c = s->cdt_child; c; c = c->cdt_next)
        n++;
    return n;
}

/* Structural CDT check over the world's slots. */
static void check_world_cdt(void)
{
    for (int c = 0; c < NCS; c++) {
        for (int i = 0; i < NSL; i++) {
            struct cap_slot *s = S(c, i);
            if (s->type == NS_CAP_NULL) {
                assert_null(s->cdt_parent);
                assert_null(s->cdt_child);
                assert_null(s->cdt_prev);
                assert_null(s->cdt_next);
                assert_null(s->obj);
                continue;
            }
            assert_false(s->revoked);
            if (s->cdt_prev)
                assert_ptr_equal(s->cdt_prev->cdt_next, s);
            else if (s->cdt_parent)
                assert_ptr_equal(s->cdt_parent->cdt_child, s);
            if (s->cdt_next)
                assert_ptr_equal(s->cdt_next->cdt_prev, s);
            if (s->cdt_parent)
                assert_ptr_equal(s->cdt_parent->obj, s->obj);
            for (struct cap_slot *k = s->cdt_child; k; k = k->cdt_next)
                assert_ptr_equal(k->cdt_parent, s);
        }
    }
}

/* ---- lookups ----------------------------------------------------------- */

static void test_lookup_errors_and_order(void **state)
{
    (void)state;
    struct cap_slot *out = (struct cap_slot *)0x1;
    world_init();
    cap_install(S(0, 0), &W.ep.obj, NS_RIGHT_READ | NS_RIGHT_WRITE, 0);
    assert_int_equal(W.ep.obj.caps, 1);

    assert_int_equal(cap_lookup(&W.cs[0], NSL, NS_CAP_ENDPOINT, 0, &out), NS_ERR_INVALID_SLOT);
    assert_int_equal(cap_lookup(&W.cs[0], UINT32_MAX, NS_CAP_ENDPOINT, 0, &out),
                     NS_ERR_INVALID_SLOT);
    assert_int_equal(cap_lookup(&W.cs[0], 1, NS_CAP_ENDPOINT, 0, &out), NS_ERR_EMPTY_SLOT);
    assert_int_equal(cap_lookup(&W.cs[0], 0, NS_CAP_FRAME, 0, &out), NS_ERR_WRONG_TYPE);
    /* type is checked before rights */
    assert_int_equal(cap_lookup(&W.cs[0], 0, NS_CAP_FRAME, NS_RIGHT_EXEC, &out), NS_ERR_WRONG_TYPE);
    assert_int_equal(cap_lookup(&W.cs[0], 0, NS_CAP_ENDPOINT, NS_RIGHT_GRANT, &out),
                     NS_ERR_NO_RIGHTS);
    assert_int_equal(cap_lookup(&W.cs[0], 0, NS_CAP_ENDPOINT, NS_RIGHTS_ALL + 1, &out),
                     NS_ERR_NO_RIGHTS);
    assert_ptr_equal(out, (struct cap_slot *)0x1); /* untouched on error */
    assert_int_equal(cap_lookup(&W.cs[0], 0, NS_CAP_ENDPOINT, NS_RIGHT_READ | NS_RIGHT_WRITE, &out),
                     NS_OK);
    assert_ptr_equal(out, S(0, 0));
    assert_int_equal(cap_lookup_any(&W.cs[0], 0, &out), NS_OK);
    assert_int_equal(cap_lookup_any(&W.cs[0], 1, &out), NS_ERR_EMPTY_SLOT);
    assert_int_equal(cap_lookup_any(&W.cs[0], NSL, &out), NS_ERR_INVALID_SLOT);

    /* A tombstone: REVOKED before type and rights. */
    assert_int_equal(cap_copy(&W.cs[0], 0, &W.cs[1], 0, NS_RIGHT_READ), NS_OK);
    assert_int_equal(cap_revoke(&W.cs[0], 0), NS_OK);
    assert_true(S(1, 0)->revoked);
    assert_int_equal(cap_lookup(&W.cs[1], 0, NS_CAP_FRAME, NS_RIGHTS_ALL, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_lookup_any(&W.cs[1], 0, &out), NS_ERR_REVOKED);
    assert_true(cap_slot_stale(S(1, 0)));

    /* A stale capability: REVOKED before type and rights too. */
    kobj_destroy(&W.ep.obj);
    assert_int_equal(ndestroyed, 1);
    assert_true(cap_slot_stale(S(0, 0)));
    assert_int_equal(cap_lookup(&W.cs[0], 0, NS_CAP_FRAME, NS_RIGHTS_ALL, &out), NS_ERR_REVOKED);

    /* lookup_empty: tombstone and empty are fine, stale and live are not. */
    assert_int_equal(cap_lookup_empty(&W.cs[1], 0, &out), NS_OK);
    assert_ptr_equal(out, S(1, 0));
    assert_int_equal(cap_lookup_empty(&W.cs[1], 1, &out), NS_OK);
    assert_int_equal(cap_lookup_empty(&W.cs[0], 0, &out), NS_ERR_SLOT_OCCUPIED);
    assert_int_equal(cap_lookup_empty(&W.cs[0], NSL, &out), NS_ERR_INVALID_SLOT);
    cap_install(S(2, 0), &W.frm.obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_lookup_empty(&W.cs[2], 0, &out), NS_ERR_SLOT_OCCUPIED);
    assert_false(cap_slot_stale(S(2, 0)));
    assert_false(cap_slot_stale(S(2, 1)));

    struct cap_info info;
    assert_int_equal(cap_identify(&W.cs[2], 0, &info), NS_OK);
    assert_int_equal(info.type, NS_CAP_FRAME);
    assert_int_equal(info.rights, NS_RIGHTS_ALL);
    assert_int_equal(info.badge, 0);
    assert_int_equal(cap_identify(&W.cs[2], NSL, &info), NS_ERR_INVALID_SLOT);
    assert_int_equal(cap_identify(&W.cs[2], 1, &info), NS_ERR_EMPTY_SLOT);
    assert_int_equal(cap_identify(&W.cs[1], 0, &info), NS_ERR_REVOKED);
    assert_int_equal(cap_identify(&W.cs[0], 0, &info), NS_ERR_REVOKED);

    /* A cspace with no slots at all. */
    struct cspace none;
    cspace_init(&none, NULL, 0);
    assert_int_equal(cap_lookup_any(&none, 0, &out), NS_ERR_INVALID_SLOT);
    assert_int_equal(cap_delete(&none, 0), NS_ERR_INVALID_SLOT);
    cspace_clear(&none);
}

/* ---- every error of every operation, and nothing changes --------------- */

/* World for the error tests:
 *   cs0: 0 ep (rights RW, badge 0)   1 empty   2 tombstone   3 stale frame
 *        4 ntf badged 7               5 thread
 *   cs1: 0 copy of cs0/0                                                 */
static void error_world(void)
{
    world_init();
    cap_install(S(0, 0), &W.ep.obj, NS_RIGHT_READ | NS_RIGHT_WRITE, 0);
    cap_install(S(0, 4), &W.ntf.obj, NS_RIGHTS_ALL, 7);
    cap_install(S(0, 5), &W.thr.obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_copy(&W.cs[0], 0, &W.cs[1], 0, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(&W.cs[0], 0, &W.cs[0], 2, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_revoke(&W.cs[1], 0), NS_OK); /* cs1/0 has no children */
    assert_int_equal(cap_revoke(&W.cs[0], 0), NS_OK); /* tombstones cs1/0 and cs0/2 */
    assert_int_equal(cap_copy(&W.cs[0], 0, &W.cs[1], 0, NS_RIGHTS_ALL), NS_OK);
    cap_install(S(0, 3), &W.frm.obj, NS_RIGHTS_ALL, 0);
    kobj_destroy(&W.frm.obj);
    fobj_init(&W.frm, NS_CAP_FRAME, 3); /* reused memory */
    assert_true(S(0, 2)->revoked);
    assert_true(cap_slot_stale(S(0, 3)));
    ndestroyed = 0;
}

#define EXPECT_FAIL(call, err)                                                                     \
    do {                                                                                           \
        error_world();                                                                             \
        snap();                                                                                    \
        assert_int_equal((call), (err));                                                           \
        assert_unchanged();                                                                        \
        assert_int_equal(ndestroyed, 0);                                                           \
    } while (0)

static void test_copy_mint_move_errors(void **state)
{
    (void)state;
    struct cspace *c0 = &W.cs[0], *c1 = &W.cs[1];

    /* source problems */
    EXPECT_FAIL(cap_copy(c0, NSL, c1, 5, NS_RIGHTS_ALL), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_copy(c0, 1, c1, 5, NS_RIGHTS_ALL), NS_ERR_EMPTY_SLOT);
    EXPECT_FAIL(cap_copy(c0, 2, c1, 5, NS_RIGHTS_ALL), NS_ERR_REVOKED);
    EXPECT_FAIL(cap_copy(c0, 3, c1, 5, NS_RIGHTS_ALL), NS_ERR_REVOKED);
    /* destination problems */
    EXPECT_FAIL(cap_copy(c0, 0, c1, NSL, NS_RIGHTS_ALL), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_copy(c0, 0, c1, UINT32_MAX, NS_RIGHTS_ALL), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_copy(c0, 0, c0, 0, NS_RIGHTS_ALL), NS_ERR_INVALID_ARG);
    EXPECT_FAIL(cap_copy(c0, 0, c1, 0, NS_RIGHTS_ALL), NS_ERR_SLOT_OCCUPIED);
    EXPECT_FAIL(cap_copy(c0, 0, c0, 3, NS_RIGHTS_ALL), NS_ERR_SLOT_OCCUPIED); /* stale */
    EXPECT_FAIL(cap_copy(c0, 0, c0, 4, NS_RIGHTS_ALL), NS_ERR_SLOT_OCCUPIED);
    /* rights mask with unknown bits */
    EXPECT_FAIL(cap_copy(c0, 0, c1, 5, (NS_RIGHTS_ALL + 1)), NS_ERR_INVALID_ARG);
    EXPECT_FAIL(cap_copy(c0, 0, c1, UINT32_MAX, (NS_RIGHTS_ALL + 1)), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_copy(c0, 0, c1, 5, UINT32_MAX), NS_ERR_INVALID_ARG);

    /* mint: the same, plus the badge rules */
    EXPECT_FAIL(cap_mint(c0, NSL, c1, 5, NS_RIGHTS_ALL, 9), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_mint(c0, 1, c1, 5, NS_RIGHTS_ALL, 9), NS_ERR_EMPTY_SLOT);
    EXPECT_FAIL(cap_mint(c0, 2, c1, 5, NS_RIGHTS_ALL, 9), NS_ERR_REVOKED);
    EXPECT_FAIL(cap_mint(c0, 3, c1, 5, NS_RIGHTS_ALL, 9), NS_ERR_REVOKED);
    EXPECT_FAIL(cap_mint(c0, 0, c1, NSL, NS_RIGHTS_ALL, 9), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_mint(c0, 0, c0, 0, NS_RIGHTS_ALL, 9), NS_ERR_INVALID_ARG);
    EXPECT_FAIL(cap_mint(c0, 0, c1, 0, NS_RIGHTS_ALL, 9), NS_ERR_SLOT_OCCUPIED);
    EXPECT_FAIL(cap_mint(c0, 0, c1, 5, 0x20, 9), NS_ERR_INVALID_ARG);
    EXPECT_FAIL(cap_mint(c0, 4, c1, 5, NS_RIGHTS_ALL, 9), NS_ERR_INVALID_ARG); /* badged */
    EXPECT_FAIL(cap_mint(c0, 5, c1, 5, NS_RIGHTS_ALL, 9), NS_ERR_INVALID_ARG); /* thread */

    /* move */
    EXPECT_FAIL(cap_move(c0, NSL, c1, 5), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_move(c0, 1, c1, 5), NS_ERR_EMPTY_SLOT);
    EXPECT_FAIL(cap_move(c0, 2, c1, 5), NS_ERR_REVOKED);
    EXPECT_FAIL(cap_move(c0, 3, c1, 5), NS_ERR_REVOKED);
    EXPECT_FAIL(cap_move(c0, 0, c1, NSL), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_move(c0, 0, c0, 0), NS_ERR_INVALID_ARG);
    EXPECT_FAIL(cap_move(c0, 0, c1, 0), NS_ERR_SLOT_OCCUPIED);
    EXPECT_FAIL(cap_move(c0, 0, c0, 3), NS_ERR_SLOT_OCCUPIED);

    /* a second cspace struct over the same slots: still the same slot */
    struct cspace alias;
    EXPECT_FAIL((alias = W.cs[0], cap_copy(c0, 0, &alias, 0, NS_RIGHTS_ALL)), NS_ERR_INVALID_ARG);
    EXPECT_FAIL((alias = W.cs[0], cap_move(&alias, 0, c0, 0)), NS_ERR_INVALID_ARG);

    /* delete, revoke, identify */
    struct cap_info info;
    EXPECT_FAIL(cap_delete(c0, NSL), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_delete(c0, 1), NS_ERR_EMPTY_SLOT);
    EXPECT_FAIL(cap_revoke(c0, NSL), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_revoke(c0, 1), NS_ERR_EMPTY_SLOT);
    EXPECT_FAIL(cap_revoke(c0, 2), NS_ERR_REVOKED);
    EXPECT_FAIL(cap_revoke(c0, 3), NS_ERR_REVOKED);
    EXPECT_FAIL(cap_identify(c0, NSL, &info), NS_ERR_INVALID_SLOT);
    EXPECT_FAIL(cap_identify(c0, 1, &info), NS_ERR_EMPTY_SLOT);
    EXPECT_FAIL(cap_identify(c0, 2, &info), NS_ERR_REVOKED);

    /* and the successful forms onto a tombstone are allowed */
    error_world();
    assert_int_equal(cap_copy(c0, 0, c0, 2, NS_RIGHT_READ), NS_OK);
    assert_false(S(0, 2)->revoked);
    assert_int_equal(cap_move(c0, 4, c0, 1), NS_OK);
    assert_int_equal(cap_mint(c0, 0, c1, 3, NS_RIGHTS_ALL, 0), NS_OK);
    assert_int_equal(W.ep.obj.caps, 4);
    check_world_cdt();
}

/* ---- rights: exhaustive ------------------------------------------------ */

static void test_rights_only_shrink(void **state)
{
    (void)state;
    struct cap_info info;
    struct cap_slot *out;

    for (uint32_t r = 0; r <= NS_RIGHTS_ALL; r++) {
        for (uint32_t m1 = 0; m1 <= NS_RIGHTS_ALL; m1++) {
            world_init();
            cap_install(S(0, 0), &W.ep.obj, r, 0);
            assert_int_equal(cap_copy(&W.cs[0], 0, &W.cs[1], 0, m1), NS_OK);
            assert_int_equal(cap_identify(&W.cs[1], 0, &info), NS_OK);
            assert_int_equal(info.rights, r & m1);
            for (uint32_t need = 0; need <= NS_RIGHTS_ALL; need++) {
                enum ns_error want = (need & ~(r & m1)) ? NS_ERR_NO_RIGHTS : NS_OK;
                assert_int_equal(cap_lookup(&W.cs[1], 0, NS_CAP_ENDPOINT, need, &out), want);
            }
            for (uint32_t m2 = 0; m2 <= NS_RIGHTS_ALL; m2++) {
                assert_int_equal(cap_copy(&W.cs[1], 0, &W.cs[2], 0, m2), NS_OK);
                assert_int_equal(cap_mint(&W.cs[1], 0, &W.cs[2], 1, m2, 0), NS_OK);
                assert_int_equal(cap_mint(&W.cs[2], 1, &W.cs[2], 2, NS_RIGHTS_ALL, 5), NS_OK);
                assert_int_equal(cap_identify(&W.cs[2], 0, &info), NS_OK);
                assert_int_equal(info.rights, r & m1 & m2);
                assert_int_equal(cap_identify(&W.cs[2], 1, &info), NS_OK);
                assert_int_equal(info.rights, r & m1 & m2);
                /* a full mask on a weakened capability gives nothing back */
                assert_int_equal(cap_identify(&W.cs[2], 2, &info), NS_OK);
                assert_int_equal(info.rights, r & m1 & m2);
                assert_int_equal(info.badge, 5);
                /* moving does not change rights either */
                assert_int_equal(cap_move(&W.cs[2], 2, &W.cs[2], 3), NS_OK);
                assert_int_equal(cap_identify(&W.cs[2], 3, &info), NS_OK);
                assert_int_equal(info.rights, r & m1 & m2);
                assert_int_equal(cap_delete(&W.cs[2], 0), NS_OK);
                assert_int_equal(cap_delete(&W.cs[2], 1), NS_OK);
                assert_int_equal(cap_delete(&W.cs[2], 3), NS_OK);
            }
            assert_int_equal(W.ep.obj.caps, 2);
            assert_int_equal(ndestroyed, 0);
        }
    }
    /* cap_install and cap_slot_derive drop unknown bits too */
    world_init();
    cap_install(S(0, 0), &W.ep.obj, 0xffff, 0);
    assert_int_equal(S(0, 0)->rights, NS_RIGHTS_ALL);
    cap_slot_derive(S(0, 0), S(0, 1), 0xffff, 0);
    assert_int_equal(S(0, 1)->rights, NS_RIGHTS_ALL);
    S(0, 0)->rights = NS_RIGHT_READ;
    cap_slot_derive(S(0, 0), S(0, 2), NS_RIGHTS_ALL, 0);
    assert_int_equal(S(0, 2)->rights, NS_RIGHT_READ);
}

/* ---- badges ------------------------------------------------------------ */

static void test_badges(void **state)
{
    (void)state;
    struct cap_info info;
    struct cspace *c0 = &W.cs[0];
    world_init();
    cap_install(S(0, 0), &W.ep.obj, NS_RIGHTS_ALL, 0);
    cap_install(S(0, 1), &W.ntf.obj, NS_RIGHTS_ALL, 0);
    cap_install(S(0, 2), &W.frm.obj, NS_RIGHTS_ALL, 0);
    cap_install(S(0, 3), &W.thr.obj, NS_RIGHTS_ALL, 0);

    /* endpoint: mint sets, copy keeps, re-mint refused, mint 0 is a copy */
    assert_int_equal(cap_mint(c0, 0, c0, 4, NS_RIGHTS_ALL, 0x1234), NS_OK);
    assert_int_equal(cap_identify(c0, 4, &info), NS_OK);
    assert_int_equal(info.badge, 0x1234);
    assert_int_equal(cap_copy(c0, 4, c0, 5, NS_RIGHT_WRITE), NS_OK);
    assert_int_equal(cap_identify(c0, 5, &info), NS_OK);
    assert_int_equal(info.badge, 0x1234);
    assert_int_equal(cap_mint(c0, 5, c0, 6, NS_RIGHTS_ALL, 99), NS_ERR_INVALID_ARG);
    assert_int_equal(cap_mint(c0, 5, c0, 6, NS_RIGHTS_ALL, 0), NS_OK);
    assert_int_equal(cap_identify(c0, 6, &info), NS_OK);
    assert_int_equal(info.badge, 0x1234);
    assert_int_equal(cap_mint(c0, 0, c0, 7, NS_RIGHTS_ALL, UINT64_MAX), NS_OK);
    assert_int_equal(cap_identify(c0, 7, &info), NS_OK);
    assert_int_equal(info.badge, UINT64_MAX);
    /* an unbadged copy can still be badged */
    cspace_clear(&W.cs[0]);
    assert_int_equal(ndestroyed, 4);

    world_init();
    cap_install(S(0, 0), &W.ep.obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_copy(c0, 0, c0, 1, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_mint(c0, 1, c0, 2, NS_RIGHTS_ALL, 3), NS_OK);
    assert_int_equal(S(0, 2)->badge, 3);
    assert_ptr_equal(S(0, 2)->cdt_parent, S(0, 1));

    /* notification like endpoint */
    cap_install(S(1, 0), &W.ntf.obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_mint(&W.cs[1], 0, &W.cs[1], 1, NS_RIGHT_WRITE, 1), NS_OK);
    assert_int_equal(cap_identify(&W.cs[1], 1, &info), NS_OK);
    assert_int_equal(info.badge, 1);
    assert_int_equal(info.rights, NS_RIGHT_WRITE);
    assert_int_equal(cap_mint(&W.cs[1], 1, &W.cs[1], 2, NS_RIGHT_WRITE, 2), NS_ERR_INVALID_ARG);

    /* other types: no badge, but mint with 0 works as a copy */
    cap_install(S(2, 0), &W.frm.obj, NS_RIGHTS_ALL, 0);
    cap_install(S(2, 1), &W.thr.obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_mint(&W.cs[2], 0, &W.cs[2], 2, NS_RIGHTS_ALL, 1), NS_ERR_INVALID_ARG);
    assert_int_equal(cap_mint(&W.cs[2], 1, &W.cs[2], 2, NS_RIGHTS_ALL, 1), NS_ERR_INVALID_ARG);
    assert_int_equal(cap_mint(&W.cs[2], 0, &W.cs[2], 2, NS_RIGHT_READ, 0), NS_OK);
    assert_int_equal(cap_identify(&W.cs[2], 2, &info), NS_OK);
    assert_int_equal(info.badge, 0);
    assert_int_equal(info.type, NS_CAP_FRAME);
    check_world_cdt();
}

/* ---- CDT shape: move, delete, revoke ------------------------------------- */

static void test_move_keeps_cdt_position(void **state)
{
    (void)state;
    struct cspace *c0 = &W.cs[0], *c1 = &W.cs[1], *c2 = &W.cs[2];
    world_init();
    /* A(0/0) -> children x(0/1), B(0/2), y(0/3); B -> C(1/0), D(1/1) */
    cap_install(S(0, 0), &W.ep.obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_copy(c0, 0, c0, 3, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(c0, 0, c0, 2, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(c0, 0, c0, 1, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(c0, 2, c1, 1, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(c0, 2, c1, 0, NS_RIGHTS_ALL), NS_OK);
    assert_ptr_equal(S(0, 1)->cdt_next, S(0, 2));
    assert_ptr_equal(S(0, 2)->cdt_next, S(0, 3));

    /* Move B to another space: siblings, parent and children follow. */
    snap();
    assert_int_equal(cap_move(c0, 2, c2, 5), NS_OK);
    struct cap_slot *b = S(2, 5);
    assert_int_equal(S(0, 2)->type, NS_CAP_NULL);
    assert_null(S(0, 2)->cdt_parent);
    assert_ptr_equal(b->cdt_parent, S(0, 0));
    assert_ptr_equal(S(0, 1)->cdt_next, b);
    assert_ptr_equal(S(0, 3)->cdt_prev, b);
    assert_ptr_equal(S(1, 0)->cdt_parent, b);
    assert_ptr_equal(S(1, 1)->cdt_parent, b);
    assert_int_equal(nchildren(b), 2);
    assert_int_equal(W.ep.obj.caps, 6);
    check_world_cdt();

    /* Move the first child and a root too. */
    assert_int_equal(cap_move(c0, 1, c2, 0), NS_OK);
    assert_ptr_equal(S(0, 0)->cdt_child, S(2, 0));
    assert_int_equal(cap_move(c0, 0, c2, 7), NS_OK);
    assert_ptr_equal(S(2, 0)->cdt_parent, S(2, 7));
    assert_ptr_equal(b->cdt_parent, S(2, 7));
    assert_ptr_equal(S(0, 3)->cdt_parent, S(2, 7));
    check_world_cdt();

    /* Revoke of the (moved) root reaches everything, moved child included. */
    assert_int_equal(cap_revoke(c2, 7), NS_OK);
    struct cap_slot *out;
    assert_int_equal(cap_lookup_any(c2, 5, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_lookup_any(c2, 0, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_lookup_any(c0, 3, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_lookup_any(c1, 0, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_lookup_any(c1, 1, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_lookup_any(c2, 7, &out), NS_OK);
    assert_null(S(2, 7)->cdt_child);
    assert_int_equal(W.ep.obj.caps, 1);
    assert_int_equal(ndestroyed, 0);

    /* Move onto a tombstone. */
    assert_int_equal(cap_move(c2, 7, c1, 0), NS_OK);
    assert_false(S(1, 0)->revoked);
    assert_int_equal(cap_delete(c1, 0), NS_OK);
    assert_int_equal(ndestroyed, 1);
}

static void test_delete_reparents_in_order(void **state)
{
    (void)state;
    struct cspace *c0 = &W.cs[0], *c1 = &W.cs[1];
    world_init();
    /* A(0/0): children x(0/1) B(0/2) y(0/3); B: b1(1/1) b2(1/2) b3(1/3) */
    cap_install(S(0, 0), &W.ep.obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_copy(c0, 0, c0, 3, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(c0, 0, c0, 2, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(c0, 0, c0, 1, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(c0, 2, c1, 3, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(c0, 2, c1, 2, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(c0, 2, c1, 1, NS_RIGHTS_ALL), NS_OK);
    /* b2 has a child of its own */
    assert_int_equal(cap_copy(c1, 2, c1, 7, NS_RIGHTS_ALL), NS_OK);

    assert_int_equal(cap_delete(c0, 2), NS_OK);
    struct cap_slot *want[] = {S(0, 1), S(1, 1), S(1, 2), S(1, 3), S(0, 3)};
    struct cap_slot *c = S(0, 0)->cdt_child;
    for (size_t i = 0; i < 5; i++, c = c->cdt_next) {
        assert_ptr_equal(c, want[i]);
        assert_ptr_equal(c->cdt_parent, S(0, 0));
    }
    assert_null(c);
    assert_ptr_equal(S(1, 7)->cdt_parent, S(1, 2));
    assert_int_equal(W.ep.obj.caps, 7);
    check_world_cdt();

    /* delete the first child, the last child, then a middle one with a child */
    assert_int_equal(cap_delete(c0, 1), NS_OK);
    assert_ptr_equal(S(0, 0)->cdt_child, S(1, 1));
    assert_int_equal(cap_delete(c0, 3), NS_OK);
    assert_null(S(1, 3)->cdt_next);
    assert_int_equal(cap_delete(c1, 2), NS_OK);
    c = S(0, 0)->cdt_child;
    assert_ptr_equal(c, S(1, 1));
    assert_ptr_equal(c->cdt_next, S(1, 7));
    assert_ptr_equal(c->cdt_next->cdt_next, S(1, 3));
    assert_null(c->cdt_next->cdt_next->cdt_next);
    check_world_cdt();

    /* Delete the root: its children become parentless siblings, still
     * usable, each deletable, and the object goes with the last one. */
    assert_int_equal(cap_delete(c0, 0), NS_OK);
    assert_null(S(1, 1)->cdt_parent);
    assert_null(S(1, 7)->cdt_parent);
    check_world_cdt();
    assert_int_equal(W.ep.obj.caps, 3);
    assert_int_equal(cap_copy(c1, 7, c0, 0, NS_RIGHT_READ), NS_OK);
    assert_int_equal(cap_revoke(c1, 7), NS_OK);
    assert_true(S(0, 0)->revoked);
    assert_int_equal(cap_delete(c1, 7), NS_OK);
    assert_int_equal(cap_delete(c1, 1), NS_OK);
    check_world_cdt();
    assert_int_equal(ndestroyed, 0);
    assert_int_equal(cap_delete(c1, 3), NS_OK);
    assert_int_equal(ndestroyed, 1);
    assert_int_equal(destroy_log[0], 1);
    /* deleting the tombstone clears it; then it is empty */
    assert_int_equal(cap_delete(c0, 0), NS_OK);
    assert_false(S(0, 0)->revoked);
    assert_int_equal(cap_delete(c0, 0), NS_ERR_EMPTY_SLOT);
}

static void test_revoke_across_cspaces(void **state)
{
    (void)state;
    struct fcs *sp[3];
    struct cap_slot root[2];
    struct cspace rc;
    struct cap_slot *out;
    cspace_init(&rc, root, 2);
    world_init();
    for (int i = 0; i < 3; i++)
        sp[i] = fcs_new(8, 100 + i);
    cap_install(&root[0], &W.ep.obj, NS_RIGHTS_ALL, 0);
    /* a tree spread over three spaces, four deep */
    assert_int_equal(cap_copy(&rc, 0, &sp[0]->cs, 0, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_mint(&sp[0]->cs, 0, &sp[1]->cs, 0, NS_RIGHT_WRITE, 5), NS_OK);
    assert_int_equal(cap_copy(&sp[1]->cs, 0, &sp[2]->cs, 0, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(&sp[2]->cs, 0, &sp[0]->cs, 1, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(&rc, 0, &sp[2]->cs, 1, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(&sp[1]->cs, 0, &sp[1]->cs, 1, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(W.ep.obj.caps, 7);

    /* revoke in the middle: only the subtree goes */
    assert_int_equal(cap_revoke(&sp[1]->cs, 0), NS_OK);
    assert_int_equal(W.ep.obj.caps, 4);
    assert_int_equal(cap_lookup_any(&sp[1]->cs, 0, &out), NS_OK);
    assert_int_equal(cap_lookup_any(&sp[1]->cs, 1, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_lookup_any(&sp[2]->cs, 0, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_lookup_any(&sp[0]->cs, 1, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_lookup_any(&sp[2]->cs, 1, &out), NS_OK);
    /* revoke of a leaf is a no-op */
    assert_int_equal(cap_revoke(&sp[1]->cs, 0), NS_OK);
    assert_int_equal(W.ep.obj.caps, 4);

    /* revoke the root: everything derived in every space */
    assert_int_equal(cap_revoke(&rc, 0), NS_OK);
    assert_int_equal(W.ep.obj.caps, 1);
    for (int i = 0; i < 3; i++)
        for (uint32_t j = 0; j < 2; j++)
            assert_int_equal(cap_lookup_any(&sp[i]->cs, j, &out), NS_ERR_REVOKED);
    assert_null(root[0].cdt_child);
    /* tombstones report REVOKED, count as empty, and are reusable */
    assert_int_equal(cap_lookup_empty(&sp[0]->cs, 0, &out), NS_OK);
    assert_int_equal(cap_copy(&rc, 0, &sp[0]->cs, 0, NS_RIGHT_READ), NS_OK);
    assert_int_equal(cap_mint(&rc, 0, &sp[0]->cs, 0, NS_RIGHT_READ, 1), NS_ERR_SLOT_OCCUPIED);
    assert_int_equal(cap_mint(&rc, 0, &sp[1]->cs, 1, NS_RIGHT_READ, 1), NS_OK);
    assert_int_equal(cap_move(&sp[1]->cs, 1, &sp[2]->cs, 0), NS_OK);
    assert_int_equal(W.ep.obj.caps, 3);
    assert_int_equal(ndestroyed, 0);
    /* the object goes with its last capability: revoke, then delete root */
    assert_int_equal(cap_revoke(&rc, 0), NS_OK);
    assert_int_equal(ndestroyed, 0);
    assert_int_equal(cap_delete(&rc, 0), NS_OK);
    assert_int_equal(ndestroyed, 1);
    assert_false(W.ep.obj.live);
    /* clearing the spaces with tombstones and a stale cap is harmless */
    for (int i = 0; i < 3; i++)
        kobj_destroy(&sp[i]->obj);
    assert_int_equal(ndestroyed, 4);
}

static void test_last_cap_destroys_only_then(void **state)
{
    (void)state;
    struct cspace *c0 = &W.cs[0], *c1 = &W.cs[1];
    world_init();
    struct fobj *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    fobj_init(h, NS_CAP_ENDPOINT, 50);
    h->heap = true;
    cap_install(S(0, 0), &h->obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_copy(c0, 0, c1, 0, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_mint(c1, 0, c1, 1, NS_RIGHT_READ, 4), NS_OK);
    assert_int_equal(cap_move(c1, 1, c0, 5), NS_OK);
    assert_int_equal(h->obj.caps, 3);
    assert_int_equal(cap_delete(c0, 0), NS_OK);
    assert_int_equal(cap_delete(c1, 0), NS_OK);
    assert_int_equal(ndestroyed, 0);
    assert_int_equal(h->obj.caps, 1);
    assert_int_equal(cap_delete(c0, 5), NS_OK); /* frees h: ASan checks nobody looks */
    assert_int_equal(ndestroyed, 1);
    assert_int_equal(destroy_log[0], 50);
    check_world_cdt();

    /* through cspace_clear */
    cap_install(S(2, 0), &W.frm.obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_copy(&W.cs[2], 0, &W.cs[2], 4, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(&W.cs[2], 4, &W.cs[0], 4, NS_RIGHTS_ALL), NS_OK);
    cspace_clear(&W.cs[2]);
    assert_int_equal(ndestroyed, 1);
    assert_null(S(0, 4)->cdt_parent);
    cspace_clear(&W.cs[0]);
    assert_int_equal(ndestroyed, 2);
    assert_int_equal(destroy_log[1], 3);
}

static void test_stale_after_reuse(void **state)
{
    (void)state;
    struct cspace *c0 = &W.cs[0], *c1 = &W.cs[1];
    struct cap_slot *out;
    world_init();
    cap_install(S(0, 0), &W.ep.obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_copy(c0, 0, c1, 0, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_copy(c1, 0, c1, 1, NS_RIGHTS_ALL), NS_OK);
    uint32_t gen0 = W.ep.obj.gen;

    /* the kernel destroys the object while capabilities remain */
    kobj_destroy(&W.ep.obj);
    assert_int_equal(ndestroyed, 1);
    assert_int_not_equal(W.ep.obj.gen, gen0);
    kobj_destroy(&W.ep.obj); /* dead: no-op */
    assert_int_equal(ndestroyed, 1);

    /* the memory is reused by a new endpoint */
    fobj_init(&W.ep, NS_CAP_ENDPOINT, 60);
    cap_install(S(2, 0), &W.ep.obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(W.ep.obj.caps, 1);

    assert_int_equal(cap_lookup(c0, 0, NS_CAP_ENDPOINT, 0, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_lookup_any(c1, 1, &out), NS_ERR_REVOKED);
    assert_int_equal(cap_copy(c0, 0, c0, 1, NS_RIGHTS_ALL), NS_ERR_REVOKED);
    assert_int_equal(cap_revoke(c0, 0), NS_ERR_REVOKED);
    assert_int_equal(cap_move(c0, 0, c0, 1), NS_ERR_REVOKED);
    /* deleting stale caps does not touch the new object's count */
    assert_int_equal(cap_delete(c1, 0), NS_OK);
    assert_ptr_equal(S(1, 1)->cdt_parent, S(0, 0));
    check_world_cdt();
    assert_int_equal(cap_delete(c0, 0), NS_OK);
    assert_int_equal(cap_delete(c1, 1), NS_OK);
    assert_int_equal(W.ep.obj.caps, 1);
    assert_true(W.ep.obj.live);
    assert_int_equal(ndestroyed, 1);
    /* the new object's own capabilities work as usual */
    assert_int_equal(cap_copy(&W.cs[2], 0, c0, 0, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_delete(&W.cs[2], 0), NS_OK);
    assert_int_equal(ndestroyed, 1);
    assert_int_equal(cap_delete(c0, 0), NS_OK);
    assert_int_equal(ndestroyed, 2);
    assert_int_equal(destroy_log[1], 60);

    /* kobj_kill of a queued object takes it off the queue */
    world_init();
    kobj_defer_begin();
    kobj_destroy(&W.ep.obj);
    kobj_destroy(&W.ntf.obj);
    kobj_destroy(&W.frm.obj);
    kobj_kill(&W.ntf.obj);
    assert_int_equal(ndestroyed, 2);
    kobj_defer_end();
    assert_int_equal(ndestroyed, 4);
    assert_int_equal(destroy_log[2], 1);
    assert_int_equal(destroy_log[3], 3);
}

static void test_cspace_self_and_cycles(void **state)
{
    (void)state;
    struct cap_slot root[2];
    struct cspace rc;
    cspace_init(&rc, root, 2);
    world_init();
    /* A space holding a capability to itself stays when the outside one
     * goes (a cycle: banks reclaim those); destroying it directly works and
     * its hook's clearing of its own slot does not re-enter the hook. */
    struct fcs *a = fcs_new(4, 200);
    cap_install(&root[0], &a->obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_copy(&rc, 0, &a->cs, 0, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_delete(&rc, 0), NS_OK);
    assert_int_equal(ndestroyed, 0);
    assert_int_equal(a->obj.caps, 1);
    kobj_destroy(&a->obj);
    assert_int_equal(ndestroyed, 1);

    /* two spaces holding each other's last capability, destroyed from out */
    struct fcs *x = fcs_new(2, 201), *y = fcs_new(2, 202);
    y->keep = true; /* x's capability to y goes stale before x dies */
    cap_install(&x->cs.slots[0], &y->obj, NS_RIGHTS_ALL, 0);
    cap_install(&root[0], &x->obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_copy(&rc, 0, &y->cs, 0, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(cap_delete(&rc, 0), NS_OK);
    assert_int_equal(ndestroyed, 1);
    kobj_destroy(&y->obj); /* y goes, drops x's last cap, x goes */
    assert_int_equal(ndestroyed, 3);
    assert_int_equal(destroy_log[1], 202);
    assert_int_equal(destroy_log[2], 201);
    free(y);

    /* an unregistered type is just killed */
    struct kobj plain;
    memset(&plain, 0, sizeof(plain));
    kobj_init(&plain, NS_CAP_MACHINE);
    cap_install(&root[1], &plain, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_delete(&rc, 1), NS_OK);
    assert_false(plain.live);
    assert_int_equal(plain.gen, 1);
}

/* ---- deep structures on a small stack ----------------------------------- */

#define DEEP 10000

struct deep_result {
    int ok;
    size_t destroyed;
    uint32_t caps;
};

static void run_small_stack(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t t;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
    assert_int_equal(pthread_create(&t, &attr, fn, arg), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
}

struct deep_cs {
    struct cspace *rc;
    struct deep_result r;
};

static void *deep_cs_thread(void *p)
{
    struct deep_cs *d = p;
    d->r.ok = cap_delete(d->rc, 0) == NS_OK;
    d->r.destroyed = ndestroyed;
    return NULL;
}

static void test_deep_cspace_cascade(void **state)
{
    (void)state;
    struct cap_slot root[1];
    struct cspace rc;
    struct fcs **sp = calloc(DEEP, sizeof(*sp));
    assert_non_null(sp);
    cspace_init(&rc, root, 1);
    for (int i = 0; i < DEEP; i++)
        sp[i] = fcs_new(3, i);
    for (int i = 0; i + 1 < DEEP; i++) {
        cap_install(&sp[i]->cs.slots[1], &sp[i + 1]->obj, NS_RIGHTS_ALL, 0);
        /* and a derived copy, so the tree spans spaces too */
        assert_int_equal(cap_copy(&sp[i]->cs, 1, &sp[i]->cs, 2, NS_RIGHT_READ), NS_OK);
    }
    cap_install(&root[0], &sp[0]->obj, NS_RIGHTS_ALL, 0);
    struct deep_cs d = {.rc = &rc};
    run_small_stack(deep_cs_thread, &d);
    assert_true(d.r.ok);
    assert_int_equal(d.r.destroyed, DEEP);
    for (int i = 0; i < DEEP; i++)
        assert_int_equal(destroy_log[i], i);
    free(sp);
}

struct deep_chain {
    struct cspace *cs;
    int mode;
    struct deep_result r;
};

static void *deep_chain_thread(void *p)
{
    struct deep_chain *d = p;
    if (d->mode == 0) {
        d->r.ok = cap_revoke(d->cs, 0) == NS_OK;
    } else if (d->mode == 1) {
        d->r.ok = cap_move(d->cs, DEEP / 2, d->cs, DEEP + 1) == NS_OK;
        d->r.ok &= cap_revoke(d->cs, 0) == NS_OK;
    } else {
        cspace_clear(d->cs);
        d->r.ok = 1;
    }
    d->r.destroyed = ndestroyed;
    return NULL;
}

static void test_deep_cdt_chain(void **state)
{
    (void)state;
    struct cap_slot *out;
    for (int mode = 0; mode < 3; mode++) {
        struct cap_slot *slots = calloc(DEEP + 2, sizeof(*slots));
        struct cspace cs;
        struct fobj o;
        assert_non_null(slots);
        cspace_init(&cs, slots, DEEP + 2);
        fobj_init(&o, NS_CAP_ENDPOINT, 7);
        ndestroyed = 0;
        cap_install(&slots[0], &o.obj, NS_RIGHTS_ALL, 0);
        for (uint32_t i = 0; i < DEEP; i++)
            assert_int_equal(cap_copy(&cs, i, &cs, i + 1, NS_RIGHTS_ALL), NS_OK);
        assert_int_equal(o.obj.caps, DEEP + 1);
        struct deep_chain d = {.cs = &cs, .mode = mode};
        run_small_stack(deep_chain_thread, &d);
        assert_true(d.r.ok);
        if (mode < 2) {
            assert_int_equal(o.obj.caps, 1);
            for (uint32_t i = 1; i <= DEEP + 1; i++)
                if (i != DEEP / 2)
                    assert_int_equal(cap_lookup_any(&cs, i, &out), mode == 0 && i == DEEP + 1
                                                                       ? NS_ERR_EMPTY_SLOT
                                                                       : NS_ERR_REVOKED);
            assert_int_equal(d.r.destroyed, 0);
            assert_int_equal(cap_delete(&cs, 0), NS_OK);
        }
        assert_int_equal(ndestroyed, 1);
        assert_false(o.obj.live);
        free(slots);
    }
}

/* ---- random operations against a reference model ------------------------ */

#define RCS   3
#define RSL   12
#define RSLOT (RCS * RSL)
#define ROBJ  8

enum mstate { M_EMPTY, M_TOMB, M_CAP };

struct mslot {
    enum mstate st;
    int obj;
    uint32_t gen;
    uint32_t rights;
    uint64_t badge;
    int parent; /* global slot index, -1: root */
};

struct mobj {
    bool live;
    uint32_t gen;
};

static struct cap_slot rslots[RCS][RSL];
static struct cspace rcs[RCS];
static struct fobj robj[ROBJ];
static struct mslot ms[RSLOT];
static struct mobj mo[ROBJ];
static const enum ns_cap_type rtype[ROBJ] = {NS_CAP_ENDPOINT, NS_CAP_NOTIFICATION, NS_CAP_FRAME,
                                             NS_CAP_CSPACE,   NS_CAP_ENDPOINT,     NS_CAP_FRAME,
                                             NS_CAP_ENDPOINT, NS_CAP_NOTIFICATION};

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33) % n;
}

static bool m_stale(int g)
{
    return ms[g].st == M_TOMB || (ms[g].st == M_CAP && ms[g].gen != mo[ms[g].obj].gen);
}

static struct cap_slot *gslot(int g)
{
    return &rslots[g / RSL][g % RSL];
}

static int live_count(int o)
{
    int n = 0;
    for (int g = 0; g < RSLOT; g++)
        if (ms[g].st == M_CAP && ms[g].obj == o && !m_stale(g))
            n++;
    return n;
}

/* The object-kind fake used here never frees (pool), so "destroyed" is the
 * model's job: a count reaching zero kills the object. */
static void m_after_drop(int o)
{
    if (mo[o].live && live_count(o) == 0) {
        mo[o].live = false;
        mo[o].gen++;
    }
}

static enum ns_error m_src(int cs, uint32_t i, int *g)
{
    if (i >= RSL)
        return NS_ERR_INVALID_SLOT;
    *g = cs * RSL + (int)i;
    if (ms[*g].st == M_EMPTY)
        return NS_ERR_EMPTY_SLOT;
    if (m_stale(*g))
        return NS_ERR_REVOKED;
    return NS_OK;
}

static bool m_is_desc(int g, int anc)
{
    for (int p = ms[g].parent; p >= 0; p = ms[p].parent)
        if (p == anc)
            return true;
    return false;
}

static void m_check(void)
{
    for (int g = 0; g < RSLOT; g++) {
        struct cap_slot *s = gslot(g);
        switch (ms[g].st) {
        case M_EMPTY:
            assert_int_equal(s->type, NS_CAP_NULL);
            assert_false(s->revoked);
            break;
        case M_TOMB:
            assert_int_equal(s->type, NS_CAP_NULL);
            assert_true(s->revoked);
            assert_null(s->cdt_parent);
            assert_null(s->cdt_child);
            break;
        case M_CAP:
            assert_int_equal(s->type, rtype[ms[g].obj]);
            assert_ptr_equal(s->obj, &robj[ms[g].obj].obj);
            assert_int_equal(s->gen, ms[g].gen);
            assert_int_equal(s->rights, ms[g].rights);
            assert_int_equal(s->badge, ms[g].badge);
            assert_ptr_equal(s->cdt_parent, ms[g].parent < 0 ? NULL : gslot(ms[g].parent));
            assert_int_equal(cap_slot_stale(s), m_stale(g));
            if (s->cdt_prev)
                assert_ptr_equal(s->cdt_prev->cdt_next, s);
            else if (s->cdt_parent)
                assert_ptr_equal(s->cdt_parent->cdt_child, s);
            if (s->cdt_next) {
                assert_ptr_equal(s->cdt_next->cdt_prev, s);
                assert_ptr_equal(s->cdt_next->cdt_parent, s->cdt_parent);
            }
            break;
        }
    }
    for (int o = 0; o < ROBJ; o++) {
        assert_int_equal(robj[o].obj.live, mo[o].live);
        assert_int_equal(robj[o].obj.gen, mo[o].gen);
        if (mo[o].live)
            assert_int_equal(robj[o].obj.caps, live_count(o));
    }
}

static void pool_destroy(struct kobj *o)
{
    log_destroy(((struct fobj *)o)->id);
    kobj_kill(o);
}
static const struct kobj_type_ops pool_ops = {.destroy = pool_destroy};

static void test_random_against_model(void **state)
{
    (void)state;
    size_t expect_destroyed = 0, ok[6] = {0};
    memset(rslots, 0, sizeof(rslots));
    memset(ms, 0, sizeof(ms));
    kobj_register_type(NS_CAP_CSPACE, &pool_ops); /* a pool "cspace" without slots */
    for (int c = 0; c < RCS; c++)
        cspace_init(&rcs[c], rslots[c], RSL);
    for (int o = 0; o < ROBJ; o++) {
        memset(&robj[o], 0, sizeof(robj[o]));
        fobj_init(&robj[o], rtype[o], o);
        mo[o].live = true;
        mo[o].gen = 0;
    }
    for (int g = 0; g < RSLOT; g++)
        ms[g].parent = -1;
    rng_state = 12345;

    for (int step = 0; step < 200000; step++) {
        int op = (int)rnd(100);
        int sc = (int)rnd(RCS), dc = (int)rnd(RCS);
        uint32_t si = rnd(RSL + 1), di = rnd(RSL + 1); /* RSL: out of range */
        uint32_t mask = rnd(10) ? rnd(16) : rnd(64);
        uint64_t badge = rnd(3) ? 0 : 1 + rnd(1000);
        int sg = -1, dg = -1;
        enum ns_error want, got;

        if (op < 10) { /* install a first capability to a fresh object */
            int o = (int)rnd(ROBJ);
            if (si >= RSL || ms[sc * RSL + si].st == M_CAP)
                continue;
            if (mo[o].live && live_count(o) > 0)
                continue;
            if (!mo[o].live) {
                fobj_init(&robj[o], rtype[o], o);
                mo[o].live = true;
            }
            sg = sc * (int)RSL + (int)si;
            cap_install(gslot(sg), &robj[o].obj, mask & NS_RIGHTS_ALL, badge);
            ms[sg] = (struct mslot){M_CAP, o, mo[o].gen, mask & NS_RIGHTS_ALL, badge, -1};
        } else if (op < 60) { /* copy / mint / move */
            int kind = (int)rnd(3);
            want = m_src(sc, si, &sg);
            if (want == NS_OK) {
                if (di >= RSL)
                    want = NS_ERR_INVALID_SLOT;
                else if ((dg = dc * RSL + (int)di) == sg)
                    want = NS_ERR_INVALID_ARG;
                else if (ms[dg].st == M_CAP)
                    want = NS_ERR_SLOT_OCCUPIED;
                else if (kind != 2 && (mask & ~NS_RIGHTS_ALL))
                    want = NS_ERR_INVALID_ARG;
                else if (kind == 1 && badge &&
                         ((rtype[ms[sg].obj] != NS_CAP_ENDPOINT &&
                           rtype[ms[sg].obj] != NS_CAP_NOTIFICATION) ||
                          ms[sg].badge))
                    want = NS_ERR_INVALID_ARG;
            }
            if (kind == 0)
                got = cap_copy(&rcs[sc], si, &rcs[dc], di, mask);
            else if (kind == 1)
                got = cap_mint(&rcs[sc], si, &rcs[dc], di, mask, badge);
            else
                got = cap_move(&rcs[sc], si, &rcs[dc], di);
            assert_int_equal(got, want);
            ok[kind] += want == NS_OK;
            if (want == NS_OK && kind < 2) {
                ms[dg] = ms[sg];
                ms[dg].rights &= mask;
                if (kind == 1 && badge)
                    ms[dg].badge = badge;
                ms[dg].parent = sg;
            } else if (want == NS_OK) {
                ms[dg] = ms[sg];
                for (int g = 0; g < RSLOT; g++)
                    if (ms[g].parent == sg)
                        ms[g].parent = dg;
                ms[sg] = (struct mslot){M_EMPTY, 0, 0, 0, 0, -1};
            }
        } else if (op < 75) { /* delete */
            if (si >= RSL)
                want = NS_ERR_INVALID_SLOT;
            else if (ms[sg = sc * RSL + (int)si].st == M_EMPTY)
                want = NS_ERR_EMPTY_SLOT;
            else
                want = NS_OK;
            assert_int_equal(cap_delete(&rcs[sc], si), want);
            ok[3] += want == NS_OK;
            if (want == NS_OK) {
                int o = ms[sg].obj;
                bool counted = ms[sg].st == M_CAP && !m_stale(sg);
                for (int g = 0; g < RSLOT; g++)
                    if (ms[g].parent == sg)
                        ms[g].parent = ms[sg].parent;
                ms[sg] = (struct mslot){M_EMPTY, 0, 0, 0, 0, -1};
                if (counted) {
                    bool was = mo[o].live;
                    m_after_drop(o);
                    expect_destroyed += was && !mo[o].live;
                }
            }
        } else if (op < 88) { /* revoke */
            want = m_src(sc, si, &sg);
            assert_int_equal(cap_revoke(&rcs[sc], si), want);
            ok[4] += want == NS_OK;
            if (want == NS_OK) {
                bool d[RSLOT];
                for (int g = 0; g < RSLOT; g++)
                    d[g] = ms[g].st == M_CAP && m_is_desc(g, sg);
                for (int g = 0; g < RSLOT; g++)
                    if (d[g])
                        ms[g] = (struct mslot){M_TOMB, 0, 0, 0, 0, -1};
                m_after_drop(ms[sg].obj);
            }
        } else if (op < 90) { /* the kernel destroys an object outright */
            int o = (int)rnd(ROBJ);
            bool was = mo[o].live;
            kobj_destroy(&robj[o].obj);
            if (was) {
                mo[o].live = false;
                mo[o].gen++;
                expect_destroyed++;
            }
        } else { /* lookups */
            struct cap_slot *out;
            uint32_t need = rnd(16);
            enum ns_cap_type t = rtype[rnd(ROBJ)];
            want = m_src(sc, si, &sg);
            if (want == NS_OK && rnd(2)) {
                t = rtype[ms[sg].obj];
                need &= ms[sg].rights;
            }
            if (want == NS_OK && rtype[ms[sg].obj] != t)
                want = NS_ERR_WRONG_TYPE;
            else if (want == NS_OK && (need & ~ms[sg].rights))
                want = NS_ERR_NO_RIGHTS;
            assert_int_equal(cap_lookup(&rcs[sc], si, t, need, &out), want);
            ok[5] += want == NS_OK;
        }
        m_check();
        assert_int_equal(ndestroyed, expect_destroyed);
    }
    assert_true(expect_destroyed > 100);
    for (int k = 0; k < 6; k++)
        assert_true(ok[k] > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lookup_errors_and_order, setup),
        cmocka_unit_test_setup(test_copy_mint_move_errors, setup),
        cmocka_unit_test_setup(test_rights_only_shrink, setup),
        cmocka_unit_test_setup(test_badges, setup),
        cmocka_unit_test_setup(test_move_keeps_cdt_position, setup),
        cmocka_unit_test_setup(test_delete_reparents_in_order, setup),
        cmocka_unit_test_setup(test_revoke_across_cspaces, setup),
        cmocka_unit_test_setup(test_last_cap_destroys_only_then, setup),
        cmocka_unit_test_setup(test_stale_after_reuse, setup),
        cmocka_unit_test_setup(test_cspace_self_and_cycles, setup),
        cmocka_unit_test_setup(test_deep_cspace_cascade, setup),
        cmocka_unit_test_setup(test_deep_cdt_chain, setup),
        cmocka_unit_test_setup(test_random_against_model, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
