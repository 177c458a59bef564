/* Host tests for kernel/core/bank.c (with kobj.c and cap.c).
 *
 * Fake objects and banks live on the heap and their destroy hooks log,
 * uncharge, kill and free, so ASan catches any access after destruction.
 * Objects that a test keeps stale capabilities to are not freed by their
 * hook ("pool" objects), as the kernel's type-stable allocator would keep
 * their memory. Deep cases run on a 64 KiB thread stack (no cmocka asserts
 * inside the thread). */
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

#define PG BANK_PAGE_SIZE

/* ---- fakes ----------------------------------------------------------- */

struct fobj {
    struct kobj obj;
    int id;
    bool pool;           /* hook does not free */
    uint64_t loose;      /* extra bytes charged with bank_charge */
    enum ns_error probe; /* for the "charge while dying" check */
};

struct fbank {
    struct bank b; /* first: &b.obj is the start of the struct */
    int id;
    bool pool;
};

struct fcs {
    struct kobj obj;
    int id;
    struct cspace cs;
    struct cap_slot slots[6];
};

#define LOG_MAX 40000
static int destroy_log[LOG_MAX];
static size_t ndestroyed;
static int hook_calls[LOG_MAX]; /* per id */

static void log_destroy(int id)
{
    if (ndestroyed < LOG_MAX)
        destroy_log[ndestroyed] = id;
    ndestroyed++;
    if (id >= 0 && id < LOG_MAX)
        hook_calls[id]++;
}

static void fobj_destroy(struct kobj *o)
{
    struct fobj *f = (struct fobj *)o;
    if (f->loose)
        bank_uncharge(o->bank, f->loose);
    log_destroy(f->id);
    bank_uncharge_object(o);
    kobj_kill(o);
    if (!f->pool)
        free(f);
}

/* Tries to charge its own bank while being destroyed. */
static void probe_destroy(struct kobj *o)
{
    struct fobj *f = (struct fobj *)o;
    f->probe = bank_charge(o->bank, 1);
    if (f->probe == NS_OK)
        bank_uncharge(o->bank, 1);
    fobj_destroy(o);
}

static void fbank_destroy(struct kobj *o)
{
    struct fbank *fb = (struct fbank *)o;
    bank_teardown(&fb->b);
    log_destroy(fb->id);
    bank_uncharge_object(o);
    kobj_kill(o);
    if (!fb->pool)
        free(fb);
}

static void fcs_destroy(struct kobj *o)
{
    struct fcs *c = (struct fcs *)o;
    cspace_clear(&c->cs);
    log_destroy(c->id);
    bank_uncharge_object(o);
    kobj_kill(o);
    free(c);
}

static const struct kobj_type_ops fobj_ops = {.destroy = fobj_destroy};
static const struct kobj_type_ops probe_ops = {.destroy = probe_destroy};
static const struct kobj_type_ops fbank_ops = {.destroy = fbank_destroy};
static const struct kobj_type_ops fcs_ops = {.destroy = fcs_destroy};

static int setup(void **state)
{
    (void)state;
    ndestroyed = 0;
    memset(hook_calls, 0, sizeof(hook_calls));
    kobj_register_type(NS_CAP_FRAME, &fobj_ops);
    kobj_register_type(NS_CAP_ENDPOINT, &fobj_ops);
    kobj_register_type(NS_CAP_ASPACE, &fobj_ops);
    kobj_register_type(NS_CAP_NOTIFICATION, &probe_ops);
    kobj_register_type(NS_CAP_BANK, &fbank_ops);
    kobj_register_type(NS_CAP_CSPACE, &fcs_ops);
    return 0;
}

static struct fbank root;

static void root_init(uint64_t limit)
{
    memset(&root, 0, sizeof(root));
    bank_init_root(&root.b, limit);
    root.id = 0;
    root.pool = true;
}

static struct fbank *mk_bank(struct bank *parent, uint64_t limit, uint64_t self, int id,
                             enum ns_error *err)
{
    struct fbank *fb = calloc(1, sizeof(*fb));
    assert_non_null(fb);
    kobj_init(&fb->b.obj, NS_CAP_BANK);
    fb->id = id;
    *err = bank_charge_object(parent, &fb->b.obj, self);
    if (*err != NS_OK) {
        free(fb);
        return NULL;
    }
    bank_init_child(&fb->b, parent, limit);
    return fb;
}

static struct fbank *bank_ok(struct bank *parent, uint64_t limit, uint64_t self, int id)
{
    enum ns_error err;
    struct fbank *fb = mk_bank(parent, limit, self, id, &err);
    assert_int_equal(err, NS_OK);
    return fb;
}

static struct fobj *mk_obj(struct bank *b, enum ns_cap_type t, uint64_t bytes, int id,
                           enum ns_error *err)
{
    struct fobj *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    kobj_init(&f->obj, t);
    f->id = id;
    *err = bank_charge_object(b, &f->obj, bytes);
    if (*err != NS_OK) {
        free(f);
        return NULL;
    }
    return f;
}

static struct fobj *obj_ok(struct bank *b, uint64_t bytes, int id)
{
    enum ns_error err;
    struct fobj *f = mk_obj(b, NS_CAP_FRAME, bytes, id, &err);
    assert_int_equal(err, NS_OK);
    return f;
}

static struct fcs *cs_ok(struct bank *b, uint64_t bytes, int id)
{
    struct fcs *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    kobj_init(&c->obj, NS_CAP_CSPACE);
    c->id = id;
    cspace_init(&c->cs, c->slots, 6);
    assert_int_equal(bank_charge_object(b, &c->obj, bytes), NS_OK);
    return c;
}

static uint64_t list_len(const struct bank *b)
{
    uint64_t n = 0;
    for (const struct kobj *o = b->objects; o; o = o->bank_next) {
        assert_ptr_equal(o->bank, b);
        if (o->bank_next)
            assert_ptr_equal(o->bank_next->bank_prev, o);
        n++;
    }
    return n;
}

/* used = own objects + sub-banks' used + loose. Returns the loose part. */
static uint64_t check_sums(const struct bank *b)
{
    uint64_t own = 0, sub = 0;
    for (const struct kobj *o = b->objects; o; o = o->bank_next)
        own += o->charge;
    for (const struct bank *c = b->child; c; c = c->sibling_next) {
        assert_ptr_equal(c->parent, b);
        sub += c->used_bytes;
    }
    assert_int_equal(list_len(b), b->nobjects);
    assert_true(b->used_bytes >= own + sub);
    return b->used_bytes - own - sub;
}

/* ---- limits and charges ------------------------------------------------ */

static void test_init_and_pages(void **state)
{
    (void)state;
    root_init(100 * PG);
    assert_int_equal(bank_limit_pages(&root.b), 100);
    assert_int_equal(bank_used_bytes(&root.b), 0);
    assert_int_equal(bank_used_pages(&root.b), 0);
    assert_true(root.b.obj.live);
    assert_int_equal(root.b.obj.type, NS_CAP_BANK);
    assert_int_equal(bank_charge(&root.b, 1), NS_OK);
    assert_int_equal(bank_used_pages(&root.b), 1);
    assert_int_equal(bank_charge(&root.b, PG - 1), NS_OK);
    assert_int_equal(bank_used_pages(&root.b), 1);
    assert_int_equal(bank_charge(&root.b, 1), NS_OK);
    assert_int_equal(bank_used_pages(&root.b), 2);
    assert_int_equal(bank_used_bytes(&root.b), PG + 1);

    assert_int_equal(bank_set_limit_pages(&root.b, UINT64_MAX / PG + 1), NS_ERR_INVALID_ARG);
    assert_int_equal(bank_limit_pages(&root.b), 100);
    assert_int_equal(bank_set_limit_pages(&root.b, UINT64_MAX / PG), NS_OK);
    assert_int_equal(bank_limit_pages(&root.b), UINT64_MAX / PG);
    assert_int_equal(bank_set_limit_pages(&root.b, UINT64_MAX), NS_OK);
    assert_int_equal(root.b.limit_bytes, UINT64_MAX);
    assert_int_equal(bank_limit_pages(&root.b), UINT64_MAX);
    /* no wrap: an unlimited bank still refuses what would overflow */
    assert_int_equal(bank_charge(&root.b, UINT64_MAX), NS_ERR_NO_QUOTA);
    assert_int_equal(bank_charge(&root.b, UINT64_MAX - (PG + 1)), NS_OK);
    assert_int_equal(bank_charge(&root.b, 1), NS_ERR_NO_QUOTA);
    assert_int_equal(bank_used_bytes(&root.b), UINT64_MAX);
    bank_uncharge(&root.b, UINT64_MAX);
    assert_int_equal(bank_used_bytes(&root.b), 0);
    assert_int_equal(bank_charge(&root.b, 0), NS_OK);
}

struct tree3 {
    struct fbank *a, *b, *c, *a2;
};

struct bank_snap {
    uint64_t used[5], nobj[5];
    struct kobj *head[5];
};

static void take(struct bank_snap *s, struct bank *const *bs)
{
    for (int i = 0; i < 5; i++) {
        s->used[i] = bs[i]->used_bytes;
        s->nobj[i] = bs[i]->nobjects;
        s->head[i] = bs[i]->objects;
    }
}

static void same(const struct bank_snap *x, const struct bank_snap *y)
{
    assert_memory_equal(x, y, sizeof(*x));
}

static void test_three_level_limits(void **state)
{
    (void)state;
    enum ns_error err;
    struct bank_snap s0, s1;
    root_init(64 * PG);
    /* root 64 pages > A 32 > B 48 (looser than A: A still binds) > C 8 */
    struct fbank *a = bank_ok(&root.b, 32 * PG, PG, 1);
    struct fbank *b = bank_ok(&a->b, 48 * PG, PG, 2);
    struct fbank *c = bank_ok(&b->b, 8 * PG, 0, 3);
    struct fbank *a2 = bank_ok(&root.b, UINT64_MAX, 0, 4);
    struct bank *all[5] = {&root.b, &a->b, &b->b, &c->b, &a2->b};
    assert_int_equal(root.b.used_bytes, 2 * PG);
    assert_int_equal(a->b.used_bytes, PG);
    assert_int_equal(root.b.nobjects, 2);

    /* C's own limit */
    struct fobj *o1 = obj_ok(&c->b, 8 * PG, 10);
    take(&s0, all);
    assert_null(mk_obj(&c->b, NS_CAP_FRAME, 1, 11, &err));
    assert_int_equal(err, NS_ERR_NO_QUOTA);
    assert_int_equal(bank_charge(&c->b, 1), NS_ERR_NO_QUOTA);
    take(&s1, all);
    same(&s0, &s1);
    assert_int_equal(b->b.used_bytes, 8 * PG);
    assert_int_equal(a->b.used_bytes, 9 * PG);
    assert_int_equal(root.b.used_bytes, 10 * PG);

    /* A binds B (whose own limit is looser) */
    assert_int_equal(bank_charge(&b->b, 23 * PG), NS_OK);
    take(&s0, all);
    assert_int_equal(bank_charge(&b->b, 1), NS_ERR_NO_QUOTA);
    assert_null(mk_obj(&b->b, NS_CAP_FRAME, PG, 12, &err));
    assert_int_equal(err, NS_ERR_NO_QUOTA);
    assert_null(mk_bank(&b->b, UINT64_MAX, 1, 13, &err));
    assert_int_equal(err, NS_ERR_NO_QUOTA);
    take(&s1, all);
    same(&s0, &s1);
    assert_int_equal(a->b.used_bytes, 32 * PG);
    bank_uncharge(&b->b, 23 * PG);

    /* the root binds its unlimited child */
    assert_int_equal(root.b.used_bytes, 10 * PG);
    assert_int_equal(bank_charge(&a2->b, 54 * PG), NS_OK);
    take(&s0, all);
    assert_int_equal(bank_charge(&a2->b, 1), NS_ERR_NO_QUOTA);
    assert_int_equal(bank_charge(&c->b, 1), NS_ERR_NO_QUOTA);
    assert_int_equal(bank_charge(&c->b, 0), NS_OK); /* exactly full is fine */
    take(&s1, all);
    same(&s0, &s1);
    bank_uncharge(&a2->b, 54 * PG);

    /* charge_object's own errors change nothing either */
    struct fobj dead;
    memset(&dead, 0, sizeof(dead));
    take(&s0, all);
    assert_int_equal(bank_charge_object(&a2->b, &dead.obj, 1), NS_ERR_INVALID_ARG);
    assert_int_equal(bank_charge_object(&a2->b, &o1->obj, 1), NS_ERR_BAD_STATE);
    assert_int_equal(bank_charge_object(&c->b, &o1->obj, 1), NS_ERR_BAD_STATE);
    take(&s1, all);
    same(&s0, &s1);
    assert_ptr_equal(o1->obj.bank, &c->b);
    assert_int_equal(o1->obj.charge, 8 * PG);
    assert_null(dead.obj.bank);

    /* a limit lowered below use: charges fail until usage drops */
    assert_int_equal(bank_set_limit_pages(&a->b, 1), NS_OK);
    assert_int_equal(bank_charge(&b->b, 0), NS_ERR_NO_QUOTA);
    assert_int_equal(bank_charge(&a->b, 0), NS_ERR_NO_QUOTA);
    kobj_destroy(&o1->obj);
    assert_int_equal(a->b.used_bytes, PG);
    assert_int_equal(bank_charge(&a->b, 0), NS_OK);
    assert_int_equal(bank_charge(&a->b, 1), NS_ERR_NO_QUOTA);
    assert_int_equal(bank_set_limit_pages(&a->b, 32), NS_OK);

    /* uncharging more than a bank uses is clamped to what it uses */
    assert_int_equal(bank_charge(&c->b, 100), NS_OK);
    assert_int_equal(bank_charge(&b->b, 50), NS_OK);
    uint64_t ra = a->b.used_bytes, rr = root.b.used_bytes;
    bank_uncharge(&c->b, 1000);
    assert_int_equal(c->b.used_bytes, 0);
    assert_int_equal(b->b.used_bytes, 50);
    assert_int_equal(a->b.used_bytes, ra - 100);
    assert_int_equal(root.b.used_bytes, rr - 100);
    bank_uncharge(&b->b, 50);

    for (int i = 0; i < 5; i++)
        assert_int_equal(check_sums(all[i]), 0);
    bank_teardown(&a->b);
    bank_teardown(&a2->b);
    assert_int_equal(root.b.used_bytes, 0);
    assert_int_equal(root.b.nobjects, 0);
    assert_null(root.b.child);
    assert_int_equal(hook_calls[10], 1);
    assert_int_equal(hook_calls[1] + hook_calls[2] + hook_calls[3] + hook_calls[4], 4);
}

/* ---- teardown ---------------------------------------------------------- */

static void test_teardown_order_and_accounting(void **state)
{
    (void)state;
    for (int direct = 0; direct < 2; direct++) {
        root_init(UINT64_MAX);
        setup(NULL);
        struct fobj *keep = obj_ok(&root.b, 7, 99);
        uint64_t before = root.b.used_bytes;
        /* A: objects 10, 11; sub-banks B (objects 20; sub-bank C with 30)
         * and B2 (object 40, a loose charge) */
        struct fbank *a = bank_ok(&root.b, UINT64_MAX, 100, 1);
        obj_ok(&a->b, 1, 10);
        struct fbank *b = bank_ok(&a->b, UINT64_MAX, 200, 2);
        obj_ok(&b->b, 2, 20);
        struct fbank *c = bank_ok(&b->b, UINT64_MAX, 300, 3);
        obj_ok(&c->b, 3, 30);
        struct fbank *b2 = bank_ok(&a->b, UINT64_MAX, 400, 4);
        struct fobj *o40 = obj_ok(&b2->b, 4, 40);
        o40->loose = 1000;
        assert_int_equal(bank_charge(&b2->b, 1000), NS_OK);
        assert_int_equal(bank_charge(&b2->b, 5), NS_OK); /* nobody's: dropped at teardown */
        obj_ok(&a->b, 5, 11);
        assert_int_equal(check_sums(&b2->b), 1005);
        assert_int_equal(root.b.used_bytes,
                         before + 100 + 1 + 200 + 2 + 300 + 3 + 400 + 4 + 1005 + 5);
        assert_int_equal(a->b.nobjects, 4); /* 10, 11 and the structs of B and B2 */

        if (direct)
            bank_teardown(&a->b);
        else
            kobj_destroy(&a->b.obj);
        /* deepest first: B2 (newest child) and its object, then C, B, then
         * A's own objects, A last */
        int want[] = {40, 4, 30, 3, 20, 2, 11, 10, 1};
        assert_int_equal(ndestroyed, 9);
        for (int i = 0; i < 9; i++)
            assert_int_equal(destroy_log[i], want[i]);
        assert_int_equal(root.b.used_bytes, before);
        assert_int_equal(root.b.nobjects, 1);
        assert_ptr_equal(root.b.objects, &keep->obj);
        assert_null(root.b.child);
        assert_int_equal(check_sums(&root.b), 0);
        kobj_destroy(&keep->obj);
        assert_int_equal(root.b.used_bytes, 0);
    }
}

static void test_teardown_with_caps(void **state)
{
    (void)state;
    struct cap_slot rs[8];
    struct cspace rc;
    struct cap_slot *out;
    enum ns_error err;
    cspace_init(&rc, rs, 8);
    root_init(UINT64_MAX);

    /* In the root: `shared` is capped from rc and from A's space, `only`
     * from A's space alone. */
    struct fobj *shared = obj_ok(&root.b, 1, 50);
    struct fobj *only = obj_ok(&root.b, 1, 51);
    cap_install(&rs[0], &shared->obj, NS_RIGHTS_ALL, 0);
    struct fbank *a = bank_ok(&root.b, UINT64_MAX, 8, 1);
    struct fbank *s = bank_ok(&root.b, UINT64_MAX, 8, 2); /* a sibling of A */
    cap_install(&rs[1], &a->b.obj, NS_RIGHTS_ALL, 0);
    cap_install(&rs[2], &s->b.obj, NS_RIGHTS_ALL, 0);

    /* In A, oldest first (the walk meets them newest first): eq, capped
     * only from the space, so clearing the space queues it before the walk
     * reaches it; es, also capped from rc (pool: that cap goes stale); the
     * space; a probe that tries to charge its dying bank. */
    struct fobj *eq = mk_obj(&a->b, NS_CAP_ENDPOINT, 1, 60, &err);
    struct fobj *es = mk_obj(&a->b, NS_CAP_ENDPOINT, 1, 64, &err);
    es->pool = true;
    struct fcs *sp = cs_ok(&a->b, 16, 61);
    struct fobj *pr = mk_obj(&a->b, NS_CAP_NOTIFICATION, 1, 62, &err);
    assert_int_equal(err, NS_OK);
    pr->pool = true;
    cap_install(&sp->cs.slots[0], &eq->obj, NS_RIGHTS_ALL, 0);
    cap_install(&sp->cs.slots[1], &es->obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_copy(&sp->cs, 1, &rc, 3, NS_RIGHT_READ), NS_OK);
    assert_int_equal(cap_copy(&rc, 0, &sp->cs, 2, NS_RIGHT_READ), NS_OK);
    cap_install(&sp->cs.slots[3], &only->obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_move(&rc, 2, &sp->cs, 4), NS_OK); /* last cap to S */
    assert_int_equal(shared->obj.caps, 2);
    assert_int_equal(es->obj.caps, 2);

    /* Deleting the last capability to A destroys A and all in it; the
     * space's clearing destroys `only` and S, from the queue, after A. */
    assert_int_equal(cap_delete(&rc, 1), NS_OK);
    int want[] = {62, 61, 64, 60, 1, 51, 2};
    assert_int_equal(ndestroyed, 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(destroy_log[i], want[i]);
    assert_int_equal(pr->probe, NS_ERR_BAD_STATE);
    assert_int_equal(cap_lookup_any(&rc, 3, &out), NS_ERR_REVOKED);
    assert_null(rs[0].cdt_child);
    assert_int_equal(shared->obj.caps, 1);
    assert_int_equal(root.b.used_bytes, 1);
    assert_int_equal(root.b.nobjects, 1);
    assert_null(root.b.child);

    /* es's memory reused: the stale capability does not touch it */
    kobj_init(&es->obj, NS_CAP_ENDPOINT);
    assert_int_equal(bank_charge_object(&root.b, &es->obj, 1), NS_OK);
    cap_install(&rs[4], &es->obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(cap_delete(&rc, 3), NS_OK);
    assert_int_equal(es->obj.caps, 1);
    assert_true(es->obj.live);
    cspace_clear(&rc);
    assert_int_equal(hook_calls[50], 1);
    assert_int_equal(hook_calls[64], 2);
    assert_int_equal(root.b.used_bytes, 0);
    free(es);
    free(pr);

    /* a probe in a live bank can charge */
    pr = mk_obj(&root.b, NS_CAP_NOTIFICATION, 1, 63, &err);
    assert_int_equal(err, NS_OK);
    pr->pool = true;
    kobj_destroy(&pr->obj);
    assert_int_equal(pr->probe, NS_OK);
    assert_int_equal(root.b.used_bytes, 0);
    free(pr);
}

static void test_teardown_cycles(void **state)
{
    (void)state;
    root_init(UINT64_MAX);
    /* A's space holds the only capability to A: a cycle nothing else can
     * reclaim. Tearing down the parent does. */
    struct fbank *p = bank_ok(&root.b, UINT64_MAX, 1, 1);
    struct fbank *a = bank_ok(&p->b, UINT64_MAX, 1, 2);
    struct fcs *sp = cs_ok(&a->b, 1, 3);
    cap_install(&sp->cs.slots[0], &a->b.obj, NS_RIGHTS_ALL, 0);
    cap_install(&sp->cs.slots[1], &sp->obj, NS_RIGHTS_ALL, 0);
    /* and one in P naming P */
    struct fcs *sq = cs_ok(&p->b, 1, 4);
    cap_install(&sq->cs.slots[0], &p->b.obj, NS_RIGHTS_ALL, 0);
    kobj_destroy(&p->b.obj);
    assert_int_equal(ndestroyed, 4);
    for (int i = 1; i <= 4; i++)
        assert_int_equal(hook_calls[i], 1);
    assert_int_equal(root.b.used_bytes, 0);

    /* teardown of a bank with nothing in it, twice through its hook path */
    struct fbank *q = bank_ok(&root.b, UINT64_MAX, 1, 5);
    bank_teardown(&q->b);
    assert_int_equal(hook_calls[5], 1);
    assert_int_equal(root.b.used_bytes, 0);
    assert_null(root.b.objects);
}

/* ---- deep structures on a small stack ---------------------------------- */

#define DEEP 10000

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

struct deep_arg {
    int mode;
    struct bank *top;
    struct cspace *rc;
};

static void *deep_thread(void *p)
{
    struct deep_arg *d = p;
    if (d->mode == 0)
        kobj_destroy(&d->top->obj);
    else if (d->mode == 1)
        bank_teardown(d->top);
    else
        cap_delete(d->rc, 0);
    return NULL;
}

static void test_deep_bank_chain(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        setup(NULL);
        root_init(UINT64_MAX);
        struct bank *parent = &root.b, *top = NULL;
        for (int i = 0; i < DEEP; i++) {
            struct fbank *fb = bank_ok(parent, UINT64_MAX, 64, 2 * i);
            obj_ok(&fb->b, 8, 2 * i + 1);
            if (!top)
                top = &fb->b;
            parent = &fb->b;
        }
        assert_int_equal(root.b.used_bytes, (uint64_t)DEEP * 72);
        struct deep_arg d = {.mode = mode, .top = top};
        run_small_stack(deep_thread, &d);
        assert_int_equal(ndestroyed, 2 * DEEP);
        /* deepest first */
        assert_int_equal(destroy_log[0], 2 * DEEP - 1);
        assert_int_equal(destroy_log[1], 2 * DEEP - 2);
        assert_int_equal(destroy_log[2 * DEEP - 1], 0);
        for (int i = 0; i < 2 * DEEP; i++)
            assert_int_equal(hook_calls[i], 1);
        assert_int_equal(root.b.used_bytes, 0);
        assert_null(root.b.child);
        assert_null(root.b.objects);
    }
}

static void test_deep_cap_chain_of_banks(void **state)
{
    (void)state;
    /* bank i holds a space holding the last capability to bank i+1 */
    struct cap_slot rs[1];
    struct cspace rc;
    cspace_init(&rc, rs, 1);
    root_init(UINT64_MAX);
    struct fcs *prev_sp = NULL;
    for (int i = 0; i < DEEP / 2; i++) {
        struct fbank *fb = bank_ok(&root.b, UINT64_MAX, 64, 2 * i);
        struct fcs *sp = cs_ok(&fb->b, 8, 2 * i + 1);
        if (prev_sp)
            cap_install(&prev_sp->cs.slots[0], &fb->b.obj, NS_RIGHTS_ALL, 0);
        else
            cap_install(&rs[0], &fb->b.obj, NS_RIGHTS_ALL, 0);
        prev_sp = sp;
    }
    struct deep_arg d = {.mode = 2, .rc = &rc};
    run_small_stack(deep_thread, &d);
    assert_int_equal(ndestroyed, DEEP);
    for (int i = 0; i < DEEP; i++)
        assert_int_equal(hook_calls[i], 1);
    assert_int_equal(root.b.used_bytes, 0);
    assert_null(root.b.child);
}

/* ---- random sequences against a model ------------------------------------ */

#define MB 48
#define MO 600

enum mstate { M_UNUSED, M_ALIVE, M_DEAD };

struct mbank {
    enum mstate st;
    int parent;
    uint64_t limit, self, loose;
    struct fbank *p;
};
struct mobj {
    enum mstate st;
    int bank;
    uint64_t bytes; /* including a loose charge it owns */
    uint64_t loose; /* that loose charge */
    struct fobj *p;
};
static struct mbank mb[MB];
static struct mobj mo[MO];
static uint64_t mused[MB];

static uint64_t rng;
static uint64_t rnd(uint64_t n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (rng >> 33) % n;
}

/* used(b) = own(b) + sum over live descendants d of (self(d) + own(d)) */
static void m_compute(void)
{
    uint64_t own[MB];
    for (int b = 0; b < MB; b++)
        own[b] = mb[b].st == M_ALIVE ? mb[b].loose : 0;
    for (int o = 0; o < MO; o++)
        if (mo[o].st == M_ALIVE)
            own[mo[o].bank] += mo[o].bytes;
    for (int b = 0; b < MB; b++)
        mused[b] = own[b];
    for (int c = 1; c < MB; c++)
        if (mb[c].st == M_ALIVE)
            for (int a = mb[c].parent; a >= 0; a = mb[a].parent)
                mused[a] += mb[c].self + own[c];
}

static bool m_fits(int b, uint64_t bytes)
{
    for (int a = b; a >= 0; a = mb[a].parent)
        if (mused[a] > mb[a].limit || bytes > mb[a].limit - mused[a])
            return false;
    return true;
}

static bool m_under(int b, int anc)
{
    for (int a = b; a >= 0; a = mb[a].parent)
        if (a == anc)
            return true;
    return false;
}

static struct bank *mbank_ptr(int b)
{
    return &mb[b].p->b;
}

static void m_check_all(void)
{
    m_compute();
    for (int b = 0; b < MB; b++) {
        if (b > 0)
            assert_int_equal(hook_calls[b], mb[b].st == M_DEAD);
        if (mb[b].st != M_ALIVE)
            continue;
        struct bank *bp = mbank_ptr(b);
        assert_int_equal(bp->used_bytes, mused[b]);
        uint64_t n = 0, loose = mb[b].loose;
        for (int o = 0; o < MO; o++) {
            n += mo[o].st == M_ALIVE && mo[o].bank == b;
            loose += mo[o].st == M_ALIVE && mo[o].bank == b ? mo[o].loose : 0;
        }
        assert_int_equal(check_sums(bp), loose);
        for (int c = 1; c < MB; c++)
            n += mb[c].st == M_ALIVE && mb[c].parent == b;
        assert_int_equal(bp->nobjects, n);
        assert_int_equal(bp->limit_bytes, mb[b].limit);
    }
    for (int o = 0; o < MO; o++)
        assert_int_equal(hook_calls[1000 + o], mo[o].st == M_DEAD);
}

static int pick_bank(void)
{
    for (int tries = 0; tries < 100; tries++) {
        int b = (int)rnd(MB);
        if (mb[b].st == M_ALIVE)
            return b;
    }
    return 0;
}

static int free_slot_bank(void)
{
    for (int i = 1; i < MB; i++)
        if (mb[i].st == M_UNUSED)
            return i;
    for (int i = 1; i < MB; i++)
        if (mb[i].st == M_DEAD)
            return i;
    return -1;
}

static int free_slot_obj(void)
{
    int dead = -1;
    for (int i = 0; i < MO; i++) {
        if (mo[i].st == M_UNUSED)
            return i;
        if (mo[i].st == M_DEAD && dead < 0)
            dead = i;
    }
    return dead;
}

static void test_random_against_model(void **state)
{
    (void)state;
    memset(mb, 0, sizeof(mb));
    memset(mo, 0, sizeof(mo));
    root_init(4096 * PG);
    mb[0] = (struct mbank){M_ALIVE, -1, 4096 * PG, 0, 0, &root};
    rng = 0x5eed;
    size_t created = 0, refused = 0, torn = 0;

    for (int step = 0; step < 20000; step++) {
        uint64_t op = rnd(100);
        int b = pick_bank();
        enum ns_error err;

        m_compute();
        if (op < 12) { /* sub-bank */
            int slot = free_slot_bank();
            if (slot < 0)
                continue;
            uint64_t self = rnd(3) * PG + rnd(64);
            uint64_t limit = rnd(4) ? rnd(600) * PG : UINT64_MAX;
            bool want = m_fits(b, self);
            struct fbank *fb = mk_bank(mbank_ptr(b), limit, self, slot, &err);
            assert_int_equal(err, want ? NS_OK : NS_ERR_NO_QUOTA);
            if (fb) {
                mb[slot] = (struct mbank){M_ALIVE, b, limit, self, 0, fb};
                hook_calls[slot] = 0;
            }
            refused += !want;
        } else if (op < 55) { /* object, maybe with a loose charge it owns */
            int slot = free_slot_obj();
            if (slot < 0)
                continue;
            uint64_t bytes = rnd(10) ? rnd(16 * PG) : rnd(UINT64_MAX);
            bool want = m_fits(b, bytes);
            struct fobj *f = mk_obj(mbank_ptr(b), NS_CAP_FRAME, bytes, 1000 + slot, &err);
            assert_int_equal(err, want ? NS_OK : NS_ERR_NO_QUOTA);
            created += want;
            refused += !want;
            if (!f)
                continue;
            mo[slot] = (struct mobj){M_ALIVE, b, bytes, 0, f};
            hook_calls[1000 + slot] = 0;
            if (rnd(4) == 0) {
                uint64_t extra = rnd(2 * PG);
                m_compute();
                bool w2 = m_fits(b, extra);
                assert_int_equal(bank_charge(mbank_ptr(b), extra), w2 ? NS_OK : NS_ERR_NO_QUOTA);
                if (w2) {
                    f->loose = extra;
                    mo[slot].bytes += extra;
                    mo[slot].loose = extra;
                }
            }
        } else if (op < 80) { /* destroy an object */
            int o = (int)rnd(MO);
            if (mo[o].st != M_ALIVE)
                continue;
            kobj_destroy(&mo[o].p->obj);
            mo[o].st = M_DEAD;
            mo[o].p = NULL;
        } else if (op < 86) { /* the bank's own loose charges */
            uint64_t bytes = rnd(4 * PG);
            if (rnd(2)) {
                bool want = m_fits(b, bytes);
                assert_int_equal(bank_charge(mbank_ptr(b), bytes), want ? NS_OK : NS_ERR_NO_QUOTA);
                if (want)
                    mb[b].loose += bytes;
            } else {
                if (bytes > mb[b].loose)
                    bytes = mb[b].loose;
                bank_uncharge(mbank_ptr(b), bytes);
                mb[b].loose -= bytes;
            }
        } else if (op < 90) { /* change a limit */
            uint64_t pages = rnd(5) ? rnd(800) : UINT64_MAX;
            assert_int_equal(bank_set_limit_pages(mbank_ptr(b), pages), NS_OK);
            mb[b].limit = pages == UINT64_MAX ? UINT64_MAX : pages * PG;
        } else { /* tear a bank down (not the root), either entry */
            if (b == 0)
                continue;
            if (rnd(2))
                kobj_destroy(&mb[b].p->b.obj);
            else
                bank_teardown(mbank_ptr(b));
            torn++;
            for (int o = 0; o < MO; o++)
                if (mo[o].st == M_ALIVE && m_under(mo[o].bank, b)) {
                    mo[o].st = M_DEAD;
                    mo[o].p = NULL;
                }
            bool dies[MB];
            for (int c = 0; c < MB; c++)
                dies[c] = mb[c].st == M_ALIVE && m_under(c, b);
            for (int c = 0; c < MB; c++)
                if (dies[c]) {
                    mb[c].st = M_DEAD;
                    mb[c].p = NULL;
                }
        }
        m_check_all();
    }
    assert_true(created > 1000);
    assert_true(refused > 100);
    assert_true(torn > 100);
    /* everything goes with the root's children */
    for (int c = 1; c < MB; c++)
        if (mb[c].st == M_ALIVE && mb[c].parent == 0)
            kobj_destroy(&mb[c].p->b.obj);
    for (int o = 0; o < MO; o++)
        if (mo[o].st == M_ALIVE && mo[o].bank == 0)
            kobj_destroy(&mo[o].p->obj);
    bank_uncharge(&root.b, mb[0].loose);
    assert_int_equal(root.b.used_bytes, 0);
    assert_null(root.b.objects);
    assert_null(root.b.child);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_init_and_pages, setup),
        cmocka_unit_test_setup(test_three_level_limits, setup),
        cmocka_unit_test_setup(test_teardown_order_and_accounting, setup),
        cmocka_unit_test_setup(test_teardown_with_caps, setup),
        cmocka_unit_test_setup(test_teardown_cycles, setup),
        cmocka_unit_test_setup(test_deep_bank_chain, setup),
        cmocka_unit_test_setup(test_deep_cap_chain_of_banks, setup),
        cmocka_unit_test_setup(test_random_against_model, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
