/* Host tests for memobj/memobj.c: request coalescing and clusters, the
 * wait queues of page requests (supply, fail, cancel, destroy, deadlines,
 * dead managers), the range and rights arithmetic of map/unmap/protect,
 * the short-last-page and length rules, bank accounting, and a seeded
 * random run against a model.
 *
 * The real memobj.c runs with the real map_tree.c, page_cache.c, ipc.c,
 * notification.c and the capability, object and bank code, behind the fake
 * kernel of fake_kernel.c. The fake's address spaces are PTE tables, so
 * each test can see exactly which frame every space maps where; kernel
 * pages are host pages whose "physical" address is chosen to make vm.h's
 * direct-map arithmetic come back to the host pointer. A fault is driven
 * as user_trap.c drives it (memobj_fault, then ipc_fault_or_stop for a
 * kind > 0); a fault delivered to a thread's handler leaves the thread
 * queued on the handler's endpoint with the message in t->ipc_msg, which
 * is where the tests read the kind, address and error. System calls run
 * with their caller set as the fake's current thread, whose space the
 * user copies go through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_kernel.h"
#include "include/newsys/caps.h"
#include "include/newsys/ipc.h"
#include "include/newsys/syscall.h"
#include "kernel/arch/riscv/layout.h"
#include "kernel/arch/riscv/pte.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/core/object.h"
#include "memobj/memobj.h"
#include "frames/diskrange.h"
#include "frames/objframe.h"
#include "virtio-blk/blk.h"

#define H   (fk_hart())
#define RWX (NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC)
#define RW  (NS_RIGHT_READ | NS_RIGHT_WRITE)
#define R   NS_RIGHT_READ

/* Slots of every thread of the world (slot 0 is the root bank). */
enum { S_NTFN = 1, S_MO = 2, S_AS = 3, S_EP = 4, S_BANK = 5, S_MO_RO = 6, S_MO2 = 7, S_NTFN2 = 8 };

#define BUF_VA   0x20000000ull /* the manager's supply buffer */
#define BUF_MAX  64
#define NOBUF_VA 0x30000000ull /* nothing mapped here */
#define VA0      0x40000000ull /* where clients map objects */

static struct thread *M;  /* the manager */
static struct thread *HD; /* holds the endpoint every client's faults go to */
static unsigned char *bufpage[BUF_MAX];

static int setup(void **state)
{
    (void)state;
    fk_init();
    memobj_types_init();
    memobj_set_timebase(10000000);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsigned errors = fk_errors();
    if (errors)
        print_error("fake kernel: %s\n", fk_first_error());
    uint64_t leaked = fk_fini();
    assert_int_equal(errors, 0);
    assert_int_equal(leaked, 0);
    return 0;
}

/* ---- the world --------------------------------------------------------- */

static struct memobj *obj_in(struct thread *t, uint32_t slot)
{
    struct cap_slot *s = &t->cs->cs.slots[slot];
    assert_int_equal(s->type, NS_CAP_MEMOBJ);
    return (struct memobj *)s->obj;
}

static struct memobj *MO(void)
{
    return obj_in(M, S_MO);
}

static enum ns_error create(struct thread *t, uint64_t bank, uint32_t dst, uint64_t length)
{
    fk_set_current(t);
    return sys_memobj_create(t, bank, dst, length, S_NTFN);
}

/* The manager with its notification, its own space's capability and a
 * 64-page buffer; the fault handler's endpoint; an object of `length`. */
static void world(uint64_t length)
{
    M = fk_thread("mgr", 16, true);
    assert_int_equal(fk_notification(M, S_NTFN), NS_OK);
    fk_give_aspace(M, S_AS, M);
    for (unsigned i = 0; i < BUF_MAX; i++)
        bufpage[i] = fk_map(M, BUF_VA + i * PAGE_SIZE, true);
    HD = fk_thread("handler", 8, false);
    assert_int_equal(fk_endpoint(HD, S_EP), NS_OK);
    assert_int_equal(create(M, FK_SLOT_BANK, S_MO, length), NS_OK);
}

/* A client holding the object with READ|WRITE|EXEC (and a read-only copy),
 * a capability to its space, and the world's fault handler. */
static struct thread *client(const char *name, struct thread *share)
{
    struct thread *t = share ? fk_thread_in(name, 16, share) : fk_thread(name, 16, false);
    assert_int_equal(fk_give(M, S_MO, t, S_MO, RWX, 0), NS_OK);
    assert_int_equal(fk_give(M, S_MO, t, S_MO_RO, R, 0), NS_OK);
    fk_give_aspace(t, S_AS, t);
    cap_slot_derive(&HD->cs->cs.slots[S_EP], &t->fault_cap, NS_RIGHTS_ALL, 0);
    return t;
}

static enum ns_error map_slot(struct thread *t, uint32_t slot, uint64_t va, uint64_t first,
                              uint64_t pages, uint64_t rights, uint64_t *eff)
{
    uint64_t dummy;
    fk_set_current(t);
    return sys_memobj_map(t, S_AS, slot, va, first, pages, rights, eff ? eff : &dummy);
}

static enum ns_error map(struct thread *t, uint64_t va, uint64_t first, uint64_t pages,
                         uint64_t rights)
{
    return map_slot(t, S_MO, va, first, pages, rights, NULL);
}

static enum ns_error unmap(struct thread *t, uint64_t va, uint64_t pages)
{
    fk_set_current(t);
    return sys_memobj_unmap(t, S_AS, va, pages);
}

static enum ns_error protect(struct thread *t, uint64_t va, uint64_t pages, uint64_t rights)
{
    fk_set_current(t);
    return sys_memobj_protect(t, S_AS, va, pages, rights);
}

static uint64_t last_aux;

/* A page fault as user_trap.c takes it. */
static int fault(struct thread *t, uint64_t va, enum fault_access acc)
{
    last_aux = 0;
    fk_set_current(t);
    int kind = memobj_fault(H, t, va, acc, &last_aux);
    if (kind > 0)
        ipc_fault_or_stop(H, t, (uint64_t)kind, va, last_aux);
    fk_set_current(NULL);
    return kind;
}

static void fill_buf(unsigned first, unsigned n, int byte)
{
    for (unsigned i = first; i < first + n; i++)
        memset(bufpage[i], byte, PAGE_SIZE);
}

static enum ns_error supply_from(uint64_t first, uint64_t pages, uint64_t buf)
{
    fk_set_current(M);
    return sys_memobj_supply(H, M, S_MO, first, pages, buf);
}

static enum ns_error supply(uint64_t first, uint64_t pages)
{
    return supply_from(first, pages, BUF_VA);
}

static enum ns_error mfail(uint64_t first, uint64_t pages, uint64_t error)
{
    fk_set_current(M);
    return sys_memobj_fail(H, M, S_MO, first, pages, error);
}

static enum ns_error set_length(uint64_t length)
{
    fk_set_current(M);
    return sys_memobj_set_length(H, M, S_MO, length);
}

static enum ns_error set_cluster(struct thread *t, uint64_t pages)
{
    fk_set_current(t);
    return sys_memobj_set_cluster(t, S_MO, pages);
}

/* The manager reads the pending requests into its IPC buffer. */
static uint64_t drain(struct ns_page_request *out, uint64_t max)
{
    uint64_t n = ~0ull;
    fk_set_current(M);
    assert_int_equal(sys_memobj_requests(M, S_MO, FK_IPC_VA, max, &n), NS_OK);
    if (out)
        memcpy(out, fk_ipc_buffer(M), n * sizeof(*out));
    return n;
}

/* ---- looking at the object ---------------------------------------------- */

static unsigned nrequests(const struct memobj *mo)
{
    unsigned n = 0;
    for (const struct page_request *r = mo->requests; r; r = r->next)
        n++;
    return n;
}

/* The request still waiting for `page` (its pending bit set). */
/* What a request costs its object's bank (a kcache object, 16-rounded). */
#define REQUEST_BYTES ((sizeof(struct page_request) + 15) & ~(size_t)15)

static struct page_request *request_at(const struct memobj *mo, uint64_t page)
{
    for (struct page_request *r = mo->requests; r; r = r->next)
        if (page >= r->first_page && page < r->first_page + r->pages &&
            (r->pending >> (page - r->first_page) & 1))
            return r;
    return NULL;
}

static void assert_request(const struct memobj *mo, uint64_t page, uint64_t first, uint64_t pages)
{
    const struct page_request *r = request_at(mo, page);
    assert_non_null(r);
    assert_int_equal(r->first_page, first);
    assert_int_equal(r->pages, pages);
}

static unsigned nwaiters(const struct page_request *r)
{
    unsigned n = 0;
    for (const struct thread *t = r->head; t; t = t->q_next)
        n++;
    return n;
}

static bool waits_on(const struct thread *t, const struct page_request *r)
{
    for (const struct thread *w = r->head; w; w = w->q_next)
        if (w == t)
            return t->state == THREAD_BLOCKED && t->ipc_op == IPC_PAGE_WAIT && t->ipc_obj == r &&
                   !fk_on_runq(t);
    return false;
}

static void assert_waits(const struct thread *t, const struct memobj *mo, uint64_t page)
{
    const struct page_request *r = request_at(mo, page);
    assert_non_null(r);
    assert_true(waits_on(t, r));
}

static void assert_running(const struct thread *t)
{
    assert_int_equal(t->state, THREAD_RUNNABLE);
    assert_int_equal(t->ipc_op, IPC_NONE);
    assert_null(t->q_next);
    assert_null(t->q_prev);
    assert_int_equal(fk_on_runq(t), 1);
}

/* t received a fault message: queued on the handler's endpoint. */
static void assert_faulted(const struct thread *t, uint64_t kind, uint64_t va, uint64_t aux)
{
    assert_int_equal(t->state, THREAD_BLOCKED);
    assert_int_equal(t->ipc_op, IPC_CALL);
    assert_true(t->ipc_fault);
    assert_int_equal(t->ipc_msg[0], NS_MSG_INFO(NS_LABEL_FAULT, 4, 0));
    assert_int_equal(t->ipc_msg[1], kind);
    assert_int_equal(t->ipc_msg[3], va);
    assert_int_equal(t->ipc_msg[4], aux);
}

/* The handler lets a faulted thread go on (as suspend + resume). */
static void recover(struct thread *t)
{
    fk_suspend(t);
    fk_resume(t);
    assert_running(t);
}

static struct cache_page *resident(const struct memobj *mo, uint64_t page)
{
    return page_cache_lookup(&mo->cache, page);
}

struct rmap_find {
    const void *as;
    uint64_t va;
    bool found;
};

static bool rmap_find_cb(struct cache_page *cp, void *aspace, uint64_t va, void *ctx)
{
    (void)cp;
    struct rmap_find *f = ctx;
    if (aspace == f->as && va == f->va)
        f->found = true;
    return !f->found;
}

static bool in_rmap(struct cache_page *cp, const struct aspace *as, uint64_t va)
{
    struct rmap_find f = {as, va, false};
    page_cache_rmap_walk(cp, rmap_find_cb, &f);
    return f.found;
}

/* t's space maps page `page` of mo at va (with a reverse-map entry). */
static void assert_mapped_in(const struct memobj *mo, const struct thread *t, uint64_t va,
                             uint64_t page, uint32_t rights)
{
    struct cache_page *cp = resident(mo, page);
    assert_non_null(cp);
    const struct fk_pte *e = fk_pte_find(t->as, va);
    assert_non_null(e);
    assert_int_equal(e->pa, cp->pa);
    assert_int_equal(e->rights, rights);
    assert_null(e->owned);
    assert_true(in_rmap(cp, t->as, va & ~(uint64_t)(PAGE_SIZE - 1)));
}

static void assert_mapped(const struct thread *t, uint64_t va, uint64_t page, uint32_t rights)
{
    assert_mapped_in(MO(), t, va, page, rights);
}

/* Bytes memobj.c charges for page-cache records, nodes and reverse-map
 * entries: what its size-class caches hold. */
static uint64_t pc_bytes(void)
{
    return fk_cache_allocated("pc32") * 32 + fk_cache_allocated("pc64") * 64 +
           fk_cache_allocated("pc128") * 128 + fk_cache_allocated("pc576") * 576;
}

static void assert_unmapped(const struct thread *t, uint64_t va)
{
    assert_null(fk_pte_find(t->as, va));
}

static const unsigned char *frame(const struct memobj *mo, uint64_t page)
{
    struct cache_page *cp = resident(mo, page);
    assert_non_null(cp);
    return pa_to_va(cp->pa);
}

static void assert_bytes(const unsigned char *p, size_t n, int byte)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)byte)
            fail_msg("byte %zu is %#x, not %#x", i, p[i], (unsigned char)byte);
}

/* Every kernel PTE of the given spaces is a resident page of a live object
 * inside a mapping naming it, with no more than the mapping's rights and a
 * reverse-map entry; and every reverse-map entry of the object is such a
 * PTE (so the counts agree). */
static void check_ptes(struct thread *const *ts, size_t n)
{
    const struct aspace *seen[16];
    size_t nseen = 0, kernel_ptes = 0;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < nseen; j++)
            dup |= seen[j] == ts[i]->as;
        if (dup)
            continue;
        assert_true(nseen < 16);
        seen[nseen++] = ts[i]->as;
        struct aspace *as = ts[i]->as;
        for (size_t k = 0; k < fk_pte_count(as); k++) {
            const struct fk_pte *e = fk_pte_at(as, k);
            if (e->owned)
                continue;
            kernel_ptes++;
            struct mapping *m = map_tree_lookup(&as->maps, e->va);
            assert_non_null(m);
            struct memobj *mo = m->obj;
            assert_true(mo->obj.live);
            uint64_t page = m->obj_page + (e->va - m->va_start) / PAGE_SIZE;
            assert_true(page < (mo->length + PAGE_SIZE - 1) / PAGE_SIZE);
            struct cache_page *cp = resident(mo, page);
            assert_non_null(cp);
            assert_int_equal(e->pa, cp->pa);
            assert_int_equal(e->rights & ~m->rights, 0);
            assert_true(in_rmap(cp, as, e->va));
        }
    }
    uint64_t mapcounts = 0;
    struct memobj *mo = MO();
    for (uint64_t p = 0; p < (mo->length + PAGE_SIZE - 1) / PAGE_SIZE; p++) {
        struct cache_page *cp = resident(mo, p);
        if (cp)
            mapcounts += cp->mapcount;
    }
    assert_int_equal(mapcounts, kernel_ptes);
}

/* ---- request coalescing ----------------------------------------------------- */

static void test_one_request_for_many_faults(void **state)
{
    (void)state;
    world(4 * PAGE_SIZE);
    struct thread *a = client("a", NULL), *b = client("b", NULL), *c = client("c", NULL);
    struct thread *c2 = client("c2", c); /* c's process */
    assert_int_equal(map(a, VA0, 0, 4, RW), NS_OK);
    assert_int_equal(map(b, VA0 + 16 * PAGE_SIZE, 0, 4, RW), NS_OK);
    assert_int_equal(map(c, VA0, 0, 4, R), NS_OK);

    struct memobj *mo = MO();
    struct notification *n = fk_ntfn(M, S_NTFN);
    assert_int_equal(fault(a, VA0 + PAGE_SIZE + 8, ACCESS_WRITE), 0);
    assert_int_equal(n->bits, 1); /* the manager is told once */
    n->bits = 0;
    assert_int_equal(fault(b, VA0 + 17 * PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(fault(c, VA0 + PAGE_SIZE + 100, ACCESS_READ), 0);
    assert_int_equal(fault(c2, VA0 + PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(n->bits, 0);
    assert_int_equal(nrequests(mo), 1);
    assert_int_equal(mo->requests_made, 1);
    assert_request(mo, 1, 1, 1);
    struct page_request *r = mo->requests;
    assert_int_equal(nwaiters(r), 4);
    assert_ptr_equal(r->head, a); /* FIFO */
    assert_ptr_equal(r->tail, c2);
    struct thread *const all[] = {a, b, c, c2};
    for (int i = 0; i < 4; i++)
        assert_true(waits_on(all[i], r));

    /* The manager reads it once. */
    struct ns_page_request got[4];
    assert_int_equal(drain(got, 4), 1);
    assert_int_equal(got[0].first_page, 1);
    assert_int_equal(got[0].pages, 1);
    assert_int_equal(drain(got, 4), 0);

    /* A supply maps each waiter's page in its space before waking it. */
    fill_buf(0, 1, 0x3c);
    assert_int_equal(supply(1, 1), NS_OK);
    assert_int_equal(nrequests(mo), 0);
    for (int i = 0; i < 4; i++)
        assert_running(all[i]);
    assert_mapped(a, VA0 + PAGE_SIZE, 1, RW);
    assert_mapped(b, VA0 + 17 * PAGE_SIZE, 1, RW);
    assert_mapped(c, VA0 + PAGE_SIZE, 1, R); /* c and c2 share it */
    assert_int_equal(resident(mo, 1)->mapcount, 3);
    assert_bytes(frame(mo, 1), PAGE_SIZE, 0x3c);

    /* Later faults on it are minor: no request. */
    struct thread *d = client("d", NULL);
    assert_int_equal(map(d, VA0, 0, 4, RWX), NS_OK);
    assert_int_equal(fault(d, VA0 + PAGE_SIZE, ACCESS_EXEC), 0);
    assert_running(d);
    assert_mapped(d, VA0 + PAGE_SIZE, 1, RWX);
    assert_int_equal(mo->requests_made, 1);
    struct thread *const every[] = {a, b, c, c2, d, M};
    check_ptes(every, 6);
}

static void test_fault_inside_request_joins(void **state)
{
    (void)state;
    world(16 * PAGE_SIZE);
    assert_int_equal(set_cluster(M, 4), NS_OK);
    struct thread *a = client("a", NULL), *b = client("b", NULL), *b2 = client("b2", b);
    assert_int_equal(map(a, VA0, 0, 16, RW), NS_OK);
    assert_int_equal(map(b, VA0 + 32 * PAGE_SIZE, 0, 16, RW), NS_OK);
    struct memobj *mo = MO();
    assert_int_equal(fault(a, VA0 + 4 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(mo, 4, 4, 4);
    /* Pages 5..7 are inside the outstanding request, whoever faults. */
    assert_int_equal(fault(b, VA0 + 39 * PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(fault(b2, VA0 + 37 * PAGE_SIZE, ACCESS_WRITE), 0);
    assert_int_equal(nrequests(mo), 1);
    assert_int_equal(mo->requests_made, 1);
    assert_waits(a, mo, 4);
    assert_waits(b, mo, 7);
    assert_waits(b2, mo, 5);
    assert_int_equal(b2->fault_va, VA0 + 37 * PAGE_SIZE);
    assert_int_equal(b2->fault_access, ACCESS_WRITE);
}

static void test_cluster_bounds(void **state)
{
    (void)state;
    world(12 * PAGE_SIZE + 1); /* 13 pages, the last one short */
    struct thread *a = client("a", NULL);
    assert_int_equal(map(a, VA0, 0, 20, RW), NS_OK);
    struct memobj *mo = MO();
    /* Page 3 resident first (cluster 1: one page asked). */
    assert_int_equal(fault(a, VA0 + 3 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(mo, 3, 3, 1);
    assert_int_equal(supply(3, 1), NS_OK);
    assert_running(a);

    /* Only the manager sets the cluster, within 1..64. */
    assert_int_equal(set_cluster(a, 4), NS_ERR_NO_RIGHTS);
    assert_int_equal(set_cluster(M, 0), NS_ERR_INVALID_ARG);
    assert_int_equal(set_cluster(M, 65), NS_ERR_INVALID_ARG);
    assert_int_equal(set_cluster(M, 64), NS_OK);
    assert_int_equal(set_cluster(M, 4), NS_OK);

    struct thread *w[6];
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof(name), "w%d", i);
        w[i] = client(name, a);
    }
    /* Stops at the resident page 3. */
    assert_int_equal(fault(w[0], VA0 + 0 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(mo, 0, 0, 3);
    /* A full cluster. */
    assert_int_equal(fault(w[1], VA0 + 6 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(mo, 6, 6, 4);
    /* Stops at the requested page 6. */
    assert_int_equal(fault(w[2], VA0 + 4 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(mo, 4, 4, 2);
    /* Stops at the object's end (page 12 is its last, short page). */
    assert_int_equal(fault(w[3], VA0 + 11 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(mo, 11, 11, 2);
    assert_int_equal(fault(w[4], VA0 + 10 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(mo, 10, 10, 1);
    /* Page 13 is wholly past the length: a range fault, no request. */
    assert_int_equal(fault(w[5], VA0 + 13 * PAGE_SIZE, ACCESS_READ), NS_FAULT_RANGE);
    assert_faulted(w[5], NS_FAULT_RANGE, VA0 + 13 * PAGE_SIZE, 0);
    assert_int_equal(nrequests(mo), 5);
    assert_int_equal(mo->requests_made, 6);

    struct ns_page_request got[8];
    assert_int_equal(drain(got, 8), 5);
    /* Readahead around a request is allowed, inside the object. */
    assert_int_equal(supply(0, 13), NS_OK);
    assert_int_equal(nrequests(mo), 0);
    for (int i = 0; i < 5; i++)
        assert_running(w[i]);
    assert_int_equal(page_cache_count(&mo->cache), 13);
}

/* ---- wait queues ------------------------------------------------------------- */

static void test_partial_supply(void **state)
{
    (void)state;
    world(8 * PAGE_SIZE);
    assert_int_equal(set_cluster(M, 4), NS_OK);
    struct thread *a = client("a", NULL), *b = client("b", NULL), *c = client("c", a);
    assert_int_equal(map(a, VA0, 0, 8, RW), NS_OK);
    assert_int_equal(map(b, VA0, 0, 8, RW), NS_OK);
    struct memobj *mo = MO();
    assert_int_equal(fault(a, VA0, ACCESS_READ), 0);
    assert_int_equal(fault(b, VA0 + 2 * PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(fault(c, VA0 + 3 * PAGE_SIZE, ACCESS_WRITE), 0);
    struct page_request *r = mo->requests;
    assert_request(mo, 0, 0, 4);
    assert_int_equal(nwaiters(r), 3);

    fill_buf(0, 2, 0x11);
    assert_int_equal(supply(0, 2), NS_OK);
    /* Only the waiter whose page came goes on, mapped; the others keep
     * waiting for theirs. */
    assert_running(a);
    assert_mapped(a, VA0, 0, RW);
    assert_true(waits_on(b, r));
    assert_true(waits_on(c, r));
    assert_unmapped(b, VA0 + 2 * PAGE_SIZE);
    assert_unmapped(c, VA0 + 3 * PAGE_SIZE);
    /* The rest of the request stays outstanding. */
    assert_int_equal(nrequests(mo), 1);
    assert_ptr_equal(mo->requests, r);
    assert_int_equal(r->pending, 0xc);
    assert_int_equal(nwaiters(r), 2);
    assert_int_equal(mo->requests_made, 1);
    /* A minor fault on a supplied page of it. */
    assert_int_equal(fault(b, VA0 + PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(b->state, THREAD_BLOCKED); /* still waiting: nothing changed */

    fill_buf(0, 2, 0x22);
    assert_int_equal(supply(2, 2), NS_OK);
    assert_int_equal(nrequests(mo), 0);
    assert_running(b);
    assert_running(c);
    assert_mapped(b, VA0 + 2 * PAGE_SIZE, 2, RW);
    assert_mapped(c, VA0 + 3 * PAGE_SIZE, 3, RW);
    assert_bytes(frame(mo, 1), PAGE_SIZE, 0x11);
    assert_bytes(frame(mo, 3), PAGE_SIZE, 0x22);
    /* A second supply of resident pages keeps what mappings see. */
    assert_int_equal(fault(a, VA0 + 4 * PAGE_SIZE, ACCESS_READ), 0);
    uint64_t pa0 = resident(mo, 0)->pa;
    fill_buf(0, 5, 0x33);
    assert_int_equal(supply(0, 5), NS_OK);
    assert_int_equal(resident(mo, 0)->pa, pa0);
    assert_bytes(frame(mo, 0), PAGE_SIZE, 0x11);
    assert_bytes(frame(mo, 4), PAGE_SIZE, 0x33);
    struct thread *const all[] = {a, b, c, M};
    check_ptes(all, 4);
}

static void test_fail_delivers_error(void **state)
{
    (void)state;
    world(8 * PAGE_SIZE);
    assert_int_equal(set_cluster(M, 2), NS_OK);
    struct thread *a = client("a", NULL), *b = client("b", NULL);
    struct thread *nohandler = client("nh", NULL);
    cap_slot_delete(&nohandler->fault_cap);
    assert_int_equal(map(a, VA0, 0, 8, RW), NS_OK);
    assert_int_equal(map(b, VA0 + 8 * PAGE_SIZE, 0, 8, RW), NS_OK);
    assert_int_equal(map(nohandler, VA0, 0, 8, RW), NS_OK);
    struct memobj *mo = MO();
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE + 5, ACCESS_READ), 0);
    assert_int_equal(fault(b, VA0 + 11 * PAGE_SIZE, ACCESS_WRITE), 0);
    assert_int_equal(fault(nohandler, VA0 + 2 * PAGE_SIZE, ACCESS_READ), 0);
    struct thread *d = client("d", NULL);
    assert_int_equal(fault(d, VA0, ACCESS_READ), -1); /* not mapped there */
    assert_request(mo, 2, 2, 2);
    /* An unrelated request stays. */
    struct thread *e = client("e", NULL);
    assert_int_equal(map(e, VA0, 0, 8, RW), NS_OK);
    assert_int_equal(fault(e, VA0 + 6 * PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(nrequests(mo), 2);

    /* Bad fails change nothing. */
    assert_int_equal(mfail(2, 1, NS_OK), NS_ERR_INVALID_ARG);
    assert_int_equal(mfail(2, 1, NS_ERR_COUNT), NS_ERR_INVALID_ARG);
    assert_int_equal(mfail(0, 2, NS_ERR_NO_MEMORY), NS_ERR_INVALID_ARG); /* nobody asked */
    assert_int_equal(mfail(8, 1, NS_ERR_NO_MEMORY), NS_ERR_RANGE);
    assert_int_equal(mfail(7, 2, NS_ERR_NO_MEMORY), NS_ERR_RANGE);
    assert_int_equal(mfail(2, 0, NS_ERR_NO_MEMORY), NS_ERR_RANGE);
    assert_int_equal(mfail(UINT64_MAX, 2, NS_ERR_NO_MEMORY), NS_ERR_RANGE);
    fk_set_current(a);
    assert_int_equal(sys_memobj_fail(H, a, S_MO, 2, 1, NS_ERR_NO_MEMORY), NS_ERR_NO_RIGHTS);
    assert_int_equal(nrequests(mo), 2);
    assert_waits(a, mo, 2);

    unsigned stops = fk_stop_count();
    /* Only the waiters on the failed page get the error: b waits on page
     * 3, which this fail does not name, and keeps waiting. */
    assert_int_equal(mfail(2, 1, NS_ERR_BAD_ADDRESS), NS_OK);
    assert_faulted(a, NS_FAULT_MANAGER, VA0 + 2 * PAGE_SIZE + 5, NS_ERR_BAD_ADDRESS);
    assert_waits(b, mo, 3);
    /* With no handler, the fault stops the thread. */
    assert_int_equal(fk_stop_count(), stops + 1);
    assert_ptr_equal(fk_last_stopped(), nohandler);
    assert_int_equal(nohandler->state, THREAD_STOPPED);
    assert_int_equal(nrequests(mo), 2);
    assert_waits(e, mo, 6);
    assert_int_equal(mfail(3, 1, NS_ERR_BAD_ADDRESS), NS_OK);
    assert_faulted(b, NS_FAULT_MANAGER, VA0 + 11 * PAGE_SIZE, NS_ERR_BAD_ADDRESS);
    assert_int_equal(nrequests(mo), 1);
    /* The failed pages can be asked for again. */
    recover(a);
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(mo, 2, 2, 2);
}

static void test_cancelled_waiter_leaves_request(void **state)
{
    (void)state;
    world(4 * PAGE_SIZE);
    struct thread *a = client("a", NULL), *b = client("b", a), *c = client("c", NULL);
    assert_int_equal(map(a, VA0, 0, 4, RW), NS_OK);
    assert_int_equal(map(c, VA0, 0, 4, RW), NS_OK);
    struct memobj *mo = MO();
    assert_int_equal(fault(a, VA0, ACCESS_READ), 0);
    assert_int_equal(fault(b, VA0, ACCESS_READ), 0);
    assert_int_equal(fault(c, VA0, ACCESS_READ), 0);
    struct page_request *r = mo->requests;

    fk_suspend(b); /* ipc_cancel -> memobj_cancel_wait */
    assert_int_equal(b->state, THREAD_SUSPENDED);
    assert_int_equal(b->ipc_op, IPC_NONE);
    assert_int_equal(nwaiters(r), 2);
    assert_ptr_equal(r->head, a);
    assert_ptr_equal(r->tail, c);
    fk_thread_destroy(a);
    assert_int_equal(nwaiters(r), 1);
    assert_int_equal(drain(NULL, 8), 1); /* the manager reads it */
    fk_thread_destroy(c);
    assert_int_equal(nwaiters(r), 0);
    /* The request stays: the manager has read it and may answer. */
    assert_int_equal(nrequests(mo), 1);
    assert_ptr_equal(mo->requests, r);

    /* A new fault joins it rather than asking again. */
    struct thread *d = client("d", NULL);
    assert_int_equal(map(d, VA0, 0, 4, RW), NS_OK);
    assert_int_equal(fault(d, VA0, ACCESS_WRITE), 0);
    assert_true(waits_on(d, r));
    assert_int_equal(mo->requests_made, 1);
    assert_int_equal(supply(0, 1), NS_OK);
    assert_running(d);
    assert_int_equal(b->state, THREAD_SUSPENDED); /* not woken by the supply */
    fk_resume(b);
    assert_int_equal(fault(b, VA0, ACCESS_READ), 0);
    assert_running(b);
    assert_mapped(b, VA0, 0, RW);
    assert_int_equal(fk_errors(), 0);
}

/* A request nobody waits for any more and the manager has not read is
 * dropped, so cancelled faults cannot grow the queue; its charge goes back
 * to the object's bank. */
static void test_unread_request_dropped_on_cancel(void **state)
{
    (void)state;
    world(4 * PAGE_SIZE);
    struct thread *a = client("a", NULL);
    assert_int_equal(map(a, VA0, 0, 4, RW), NS_OK);
    struct memobj *mo = MO();
    uint64_t used = bank_used_bytes(mo->obj.bank);
    for (int round = 0; round < 100; round++) {
        assert_int_equal(fault(a, VA0 + (round % 4) * PAGE_SIZE, ACCESS_READ), 0);
        assert_int_equal(nrequests(mo), 1);
        fk_suspend(a);
        fk_resume(a);
        assert_int_equal(nrequests(mo), 0);
    }
    assert_int_equal(bank_used_bytes(mo->obj.bank), used);
    assert_int_equal(drain(NULL, 8), 0); /* the manager is asked nothing */
}

static void test_destroy_gives_dead(void **state)
{
    (void)state;
    world(4 * PAGE_SIZE);
    uint64_t pages0 = fk_pages_live();
    struct thread *a = client("a", NULL), *b = client("b", NULL);
    assert_int_equal(map(a, VA0, 0, 4, RW), NS_OK);
    assert_int_equal(map(b, VA0, 0, 4, RW), NS_OK);
    struct memobj *mo = MO();
    assert_int_equal(fault(a, VA0, ACCESS_READ), 0);
    assert_int_equal(supply(0, 1), NS_OK);
    assert_int_equal(fault(b, VA0, ACCESS_READ), 0);
    assert_mapped(b, VA0, 0, RW);
    assert_int_equal(fault(a, VA0 + PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(fault(b, VA0 + 3 * PAGE_SIZE, ACCESS_WRITE), 0);
    assert_int_equal(fk_pages_live(), pages0 + 1);

    kobj_destroy(&mo->obj);
    assert_faulted(a, NS_FAULT_DEAD, VA0 + PAGE_SIZE, 0);
    assert_faulted(b, NS_FAULT_DEAD, VA0 + 3 * PAGE_SIZE, 0);
    /* Its pages left every space and went back. */
    assert_unmapped(a, VA0);
    assert_unmapped(b, VA0);
    assert_int_equal(fk_pages_live(), pages0);
    /* The mappings stay (the memory with them); a touch is a dead fault. */
    recover(b);
    assert_int_equal(fault(b, VA0, ACCESS_READ), NS_FAULT_DEAD);
    assert_faulted(b, NS_FAULT_DEAD, VA0, 0);
    assert_int_equal(unmap(a, VA0, 4), NS_OK);
    assert_int_equal(unmap(b, VA0, 2), NS_OK); /* b still has a piece */
}

static void test_deadline(void **state)
{
    (void)state;
    world(4 * PAGE_SIZE);
    memobj_set_timebase(1000000); /* 1 tick per microsecond */
    fk_set_time(5000);
    fk_set_current(M);
    assert_int_equal(sys_memobj_set_deadline(M, S_MO, 1000), NS_OK);
    assert_int_equal(sys_memobj_set_deadline(M, S_MO, 1000000ull * 3600 * 24 + 1),
                     NS_ERR_INVALID_ARG);
    struct thread *a = client("a", NULL), *b = client("b", NULL);
    assert_int_equal(map(a, VA0, 0, 4, RW), NS_OK);
    assert_int_equal(map(b, VA0, 0, 4, RW), NS_OK);
    struct memobj *mo = MO();
    assert_int_equal(fault(a, VA0, ACCESS_READ), 0);
    fk_set_time(5500);
    assert_int_equal(fault(b, VA0 + PAGE_SIZE, ACCESS_READ), 0); /* deadline 6500 */
    struct thread *c = client("c", a);
    assert_int_equal(fault(c, VA0, ACCESS_READ), 0); /* joins: the request's deadline */
    assert_int_equal(request_at(mo, 0)->deadline, 6000);
    assert_int_equal(request_at(mo, 1)->deadline, 6500);

    memobj_tick(H, 5999);
    assert_int_equal(nrequests(mo), 2);
    memobj_tick(H, 6000);
    assert_faulted(a, NS_FAULT_MANAGER, VA0, NS_ERR_TIMEOUT);
    assert_faulted(c, NS_FAULT_MANAGER, VA0, NS_ERR_TIMEOUT);
    assert_int_equal(nrequests(mo), 1);
    assert_waits(b, mo, 1);
    memobj_tick(H, 7000);
    assert_faulted(b, NS_FAULT_MANAGER, VA0 + PAGE_SIZE, NS_ERR_TIMEOUT);
    assert_int_equal(nrequests(mo), 0);
    assert_false(mo->on_pending_list);

    /* No deadline: a request waits however long. */
    fk_set_current(M);
    assert_int_equal(sys_memobj_set_deadline(M, S_MO, 0), NS_OK);
    recover(a);
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(request_at(mo, 2)->deadline, 0);
    memobj_tick(H, UINT64_MAX);
    assert_waits(a, mo, 2);
}

static void test_dead_manager(void **state)
{
    (void)state;
    world(4 * PAGE_SIZE);
    struct thread *a = client("a", NULL), *b = client("b", NULL);
    assert_int_equal(map(a, VA0, 0, 4, RW), NS_OK);
    assert_int_equal(map(b, VA0, 0, 4, RW), NS_OK);
    struct memobj *mo = MO();
    assert_int_equal(fault(a, VA0, ACCESS_READ), 0);
    assert_int_equal(supply(0, 1), NS_OK);
    assert_int_equal(fault(a, VA0 + PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(fault(b, VA0 + PAGE_SIZE, ACCESS_READ), 0);

    /* The manager's notification goes (its bank, or a revoke). */
    kobj_destroy(&fk_ntfn(M, S_NTFN)->obj);
    assert_int_equal(nrequests(mo), 1); /* nothing until the tick */
    memobj_tick(H, 1);
    assert_faulted(a, NS_FAULT_MANAGER, VA0 + PAGE_SIZE, NS_ERR_DEAD_OBJECT);
    assert_faulted(b, NS_FAULT_MANAGER, VA0 + PAGE_SIZE, NS_ERR_DEAD_OBJECT);
    assert_int_equal(nrequests(mo), 0);

    /* Later faults fail at once, asking nobody; resident pages still map. */
    recover(a);
    recover(b);
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE, ACCESS_READ), NS_FAULT_MANAGER);
    assert_faulted(a, NS_FAULT_MANAGER, VA0 + 2 * PAGE_SIZE, NS_ERR_DEAD_OBJECT);
    assert_int_equal(nrequests(mo), 0);
    assert_int_equal(mo->requests_made, 2);
    assert_int_equal(fault(b, VA0, ACCESS_WRITE), 0);
    assert_running(b);
    assert_mapped(b, VA0, 0, RW);
}

static void test_manager_faulting_on_its_object(void **state)
{
    (void)state;
    world(4 * PAGE_SIZE);
    struct memobj *mo = MO();
    assert_int_equal(map(M, VA0, 0, 4, RW), NS_OK);
    /* Before it drains, nobody knows it is the manager: it waits (bounded
     * by the deadline). */
    struct thread *m2 = client("m2", M); /* another thread of its process */
    assert_int_equal(fault(m2, VA0, ACCESS_READ), 0);
    assert_int_equal(drain(NULL, 4), 1);
    assert_ptr_equal(mo->manager, M);
    cap_slot_derive(&HD->cs->cs.slots[S_EP], &M->fault_cap, NS_RIGHTS_ALL, 0);
    /* Its own fault fails at once, also on a page already requested. */
    assert_int_equal(fault(M, VA0 + PAGE_SIZE, ACCESS_READ), NS_FAULT_MANAGER);
    assert_faulted(M, NS_FAULT_MANAGER, VA0 + PAGE_SIZE, NS_ERR_BAD_STATE);
    recover(M);
    assert_int_equal(fault(M, VA0, ACCESS_READ), NS_FAULT_MANAGER);
    assert_faulted(M, NS_FAULT_MANAGER, VA0, NS_ERR_BAD_STATE);
    recover(M);
    assert_int_equal(nrequests(mo), 1);
    assert_waits(m2, mo, 0);
    /* Its other threads are served; once resident, it maps the page too. */
    assert_int_equal(supply(0, 1), NS_OK);
    assert_running(m2);
    assert_int_equal(fault(M, VA0, ACCESS_WRITE), 0);
    assert_mapped(M, VA0, 0, RW);
}

/* ---- map, unmap, protect --------------------------------------------------- */

static void test_map_checks(void **state)
{
    (void)state;
    world(8 * PAGE_SIZE);
    struct thread *a = client("a", NULL);
    struct aspace *as = a->as;
    uint64_t eff = 99;
    const uint64_t top = USER_TOP;
    struct {
        uint64_t va, first, pages, rights;
        enum ns_error want;
    } bad[] = {
        {VA0 + 1, 0, 1, RW, NS_ERR_BAD_ADDRESS},
        {VA0 + PAGE_SIZE - 1, 0, 1, RW, NS_ERR_BAD_ADDRESS},
        {0, 0, 1, RW, NS_ERR_BAD_ADDRESS}, /* page 0 is never mapped */
        {VA0, 0, 0, RW, NS_ERR_RANGE},
        {top, 0, 1, RW, NS_ERR_RANGE},
        {top - PAGE_SIZE, 0, 2, RW, NS_ERR_RANGE},
        {top - PAGE_SIZE, 0, 1ull << 52, RW, NS_ERR_RANGE}, /* pages * PAGE_SIZE wraps */
        {PAGE_SIZE, 0, top / PAGE_SIZE, RW, NS_ERR_RANGE},
        {VA0, 0, (UINT64_MAX / PAGE_SIZE) + 2, RW, NS_ERR_RANGE},
        {~(uint64_t)(PAGE_SIZE - 1), 0, 1, RW, NS_ERR_RANGE}, /* kernel half */
        {VA0, PC_PAGE_LIMIT, 1, RW, NS_ERR_RANGE},
        {VA0, PC_PAGE_LIMIT - 1, 2, RW, NS_ERR_RANGE},
        {VA0, UINT64_MAX - 1, 4, RW, NS_ERR_RANGE}, /* start + pages wraps */
        {VA0, 0, 1, RW | NS_RIGHT_GRANT, NS_ERR_INVALID_ARG},
        {VA0, 0, 1, RW | (1u << 9), NS_ERR_INVALID_ARG},
        {VA0, 0, 1, 0, NS_ERR_NO_RIGHTS},
        {VA0, 0, 1, NS_RIGHT_WRITE, NS_ERR_NO_RIGHTS}, /* write without read: nothing left */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum ns_error e =
            map_slot(a, S_MO, bad[i].va, bad[i].first, bad[i].pages, bad[i].rights, &eff);
        if (e != bad[i].want)
            fail_msg("case %zu: %d, not %d", i, e, bad[i].want);
        assert_int_equal(eff, 99);
        assert_int_equal(as->maps.count, 0);
    }
    assert_int_equal(MO()->mappings, 0);

    /* Effective rights: the capability's rights and the asked ones. */
    struct {
        uint32_t slot;
        uint64_t rights, eff;
        enum ns_error want;
    } rights[] = {
        {S_MO, RWX, RWX, NS_OK},
        {S_MO, RW, RW, NS_OK},
        {S_MO, NS_RIGHT_EXEC, NS_RIGHT_EXEC, NS_OK},
        {S_MO, NS_RIGHT_WRITE | NS_RIGHT_EXEC, NS_RIGHT_EXEC, NS_OK}, /* write without read */
        {S_MO, NS_RIGHT_WRITE | NS_RIGHT_EXEC | NS_MAP_STRICT, 0, NS_ERR_NO_RIGHTS},
        {S_MO_RO, RW, R, NS_OK},
        {S_MO_RO, RWX, R, NS_OK},
        {S_MO_RO, R | NS_MAP_STRICT, R, NS_OK},
        {S_MO_RO, RW | NS_MAP_STRICT, 0, NS_ERR_NO_RIGHTS},
        {S_MO_RO, NS_RIGHT_EXEC, 0, NS_ERR_NO_RIGHTS},
        {S_MO, RWX | NS_MAP_STRICT, RWX, NS_OK},
    };
    for (size_t i = 0; i < sizeof(rights) / sizeof(rights[0]); i++) {
        eff = 99;
        uint64_t va = VA0 + i * 16 * PAGE_SIZE;
        enum ns_error e = map_slot(a, rights[i].slot, va, 0, 2, rights[i].rights, &eff);
        if (e != rights[i].want)
            fail_msg("rights case %zu: %d, not %d", i, e, rights[i].want);
        if (e == NS_OK) {
            assert_int_equal(eff, rights[i].eff);
            assert_int_equal(map_tree_lookup(&as->maps, va)->rights, rights[i].eff);
        } else {
            assert_int_equal(eff, 99);
            assert_null(map_tree_lookup(&as->maps, va));
        }
    }

    /* The space capability needs WRITE; the object capability any right. */
    assert_int_equal(fk_give(a, S_AS, a, 9, R, 0), NS_OK);
    fk_set_current(a);
    assert_int_equal(sys_memobj_map(a, 9, S_MO, VA0 + 512 * PAGE_SIZE, 0, 1, R, &eff),
                     NS_ERR_NO_RIGHTS);
    assert_int_equal(sys_memobj_map(a, S_MO, S_MO, VA0 + 512 * PAGE_SIZE, 0, 1, R, &eff),
                     NS_ERR_WRONG_TYPE);
    assert_int_equal(sys_memobj_map(a, S_AS, S_AS, VA0 + 512 * PAGE_SIZE, 0, 1, R, &eff),
                     NS_ERR_WRONG_TYPE);
    /* The last possible page, and past the object's length (it may grow). */
    assert_int_equal(map(a, top - PAGE_SIZE, 100, 1, R), NS_OK);
    assert_int_equal(fault(a, top - PAGE_SIZE, ACCESS_READ), NS_FAULT_RANGE);
    assert_int_equal(map(a, PAGE_SIZE, PC_PAGE_LIMIT - 1, 1, R), NS_OK);
}

static void test_remap_replaces(void **state)
{
    (void)state;
    world(8 * PAGE_SIZE);
    struct thread *a = client("a", NULL);
    struct memobj *mo = MO();
    assert_int_equal(map(a, VA0, 0, 8, RW), NS_OK);
    for (int p = 0; p < 8; p++) {
        assert_int_equal(fault(a, VA0 + p * PAGE_SIZE, ACCESS_WRITE), 0);
        if (p == 0)
            assert_int_equal(supply(0, 8), NS_OK);
        assert_mapped(a, VA0 + p * PAGE_SIZE, p, RW);
    }
    assert_int_equal(mo->mappings, 1);
    /* Remap the middle read-only, shifted: the old PTEs there go. */
    uint64_t eff;
    assert_int_equal(map_slot(a, S_MO_RO, VA0 + 2 * PAGE_SIZE, 4, 3, RW, &eff), NS_OK);
    assert_int_equal(eff, R);
    assert_int_equal(mo->mappings, 3);
    assert_int_equal(a->as->maps.count, 3);
    for (int p = 2; p < 5; p++)
        assert_unmapped(a, VA0 + p * PAGE_SIZE);
    assert_mapped(a, VA0 + PAGE_SIZE, 1, RW);
    assert_mapped(a, VA0 + 5 * PAGE_SIZE, 5, RW);
    assert_int_equal(resident(mo, 2)->mapcount, 0);
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE, ACCESS_WRITE), -1);
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE, ACCESS_READ), 0);
    assert_mapped(a, VA0 + 2 * PAGE_SIZE, 4, R);
    /* A stronger capability over it again. */
    assert_int_equal(map(a, VA0, 0, 8, RWX), NS_OK);
    assert_int_equal(mo->mappings, 1);
    for (int p = 0; p < 8; p++)
        assert_unmapped(a, VA0 + p * PAGE_SIZE);
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE, ACCESS_EXEC), 0);
    assert_mapped(a, VA0 + 2 * PAGE_SIZE, 2, RWX);
    struct thread *const all[] = {a, M};
    check_ptes(all, 2);
}

static void test_unmap_protect_checks(void **state)
{
    (void)state;
    world(8 * PAGE_SIZE);
    struct thread *a = client("a", NULL);
    struct memobj *mo = MO();
    assert_int_equal(map(a, VA0, 0, 8, RW), NS_OK);
    assert_int_equal(fault(a, VA0, ACCESS_READ), 0);
    assert_int_equal(supply(0, 8), NS_OK);
    for (int p = 1; p < 8; p++)
        assert_int_equal(fault(a, VA0 + p * PAGE_SIZE, ACCESS_READ), 0);

    assert_int_equal(unmap(a, VA0 + 1, 1), NS_ERR_BAD_ADDRESS);
    assert_int_equal(unmap(a, VA0, 0), NS_ERR_RANGE);
    assert_int_equal(unmap(a, USER_TOP - PAGE_SIZE, 2), NS_ERR_RANGE);
    assert_int_equal(unmap(a, VA0, 1ull << 52), NS_ERR_RANGE);
    assert_int_equal(unmap(a, VA0, UINT64_MAX), NS_ERR_RANGE);
    assert_int_equal(unmap(a, VA0 + 64 * PAGE_SIZE, 1), NS_ERR_BAD_STATE);
    assert_int_equal(protect(a, VA0, 1, RW | NS_RIGHT_GRANT), NS_ERR_INVALID_ARG);
    assert_int_equal(protect(a, VA0 + 8, 1, R), NS_ERR_BAD_ADDRESS);
    assert_int_equal(protect(a, VA0, 0, R), NS_ERR_RANGE);
    assert_int_equal(protect(a, USER_TOP - PAGE_SIZE, 2, R), NS_ERR_RANGE);
    assert_int_equal(protect(a, VA0 + 6 * PAGE_SIZE, 4, R), NS_ERR_BAD_STATE); /* a hole */
    for (int p = 0; p < 8; p++)
        assert_mapped(a, VA0 + p * PAGE_SIZE, p, RW); /* nothing changed */
    assert_int_equal(a->as->maps.count, 1);

    /* Unmap the middle: only its PTEs go, the mapping splits. */
    assert_int_equal(unmap(a, VA0 + 3 * PAGE_SIZE, 2), NS_OK);
    assert_int_equal(a->as->maps.count, 2);
    assert_int_equal(mo->mappings, 2);
    assert_unmapped(a, VA0 + 3 * PAGE_SIZE);
    assert_unmapped(a, VA0 + 4 * PAGE_SIZE);
    assert_int_equal(resident(mo, 3)->mapcount, 0);
    assert_mapped(a, VA0 + 5 * PAGE_SIZE, 5, RW);
    assert_int_equal(fault(a, VA0 + 3 * PAGE_SIZE, ACCESS_READ), -1);

    /* Protect only narrows: asking for more keeps what there is. */
    assert_int_equal(protect(a, VA0, 3, RWX), NS_OK);
    assert_mapped(a, VA0, 0, RW);
    assert_int_equal(map_tree_lookup(&a->as->maps, VA0)->rights, RW);
    /* Narrowing drops the PTEs; the next access maps with the new rights. */
    assert_int_equal(protect(a, VA0 + PAGE_SIZE, 1, R), NS_OK);
    assert_unmapped(a, VA0 + PAGE_SIZE);
    assert_mapped(a, VA0, 0, RW);
    assert_mapped(a, VA0 + 2 * PAGE_SIZE, 2, RW);
    assert_int_equal(fault(a, VA0 + PAGE_SIZE, ACCESS_WRITE), -1);
    assert_int_equal(fault(a, VA0 + PAGE_SIZE, ACCESS_READ), 0);
    assert_mapped(a, VA0 + PAGE_SIZE, 1, R);
    /* Write alone would be write without read: nothing is left. */
    assert_int_equal(protect(a, VA0 + 2 * PAGE_SIZE, 1, NS_RIGHT_WRITE), NS_OK);
    assert_int_equal(map_tree_lookup(&a->as->maps, VA0 + 2 * PAGE_SIZE)->rights, 0);
    assert_unmapped(a, VA0 + 2 * PAGE_SIZE);
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE, ACCESS_READ), -1);
    /* Across two mappings at once. */
    assert_int_equal(unmap(a, VA0 + 3 * PAGE_SIZE, 2), NS_ERR_BAD_STATE);
    assert_int_equal(map(a, VA0 + 3 * PAGE_SIZE, 3, 2, RW), NS_OK);
    assert_int_equal(protect(a, VA0, 8, R), NS_OK);
    for (int p = 0; p < 8; p++)
        assert_int_equal(map_tree_lookup(&a->as->maps, VA0 + p * PAGE_SIZE)->rights & ~R, 0);
    assert_unmapped(a, VA0);
    assert_unmapped(a, VA0 + 5 * PAGE_SIZE);
    struct thread *const all[] = {a, M};
    check_ptes(all, 2);
}

/* ---- length ------------------------------------------------------------------ */

static void test_short_last_page(void **state)
{
    (void)state;
    world(PAGE_SIZE + 100);
    struct thread *a = client("a", NULL);
    struct memobj *mo = MO();
    assert_int_equal(map(a, VA0, 0, 4, RW), NS_OK);
    /* Past the length: a range fault, and nothing asked. */
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE, ACCESS_READ), NS_FAULT_RANGE);
    assert_faulted(a, NS_FAULT_RANGE, VA0 + 2 * PAGE_SIZE, 0);
    assert_int_equal(nrequests(mo), 0);
    assert_int_equal(mo->requests_made, 0);
    recover(a);

    /* The last page's tail reads as zero whatever the buffer holds. */
    assert_int_equal(fault(a, VA0 + PAGE_SIZE + 50, ACCESS_READ), 0);
    fill_buf(0, 2, 0xff);
    assert_int_equal(supply(1, 2), NS_ERR_RANGE);
    assert_int_equal(supply(2, 1), NS_ERR_RANGE);
    assert_int_equal(supply(1, 1), NS_OK);
    assert_mapped(a, VA0 + PAGE_SIZE, 1, RW);
    assert_bytes(frame(mo, 1), 100, 0xff);
    assert_bytes(frame(mo, 1) + 100, PAGE_SIZE - 100, 0);
    /* A zero supply (no buffer) of page 0. */
    assert_int_equal(fault(a, VA0, ACCESS_READ), 0);
    assert_int_equal(supply_from(0, 1, 0), NS_OK);
    assert_bytes(frame(mo, 0), PAGE_SIZE, 0);

    /* Shrinking inside the last page zeroes the new tail; growing keeps
     * the zeroes (grown bytes read as zero). */
    memset(bufpage[0], 0xee, PAGE_SIZE);
    assert_int_equal(set_length(PAGE_SIZE + 40), NS_OK);
    assert_bytes(frame(mo, 1), 40, 0xff);
    assert_bytes(frame(mo, 1) + 40, PAGE_SIZE - 40, 0);
    assert_mapped(a, VA0 + PAGE_SIZE, 1, RW);
    assert_int_equal(set_length(3 * PAGE_SIZE), NS_OK);
    assert_bytes(frame(mo, 1) + 40, PAGE_SIZE - 40, 0);
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(mo, 2, 2, 1);
}

static void test_supply_checks(void **state)
{
    (void)state;
    world(80 * PAGE_SIZE);
    struct thread *a = client("a", NULL);
    struct memobj *mo = MO();
    assert_int_equal(map(a, VA0, 0, 80, RW), NS_OK);
    /* Nobody asked. */
    assert_int_equal(supply(0, 1), NS_ERR_INVALID_ARG);
    assert_int_equal(fault(a, VA0 + 10 * PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(supply(0, 10), NS_ERR_INVALID_ARG);
    assert_int_equal(supply(11, 2), NS_ERR_INVALID_ARG);
    assert_int_equal(supply(0, 0), NS_ERR_RANGE);
    assert_int_equal(supply(80, 1), NS_ERR_RANGE);
    assert_int_equal(supply(UINT64_MAX, 2), NS_ERR_RANGE);
    assert_int_equal(supply(0, 65), NS_ERR_INVALID_ARG); /* more than 64 at once */
    assert_int_equal(supply_from(10, 1, BUF_VA + 8), NS_ERR_BAD_ADDRESS);
    assert_int_equal(supply_from(10, 1, USER_TOP), NS_ERR_BAD_ADDRESS);
    assert_int_equal(supply_from(10, 2, USER_TOP - PAGE_SIZE), NS_ERR_BAD_ADDRESS);
    fk_set_current(a);
    assert_int_equal(sys_memobj_supply(H, a, S_MO, 10, 1, 0), NS_ERR_NO_RIGHTS);
    assert_int_equal(page_cache_count(&mo->cache), 0);

    /* From an unmapped buffer, or one whose last page is missing: an error
     * with nothing changed. */
    struct bank *root = fk_root_bank();
    uint64_t used = bank_used_bytes(root), pages = fk_pages_live();
    assert_int_equal(supply_from(10, 1, NOBUF_VA), NS_ERR_BAD_ADDRESS);
    assert_int_equal(supply_from(8, 4, BUF_VA + (BUF_MAX - 3) * PAGE_SIZE), NS_ERR_BAD_ADDRESS);
    assert_int_equal(page_cache_count(&mo->cache), 0);
    assert_int_equal(bank_used_bytes(root), used);
    assert_int_equal(fk_pages_live(), pages);
    assert_waits(a, mo, 10);
    assert_int_equal(nrequests(mo), 1);
    /* Out of frames: the same. */
    fk_page_limit(2);
    assert_int_equal(supply(8, 4), NS_ERR_NO_MEMORY);
    fk_page_limit(UINT64_MAX);
    assert_int_equal(page_cache_count(&mo->cache), 0);
    assert_int_equal(bank_used_bytes(root), used);
    assert_int_equal(fk_pages_live(), pages);
    assert_waits(a, mo, 10);
    /* A read-only buffer page is fine: the kernel only reads it. */
    assert_non_null(fk_map(M, NOBUF_VA, false));
    assert_int_equal(supply_from(10, 1, NOBUF_VA), NS_OK);
    assert_running(a);
}

static void test_shrink_drops_pages(void **state)
{
    (void)state;
    world(8 * PAGE_SIZE);
    struct thread *a = client("a", NULL), *b = client("b", NULL), *b2 = client("b2", b);
    struct memobj *mo = MO();
    assert_int_equal(map(a, VA0, 0, 8, RW), NS_OK);
    /* b maps it twice, the second time shifted by two pages. */
    assert_int_equal(map(b, VA0, 0, 8, RW), NS_OK);
    assert_int_equal(map(b, VA0 + 64 * PAGE_SIZE, 2, 6, R), NS_OK);
    assert_int_equal(fault(a, VA0, ACCESS_READ), 0);
    fill_buf(0, 6, 0x77);
    assert_int_equal(supply(0, 6), NS_OK);
    for (int p = 0; p < 6; p++) {
        assert_int_equal(fault(a, VA0 + p * PAGE_SIZE, ACCESS_READ), 0);
        assert_int_equal(fault(b, VA0 + p * PAGE_SIZE, ACCESS_READ), 0);
        if (p >= 2)
            assert_int_equal(fault(b, VA0 + (62 + p) * PAGE_SIZE, ACCESS_READ), 0);
    }
    assert_int_equal(resident(mo, 5)->mapcount, 3);
    assert_int_equal(fault(a, VA0 + 6 * PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(fault(b2, VA0 + 7 * PAGE_SIZE, ACCESS_WRITE), 0);
    assert_int_equal(nrequests(mo), 2);
    uint64_t used = bank_used_bytes(fk_root_bank()), pages = fk_pages_live();
    uint64_t rmaps = fk_cache_allocated("pc32"), pcb = pc_bytes();

    assert_int_equal(set_length(3 * PAGE_SIZE + 10), NS_OK); /* keeps pages 0..3 */
    assert_int_equal(page_cache_count(&mo->cache), 4);
    assert_int_equal(fk_pages_live(), pages - 2);
    assert_int_equal(fk_cache_allocated("pc32"), rmaps - 6); /* pages 4 and 5, 3 PTEs each */
    /* Two pages, the nodes that held them, and the two requests past the end. */
    assert_int_equal(bank_used_bytes(fk_root_bank()),
                     used - 2 * PAGE_SIZE - (pcb - pc_bytes()) - 2 * REQUEST_BYTES);
    for (int p = 4; p < 8; p++) {
        assert_unmapped(a, VA0 + p * PAGE_SIZE);
        assert_unmapped(b, VA0 + p * PAGE_SIZE);
        assert_unmapped(b, VA0 + (62 + p) * PAGE_SIZE);
    }
    assert_mapped(a, VA0 + 3 * PAGE_SIZE, 3, RW);
    assert_mapped(b, VA0 + 65 * PAGE_SIZE, 3, R);
    assert_bytes(frame(mo, 3), 10, 0x77);
    assert_bytes(frame(mo, 3) + 10, PAGE_SIZE - 10, 0);
    /* Requests past the end fail as out of range. */
    assert_faulted(a, NS_FAULT_RANGE, VA0 + 6 * PAGE_SIZE, 0);
    assert_faulted(b2, NS_FAULT_RANGE, VA0 + 7 * PAGE_SIZE, 0);
    assert_int_equal(nrequests(mo), 0);
    recover(a);
    assert_int_equal(fault(a, VA0 + 4 * PAGE_SIZE, ACCESS_READ), NS_FAULT_RANGE);
    recover(a);
    assert_int_equal(supply(4, 1), NS_ERR_RANGE);
    struct thread *const all[] = {a, b, b2, M};
    check_ptes(all, 4);

    /* Growing is allowed; the new pages are asked for again. */
    assert_int_equal(set_length(8 * PAGE_SIZE), NS_OK);
    assert_int_equal(fault(a, VA0 + 6 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(mo, 6, 6, 1);
    fill_buf(0, 1, 0x12);
    assert_int_equal(supply(6, 1), NS_OK);
    assert_mapped(a, VA0 + 6 * PAGE_SIZE, 6, RW);
    assert_bytes(frame(mo, 6), PAGE_SIZE, 0x12);
    /* Bad lengths. */
    assert_int_equal(set_length(UINT64_MAX), NS_ERR_INVALID_ARG);
    assert_int_equal(set_length(UINT64_MAX - PAGE_SIZE + 1), NS_ERR_INVALID_ARG);
    assert_int_equal(set_length((PC_PAGE_LIMIT - 1) * PAGE_SIZE + 1), NS_ERR_INVALID_ARG);
    assert_int_equal(mo->length, 8 * PAGE_SIZE);
    assert_int_equal(set_length(UINT64_MAX - PAGE_SIZE), NS_OK); /* the largest */
    fk_set_current(a);
    assert_int_equal(sys_memobj_set_length(H, a, S_MO, 0), NS_ERR_NO_RIGHTS);
    /* To zero: everything goes. */
    assert_int_equal(set_length(0), NS_OK);
    assert_int_equal(page_cache_count(&mo->cache), 0);
    check_ptes(all, 4);
    assert_int_equal(fault(a, VA0, ACCESS_READ), NS_FAULT_RANGE);
}

/* A shrink cuts a cluster at the new end: the thread waiting for a page
 * past it gets NS_FAULT_RANGE, the one waiting for a page still inside
 * keeps waiting (a shrink once failed the whole request, and so both). */
static void test_shrink_keeps_waiters_inside(void **state)
{
    (void)state;
    world(8 * PAGE_SIZE);
    assert_int_equal(set_cluster(M, 4), NS_OK);
    struct thread *a = client("a", NULL), *b = client("b", a);
    assert_int_equal(map(a, VA0, 0, 8, RW), NS_OK);
    assert_int_equal(fault(a, VA0 + 2 * PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(fault(b, VA0 + 5 * PAGE_SIZE, ACCESS_READ), 0);
    assert_request(MO(), 2, 2, 4);
    assert_int_equal(set_length(3 * PAGE_SIZE), NS_OK); /* page 2 stays */
    assert_faulted(b, NS_FAULT_RANGE, VA0 + 5 * PAGE_SIZE, 0);
    assert_int_not_equal(a->ipc_op, IPC_CALL); /* no fault message for page 2 */
    if (a->state == THREAD_BLOCKED)
        assert_waits(a, MO(), 2);
    else
        assert_running(a);
}

/* ---- accounting -------------------------------------------------------------- */

static void test_accounting_returns_to_start(void **state)
{
    (void)state;
    world(PAGE_SIZE);
    struct bank *root = fk_root_bank();
    struct bank *b = fk_bank(M, S_BANK, 1024 * PAGE_SIZE);
    struct thread *a = client("a", NULL), *c = client("c", NULL);
    uint64_t root0 = bank_used_bytes(root), b0 = bank_used_bytes(b), pages0 = fk_pages_live();
    uint64_t mappings0 = fk_cache_allocated("mapping");

    for (int round = 0; round < 2; round++) {
        assert_int_equal(create(M, S_BANK, S_MO2, 40 * PAGE_SIZE), NS_OK);
        struct memobj *mo = obj_in(M, S_MO2);
        assert_ptr_equal(mo->obj.bank, b);
        assert_true(bank_used_bytes(b) > b0);
        assert_int_equal(fk_give(M, S_MO2, a, S_MO2, RWX, 0), NS_OK);
        assert_int_equal(fk_give(M, S_MO2, c, S_MO2, RWX, 0), NS_OK);
        assert_int_equal(map_slot(a, S_MO2, VA0, 0, 40, RW, NULL), NS_OK);
        assert_int_equal(map_slot(c, S_MO2, VA0, 0, 20, RW, NULL), NS_OK);
        assert_int_equal(map_slot(c, S_MO2, VA0 + 30 * PAGE_SIZE, 10, 10, RW, NULL), NS_OK);
        for (int p = 0; p < 40; p += 3) {
            assert_int_equal(fault(a, VA0 + p * PAGE_SIZE, ACCESS_READ), 0);
            fk_set_current(M);
            assert_int_equal(sys_memobj_supply(H, M, S_MO2, p, 1, p & 1 ? BUF_VA : 0), NS_OK);
            assert_running(a);
            if (p < 20)
                assert_int_equal(fault(c, VA0 + p * PAGE_SIZE, ACCESS_READ), 0);
            else if (p < 30)
                assert_int_equal(fault(c, VA0 + p * PAGE_SIZE, ACCESS_READ), -1);
        }
        assert_true(fk_pages_live() > pages0);
        assert_int_equal(unmap(c, VA0 + 5 * PAGE_SIZE, 30), NS_OK);
        if (round == 0) {
            /* Mappings first, then the object. */
            assert_int_equal(unmap(a, VA0, 40), NS_OK);
            assert_int_equal(unmap(c, VA0, 40), NS_OK);
            kobj_destroy(&mo->obj);
        } else {
            /* The object first: its memory waits for the last mapping. */
            kobj_destroy(&mo->obj);
            assert_int_equal(fk_pages_live(), pages0);
            assert_int_equal(bank_used_bytes(b), b0);
            assert_int_equal(unmap(a, VA0, 40), NS_OK);
            assert_int_equal(unmap(c, VA0, 40), NS_OK);
        }
        assert_int_equal(bank_used_bytes(b), b0);
        assert_int_equal(bank_used_bytes(root), root0);
        assert_int_equal(fk_pages_live(), pages0);
        assert_int_equal(fk_cache_allocated("mapping"), mappings0);
        assert_int_equal(fk_cache_allocated("memobj"), 1); /* the world's */
        cap_slot_delete(&M->cs->cs.slots[S_MO2]);
        cap_slot_delete(&a->cs->cs.slots[S_MO2]);
        cap_slot_delete(&c->cs->cs.slots[S_MO2]);
    }
    /* The manager's bank going takes its objects with it. */
    assert_int_equal(create(M, S_BANK, S_MO2, 4 * PAGE_SIZE), NS_OK);
    assert_int_equal(fk_give(M, S_MO2, a, S_MO2, RWX, 0), NS_OK);
    assert_int_equal(map_slot(a, S_MO2, VA0, 0, 4, RW, NULL), NS_OK);
    struct memobj *mo = obj_in(M, S_MO2);
    assert_int_equal(fault(a, VA0, ACCESS_READ), 0);
    fk_set_current(M);
    assert_int_equal(sys_memobj_supply(H, M, S_MO2, 0, 1, 0), NS_OK);
    assert_int_equal(fault(a, VA0 + PAGE_SIZE, ACCESS_READ), 0);
    kobj_destroy(&b->obj);
    assert_false(mo->obj.live);
    assert_faulted(a, NS_FAULT_DEAD, VA0 + PAGE_SIZE, 0);
    assert_unmapped(a, VA0);
    assert_int_equal(fk_pages_live(), pages0);
}

static void test_quota_failures_change_nothing(void **state)
{
    (void)state;
    world(PAGE_SIZE);
    struct bank *b = fk_bank(M, S_BANK, 0);
    struct thread *a = client("a", NULL);
    /* Too small for the object itself. */
    assert_int_equal(create(M, S_BANK, S_MO2, 16 * PAGE_SIZE), NS_ERR_NO_QUOTA);
    assert_int_equal(M->cs->cs.slots[S_MO2].type, NS_CAP_NULL);
    assert_int_equal(bank_used_bytes(b), 0);
    assert_int_equal(fk_cache_allocated("memobj"), 1);

    /* Room for the object, a page-cache node and two pages. */
    assert_int_equal(bank_set_limit_pages(b, 1), NS_OK);
    assert_int_equal(create(M, S_BANK, S_MO2, 16 * PAGE_SIZE), NS_OK);
    struct memobj *mo = obj_in(M, S_MO2);
    uint64_t used = bank_used_bytes(b);
    assert_int_equal(bank_set_limit_pages(b, 3), NS_OK);
    assert_int_equal(fk_give(M, S_MO2, a, S_MO2, RWX, 0), NS_OK);
    assert_int_equal(map_slot(a, S_MO2, VA0, 0, 16, RW, NULL), NS_OK);
    struct thread *w = client("w", a);
    assert_int_equal(fault(a, VA0, ACCESS_READ), 0);
    assert_int_equal(fault(w, VA0 + 2 * PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(bank_used_bytes(b), used + 2 * REQUEST_BYTES); /* requests are charged */
    used = bank_used_bytes(b);
    uint64_t pages = fk_pages_live();
    fk_set_current(M);
    assert_int_equal(sys_memobj_supply(H, M, S_MO2, 0, 4, BUF_VA), NS_ERR_NO_QUOTA);
    assert_int_equal(bank_used_bytes(b), used);
    assert_int_equal(fk_pages_live(), pages);
    assert_int_equal(page_cache_count(&mo->cache), 0);
    assert_int_equal(nrequests(mo), 2);
    assert_waits(a, mo, 0);
    assert_waits(w, mo, 2);
    /* Two pages fit, with the cache's records. */
    assert_int_equal(sys_memobj_supply(H, M, S_MO2, 0, 1, BUF_VA), NS_OK);
    assert_running(a);
    assert_int_equal(sys_memobj_supply(H, M, S_MO2, 2, 1, BUF_VA), NS_OK);
    assert_running(w);
    assert_int_equal(page_cache_count(&mo->cache), 2);

    /* A minor fault whose reverse-map entry cannot be charged: a typed
     * fault, and no PTE left behind. */
    uint64_t limit = (bank_used_bytes(b) + PAGE_SIZE - 1) / PAGE_SIZE;
    assert_int_equal(bank_set_limit_pages(b, limit), NS_OK);
    while (bank_charge(b, 32) == NS_OK)
        ; /* fill the bank to the last reverse-map entry */
    struct thread *c = client("c", NULL);
    assert_int_equal(fk_give(M, S_MO2, c, S_MO2, RWX, 0), NS_OK);
    assert_int_equal(map_slot(c, S_MO2, VA0, 0, 16, RW, NULL), NS_OK);
    assert_int_equal(fault(c, VA0 + 2 * PAGE_SIZE, ACCESS_READ), NS_FAULT_MANAGER);
    assert_faulted(c, NS_FAULT_MANAGER, VA0 + 2 * PAGE_SIZE, NS_ERR_NO_QUOTA);
    assert_unmapped(c, VA0 + 2 * PAGE_SIZE);
    assert_int_equal(page_cache_lookup(&mo->cache, 2)->mapcount, 1);
    recover(c);
    /* A page table that cannot be charged: the same. */
    bank_set_limit_pages(b, UINT64_MAX);
    fk_fail_enter(1);
    assert_int_equal(fault(c, VA0 + 2 * PAGE_SIZE, ACCESS_READ), NS_FAULT_MANAGER);
    assert_faulted(c, NS_FAULT_MANAGER, VA0 + 2 * PAGE_SIZE, NS_ERR_NO_QUOTA);
    assert_int_equal(page_cache_lookup(&mo->cache, 2)->mapcount, 1);
    recover(c);
    assert_int_equal(fault(c, VA0 + 2 * PAGE_SIZE, ACCESS_READ), 0);
    assert_mapped_in(mo, c, VA0 + 2 * PAGE_SIZE, 2, RW);
}

/* ---- random run against a model ----------------------------------------------- */

/* Threads 2k and 2k+1 share space k. Space s maps object pages
 * [off(s), RT_REGION) at rt_va(s, page), so faults can land past the
 * length, and unmaps and remaps cut holes in it. The model says which
 * pages are resident (and what they hold), which requests exist, what
 * every thread is doing and which PTEs every space holds; after every
 * step the real state must be exactly that. Deadlines are off (no ticks),
 * and memobj.c's own rules are the model's: a request is asked for with
 * the cluster rule; its pages settle one by one (supplied, failed, cut off
 * by a shrink), each settling only the threads waiting for that page; an
 * unread request whose waiters all left is dropped. */
#define RT_THREADS 6
#define RT_SPACES  3
#define RT_MAXP    24            /* object length at most this many pages */
#define RT_REGION  (RT_MAXP + 2) /* pages a space's mappings span */
#define RT_MAXREQ  64

enum { RT_RUN, RT_WAIT, RT_FAULT };

static struct {
    uint64_t rng;
    uint64_t len; /* bytes */
    unsigned cluster;
    bool resident[RT_MAXP];
    unsigned char content[RT_MAXP];
    uint32_t zero_from[RT_MAXP]; /* bytes from here on read as zero */
    bool mapped[RT_SPACES][RT_REGION];
    bool pte[RT_SPACES][RT_REGION];
    struct {
        uint64_t first, pages;
        uint64_t pending; /* bit i: page first + i still awaited */
        bool live, read;
    } req[RT_MAXREQ];
    struct {
        struct thread *t;
        int state;
        unsigned req;
        uint64_t page, va, kind, aux;
    } th[RT_THREADS];
    unsigned step;
} W;

static uint64_t rnd(void)
{
    W.rng ^= W.rng >> 12;
    W.rng ^= W.rng << 25;
    W.rng ^= W.rng >> 27;
    return W.rng * 0x2545F4914F6CDD1Dull;
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static unsigned rt_off(unsigned s)
{
    return s;
}

static uint64_t rt_va(unsigned s, uint64_t page)
{
    return VA0 + (uint64_t)s * 1024 * PAGE_SIZE + (page - rt_off(s)) * PAGE_SIZE;
}

static uint64_t rt_pages(void)
{
    return (W.len + PAGE_SIZE - 1) / PAGE_SIZE;
}

static int rt_covering(uint64_t page)
{
    for (unsigned i = 0; i < RT_MAXREQ; i++)
        if (W.req[i].live && page >= W.req[i].first && page < W.req[i].first + W.req[i].pages &&
            (W.req[i].pending >> (page - W.req[i].first) & 1))
            return (int)i;
    return -1;
}

/* Pending bits of request i inside [first, first + n). */
static uint64_t rt_bits(unsigned i, uint64_t first, uint64_t n)
{
    uint64_t bits = 0;
    if (!W.req[i].live)
        return 0;
    for (uint64_t p = W.req[i].first; p < W.req[i].first + W.req[i].pages; p++)
        if (p >= first && p < first + n)
            bits |= 1ull << (p - W.req[i].first);
    return bits & W.req[i].pending;
}

static bool rt_overlaps(unsigned i, uint64_t first, uint64_t n)
{
    return rt_bits(i, first, n) != 0;
}

static void rt_fault_thread(unsigned i, uint64_t kind, uint64_t aux)
{
    W.th[i].state = RT_FAULT;
    W.th[i].kind = kind;
    W.th[i].aux = aux;
}

/* memobj.c's settle: pages `bits` of request r are done. Their waiters go
 * on (kind 0: mapped if the mapping still shows the page) or get the
 * fault; the request goes when nothing is pending. */
static void rt_settle(unsigned r, uint64_t bits, uint64_t kind, uint64_t aux)
{
    W.req[r].pending &= ~bits;
    for (unsigned i = 0; i < RT_THREADS; i++) {
        if (W.th[i].state != RT_WAIT || W.th[i].req != r)
            continue;
        uint64_t p = W.th[i].page;
        if (!(bits >> (p - W.req[r].first) & 1))
            continue;
        if (kind) {
            rt_fault_thread(i, kind, aux);
            continue;
        }
        W.th[i].state = RT_RUN;
        unsigned s = i / 2;
        if (W.mapped[s][p] && p < RT_MAXP && W.resident[p])
            W.pte[s][p] = true;
    }
    if (!W.req[r].pending)
        W.req[r].live = false;
}

static void rt_settle_run(uint64_t first, uint64_t n, uint64_t kind, uint64_t aux)
{
    for (unsigned r = 0; r < RT_MAXREQ; r++) {
        uint64_t bits = rt_bits(r, first, n);
        if (bits)
            rt_settle(r, bits, kind, aux);
    }
}

static void rt_check_page(uint64_t p)
{
    const unsigned char *f = frame(MO(), p);
    assert_bytes(f, W.zero_from[p], W.content[p]);
    assert_bytes(f + W.zero_from[p], PAGE_SIZE - W.zero_from[p], 0);
}

static void rt_check(bool contents)
{
    struct memobj *mo = MO();
    assert_int_equal(mo->length, W.len);
    /* Requests: the model's, one per missing page at most. */
    unsigned live = 0;
    for (unsigned i = 0; i < RT_MAXREQ; i++) {
        if (!W.req[i].live)
            continue;
        live++;
        assert_request(mo, W.req[i].first + __builtin_ctzll(W.req[i].pending), W.req[i].first,
                       W.req[i].pages);
    }
    assert_int_equal(nrequests(mo), live);
    for (unsigned i = 0; i < RT_MAXREQ; i++)
        if (W.req[i].live) {
            struct page_request *r =
                request_at(mo, W.req[i].first + __builtin_ctzll(W.req[i].pending));
            assert_non_null(r);
            assert_int_equal(r->pending, W.req[i].pending);
            assert_int_equal(r->handed_out, W.req[i].read);
        }
    for (uint64_t p = 0; p < RT_MAXP; p++) {
        unsigned n = 0;
        for (struct page_request *r = mo->requests; r; r = r->next)
            n += p >= r->first_page && p < r->first_page + r->pages &&
                 (r->pending >> (p - r->first_page) & 1);
        assert_true(n <= 1);
    }
    for (struct page_request *r = mo->requests; r; r = r->next) {
        /* Nothing pending is resident. */
        for (uint64_t p = r->first_page; p < r->first_page + r->pages; p++)
            if (r->pending >> (p - r->first_page) & 1)
                assert_null(resident(mo, p));
        /* Nobody waits for a page that is here. */
        for (struct thread *t = r->head; t; t = t->q_next) {
            struct mapping *m = map_tree_lookup(&t->as->maps, t->fault_va);
            if (m)
                assert_null(resident(mo, m->obj_page + (t->fault_va - m->va_start) / PAGE_SIZE));
        }
    }
    /* Resident pages. */
    uint64_t nres = 0;
    for (uint64_t p = 0; p < RT_MAXP; p++) {
        nres += W.resident[p];
        assert_int_equal(resident(mo, p) != NULL, W.resident[p]);
        if (contents && W.resident[p])
            rt_check_page(p);
    }
    assert_int_equal(page_cache_count(&mo->cache), nres);
    /* Threads. */
    struct thread *all[RT_THREADS + 1];
    for (unsigned i = 0; i < RT_THREADS; i++) {
        struct thread *t = all[i] = W.th[i].t;
        switch (W.th[i].state) {
        case RT_RUN:
            assert_running(t);
            break;
        case RT_WAIT:
            assert_waits(t, mo, W.th[i].page);
            assert_int_equal(t->fault_va, W.th[i].va);
            break;
        default:
            assert_faulted(t, W.th[i].kind, W.th[i].va, W.th[i].aux);
            break;
        }
    }
    all[RT_THREADS] = M;
    /* PTEs: exactly the model's, each a resident page in a mapping. */
    for (unsigned s = 0; s < RT_SPACES; s++) {
        struct thread *t = W.th[2 * s].t;
        size_t n = 0;
        for (uint64_t p = rt_off(s); p < RT_REGION; p++) {
            const struct fk_pte *e = fk_pte_find(t->as, rt_va(s, p));
            assert_int_equal(e != NULL, W.pte[s][p]);
            if (e) {
                n++;
                assert_int_equal(e->pa, resident(mo, p)->pa);
                assert_int_equal(e->rights, RW);
            }
        }
        assert_int_equal(fk_pte_count(t->as), n);
    }
    check_ptes(all, RT_THREADS + 1);
}

static void rt_fault(void)
{
    unsigned i = rnd_below(RT_THREADS), s = i / 2;
    if (W.th[i].state != RT_RUN)
        return;
    /* Mostly inside the length, often on a page already asked for. */
    uint64_t p = rt_off(s) + rnd_below(RT_REGION - rt_off(s));
    unsigned how = rnd_below(8);
    int live[RT_MAXREQ], nl = 0;
    for (unsigned r = 0; r < RT_MAXREQ; r++)
        if (W.req[r].live && W.req[r].first + W.req[r].pages > rt_off(s))
            live[nl++] = (int)r;
    if (how < 3 && nl) {
        unsigned r = (unsigned)live[rnd_below((unsigned)nl)];
        p = W.req[r].first + rnd_below((unsigned)W.req[r].pages);
        if (p < rt_off(s))
            p = rt_off(s);
    } else if (how < 7 && rt_pages() > rt_off(s)) {
        p = rt_off(s) + rnd_below((unsigned)(rt_pages() - rt_off(s)));
    }
    uint64_t va = rt_va(s, p) + (rnd() & (PAGE_SIZE - 1));
    enum fault_access acc = rnd() & 1 ? ACCESS_WRITE : ACCESS_READ;
    int kind = fault(W.th[i].t, va, acc);
    W.th[i].va = va;
    W.th[i].page = p;
    if (!W.mapped[s][p]) {
        assert_int_equal(kind, -1);
    } else if (p >= rt_pages()) {
        assert_int_equal(kind, NS_FAULT_RANGE);
        rt_fault_thread(i, NS_FAULT_RANGE, 0);
    } else if (W.resident[p]) {
        assert_int_equal(kind, 0);
        W.pte[s][p] = true;
    } else {
        assert_int_equal(kind, 0);
        int r = rt_covering(p);
        if (r < 0) {
            uint64_t n = 1;
            while (n < W.cluster && p + n < rt_pages() && !W.resident[p + n] &&
                   rt_covering(p + n) < 0)
                n++;
            for (r = 0; W.req[r].live; r++)
                assert_true(r + 1 < RT_MAXREQ);
            W.req[r].first = p;
            W.req[r].pages = n;
            W.req[r].pending = (1ull << n) - 1;
            W.req[r].live = true;
            W.req[r].read = false;
        }
        W.th[i].state = RT_WAIT;
        W.th[i].req = (unsigned)r;
    }
}

/* ---- storage maps: dirty pages, writeback, sync ------------------------------
 *
 * A fake disk of 256 pages behind the real storage-map walk: requests wait
 * in a queue until the test completes them (with the status it picks), so
 * every interleaving of stores, truncation and completion can be staged. */

#define FD_PAGES 256
#define S_FRAME  9

static struct {
    struct blk_device dev;
    struct disk disk;
    struct cap_slot root_key;
    struct objframe root;
    unsigned char data[FD_PAGES][PAGE_SIZE];
    struct blk_request *queue[64];
    unsigned queued, reads, writes, flushes;
} fd;

static enum blk_status fd_submit(struct blk_device *dev, struct blk_request *rq)
{
    (void)dev;
    assert_true(fd.queued < 64);
    fd.queue[fd.queued++] = rq;
    return BLK_OK;
}

static const struct blk_ops fd_ops = {.submit = fd_submit};

/* Complete the requests queued now (not those their completions queue)
 * with `status`. */
static void fd_complete(enum blk_status status)
{
    for (unsigned n = fd.queued; n; n--) {
        struct blk_request *rq = fd.queue[0];
        memmove(fd.queue, fd.queue + 1, --fd.queued * sizeof(fd.queue[0]));
        uint64_t off = rq->sector * 512;
        for (unsigned i = 0; i < rq->nsegs && status == BLK_OK; i++) {
            void *mem = pa_to_va(rq->segs[i].pa);
            if (rq->op == BLK_OP_READ)
                memcpy(mem, (unsigned char *)fd.data + off, rq->segs[i].len);
            else if (rq->op == BLK_OP_WRITE)
                memcpy((unsigned char *)fd.data + off, mem, rq->segs[i].len);
            off += rq->segs[i].len;
        }
        fd.reads += rq->op == BLK_OP_READ;
        fd.writes += rq->op == BLK_OP_WRITE;
        fd.flushes += rq->op == BLK_OP_FLUSH;
        rq->status = status;
        rq->done(rq);
    }
}

/* A 64-page object whose height-2 map has a key per 16-page slot over the
 * fake disk's first 64 pages, installed; a client mapping it RW at VA0. */
static struct thread *map_world(void)
{
    memset(&fd, 0, sizeof(fd));
    strcpy(fd.dev.name, "fd0");
    fd.dev.sectors = FD_PAGES * 8;
    fd.dev.block_size = 512;
    fd.dev.can_flush = true;
    fd.dev.max_segs = 64;
    fd.dev.ops = &fd_ops;
    kobj_init(&fd.disk.obj, NS_CAP_DISKRANGE);
    fd.disk.sectors = FD_PAGES * 8;
    fd.disk.dev = &fd.dev;
    for (unsigned p = 0; p < FD_PAGES; p++)
        memset(fd.data[p], (int)(p + 1), PAGE_SIZE);
    diskrange_install(&fd.root_key, &fd.disk, RW);
    kobj_init(&fd.root.obj, NS_CAP_OBJFRAME);
    objframe_init(&fd.root);
    for (unsigned i = 0; i < 4; i++) {
        struct cap_slot k = {0};
        assert_int_equal(diskrange_derive(&fd.root_key, &k, i * 128, 128, RW), NS_OK);
        assert_int_equal(objframe_store(&fd.root, i, &k, RW), NS_OK);
        cap_slot_delete(&k);
    }
    world(64 * PAGE_SIZE);
    cap_install(&M->cs->cs.slots[S_FRAME], &fd.root.obj, NS_RIGHTS_ALL, 0);
    fk_set_current(M);
    assert_int_equal(sys_memobj_set_map(M, S_MO, S_FRAME, 2), NS_OK);
    uint64_t out;
    assert_int_equal(sys_memobj_control(M, S_MO, NS_MEMOBJ_CTL_READAHEAD, 1, &out), NS_OK);
    struct thread *c = client("c", NULL);
    assert_int_equal(map(c, VA0, 0, 64, RW), NS_OK);
    return c;
}

static void map_world_end(struct thread *c)
{
    fk_thread_destroy(c);
    cap_slot_delete(&M->cs->cs.slots[S_FRAME]);
    objframe_clear_all(&fd.root);
    cap_slot_delete(&fd.root_key);
}

static uint32_t pte_rights(struct thread *t, uint64_t va)
{
    const struct fk_pte *e = fk_pte_find(t->as, va);
    return e ? e->rights : 0;
}

/* Read page p (through the fake disk) and check it is mapped. */
static void read_in(struct thread *c, uint64_t p)
{
    assert_int_equal(fault(c, VA0 + p * PAGE_SIZE, ACCESS_READ), 0);
    fd_complete(BLK_OK);
    assert_int_equal(c->state, THREAD_RUNNABLE);
    assert_non_null(fk_pte_find(c->as, VA0 + p * PAGE_SIZE));
}

static enum ns_error sync_obj(struct thread *t)
{
    fk_set_current(t);
    t->ctx.regs[10] = S_MO;
    sys_memobj_sync(H, t);
    fk_set_current(NULL);
    return t->state == THREAD_BLOCKED ? NS_ERR_WOULD_BLOCK : (enum ns_error)t->ctx.regs[10];
}

/* A clean page is mapped read-only even where the mapping allows writes;
 * the first store faults, marks it dirty and makes the PTE writable. */
static void test_map_dirty_tracking(void **state)
{
    (void)state;
    struct thread *c = map_world();
    read_in(c, 3);
    assert_int_equal(fd.reads, 1);
    assert_int_equal(pte_rights(c, VA0 + 3 * PAGE_SIZE) & NS_RIGHT_WRITE, 0);
    assert_int_equal(MO()->dirty, 0);
    assert_int_equal(fault(c, VA0 + 3 * PAGE_SIZE, ACCESS_WRITE), 0);
    assert_true(pte_rights(c, VA0 + 3 * PAGE_SIZE) & NS_RIGHT_WRITE);
    assert_int_equal(MO()->dirty, 1);
    /* A write fault on a missing page arrives dirty and writable. */
    assert_int_equal(fault(c, VA0 + 4 * PAGE_SIZE, ACCESS_WRITE), 0);
    fd_complete(BLK_OK);
    assert_true(pte_rights(c, VA0 + 4 * PAGE_SIZE) & NS_RIGHT_WRITE);
    assert_int_equal(MO()->dirty, 2);
    map_world_end(c);
}

/* Sync writes the dirty run in one request, a failed write leaves the
 * pages dirty and is retried by the next pass, then the disk is flushed
 * and only then does the caller go on; the data on disk is the store. */
static void test_sync_retries_failed_write(void **state)
{
    (void)state;
    struct thread *c = map_world();
    for (uint64_t p = 5; p < 8; p++) {
        read_in(c, p);
        assert_int_equal(fault(c, VA0 + p * PAGE_SIZE, ACCESS_WRITE), 0);
        ((unsigned char *)pa_to_va(fk_pte_find(c->as, VA0 + p * PAGE_SIZE)->pa))[10] = 0xee;
    }
    assert_int_equal(MO()->dirty, 3);
    struct thread *s = fk_thread_in("syncer", 16, c);
    assert_int_equal(fk_give(M, S_MO, s, S_MO, RW, 0), NS_OK);
    assert_int_equal(sync_obj(s), NS_ERR_WOULD_BLOCK);
    assert_int_equal(fd.queued, 1); /* pages 5-7: one run */
    assert_int_equal(fd.queue[0]->count, 24);
    /* Written back: the PTEs lost their write right. */
    assert_int_equal(pte_rights(c, VA0 + 5 * PAGE_SIZE) & NS_RIGHT_WRITE, 0);
    fd_complete(BLK_ERR_IO);
    /* Dirty again, and the next pass is on the disk already. */
    assert_int_equal(fd.queued, 1);
    assert_int_equal(MO()->dirty, 0);
    assert_int_equal(MO()->io_errors, 1);
    assert_int_equal(s->state, THREAD_BLOCKED);
    fd_complete(BLK_OK); /* the write */
    assert_int_equal(s->state, THREAD_BLOCKED);
    fd_complete(BLK_OK); /* the flush it led to */
    assert_int_equal(fd.flushes, 1);
    assert_int_equal(s->state, THREAD_RUNNABLE);
    assert_int_equal(s->ctx.regs[10], NS_OK);
    assert_int_equal(fd.data[6][10], 0xee);
    assert_int_equal(fd.data[6][11], 7);
    assert_int_equal(MO()->dirty, 0);
    /* Nothing dirty: sync returns at once. */
    assert_int_equal(sync_obj(s), NS_OK);
    /* A read-only holder cannot sync. */
    assert_int_equal(fk_give(M, S_MO, s, S_MO_RO, R, 0), NS_OK);
    fk_set_current(s);
    s->ctx.regs[10] = S_MO_RO;
    sys_memobj_sync(H, s);
    assert_int_equal(s->ctx.regs[10], NS_ERR_NO_RIGHTS);
    fk_thread_destroy(s);
    map_world_end(c);
}

/* Three failed passes: sync gives NS_ERR_IO, the page stays dirty. */
static void test_sync_reports_io_error(void **state)
{
    (void)state;
    struct thread *c = map_world();
    read_in(c, 1);
    assert_int_equal(fault(c, VA0 + PAGE_SIZE, ACCESS_WRITE), 0);
    assert_int_equal(sync_obj(c), NS_ERR_WOULD_BLOCK);
    for (int i = 0; i < 3; i++)
        fd_complete(BLK_ERR_IO);
    assert_int_equal(c->state, THREAD_RUNNABLE);
    assert_int_equal(c->ctx.regs[10], NS_ERR_IO);
    assert_int_equal(MO()->dirty, 1);
    assert_int_equal(MO()->io_errors, 3);
    /* The next sync writes it. */
    assert_int_equal(sync_obj(c), NS_ERR_WOULD_BLOCK);
    fd_complete(BLK_OK);
    fd_complete(BLK_OK);
    assert_int_equal(c->ctx.regs[10], NS_OK);
    assert_int_equal(MO()->dirty, 0);
    map_world_end(c);
}

/* A page truncated while its write is in flight leaves the cache at once;
 * the write's completion frees the frame (fk_fini counts every page). */
static void test_truncate_during_writeback(void **state)
{
    (void)state;
    struct thread *c = map_world();
    read_in(c, 9);
    assert_int_equal(fault(c, VA0 + 9 * PAGE_SIZE, ACCESS_WRITE), 0);
    uint64_t dropped;
    fk_set_current(M);
    assert_int_equal(sys_memobj_control(M, S_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped), NS_OK);
    assert_int_equal(dropped, 0); /* busy: being written */
    assert_int_equal(fd.queued, 1);
    assert_int_equal(set_length(8 * PAGE_SIZE), NS_OK);
    assert_null(resident(MO(), 9));
    assert_int_equal(MO()->dirty, 0);
    fd_complete(BLK_OK);
    /* Evict drops what is clean; the object can die with a write queued. */
    read_in(c, 2);
    assert_int_equal(fault(c, VA0 + 2 * PAGE_SIZE, ACCESS_WRITE), 0);
    fk_set_current(M);
    assert_int_equal(sys_memobj_control(M, S_MO, NS_MEMOBJ_CTL_EVICT, 0, &dropped), NS_OK);
    assert_int_equal(fd.queued, 1);
    map_world_end(c);
    assert_int_equal(cap_delete(&M->cs->cs, S_MO), NS_OK); /* the last capability */
    fd_complete(BLK_OK);
}

/* The map is gone and a fault asks the manager (NO_MAP); before the
 * manager fetches the request, a map is installed again and the kernel
 * reads the page itself. The manager is then not asked for it at all (it
 * would be asked to supply a page the map serves); the fault completes
 * from the disk. (Seen at --smp 4 in the stress test.) */
static void test_redriven_request_not_handed_out(void **state)
{
    (void)state;
    struct thread *c = map_world();
    fk_set_current(M);
    assert_int_equal(sys_memobj_set_map(M, S_MO, 0, 0), NS_OK); /* as a discard, frames kept */
    assert_int_equal(fault(c, VA0 + 5 * PAGE_SIZE, ACCESS_READ), 0);
    assert_int_equal(c->state, THREAD_BLOCKED);
    assert_int_equal(fd.queued, 0);
    fk_set_current(M);
    assert_int_equal(sys_memobj_set_map(M, S_MO, S_FRAME, 2), NS_OK);
    assert_int_equal(fd.queued, 1); /* the kernel reads it */
    assert_int_equal(drain(NULL, 16), 0);
    fd_complete(BLK_OK);
    assert_int_equal(c->state, THREAD_RUNNABLE);
    assert_int_equal(((unsigned char *)pa_to_va(fk_pte_find(c->as, VA0 + 5 * PAGE_SIZE)->pa))[0],
                     6);
    map_world_end(c);
}

/* A system call's copy into a clean disk-backed page (mapped read-only to
 * see the first store) or into a resident page not yet mapped here faults
 * in the kernel: memobj_fault_resident maps it with the rights the access
 * needs, marks it dirty for a store, and the copy runs again. A page the
 * object does not have is left alone (no request: the kernel cannot wait
 * in the middle of a copy). */
static void test_kernel_copy_faults_resident(void **state)
{
    (void)state;
    struct thread *c = map_world();
    read_in(c, 3);
    uint64_t va = VA0 + 3 * PAGE_SIZE + 8;
    assert_int_equal(pte_rights(c, VA0 + 3 * PAGE_SIZE) & NS_RIGHT_WRITE, 0);
    assert_true(memobj_fault_resident(c->as, va, ACCESS_WRITE));
    assert_true(pte_rights(c, VA0 + 3 * PAGE_SIZE) & NS_RIGHT_WRITE);
    assert_int_equal(MO()->dirty, 1);
    /* Resident but unmapped here: mapped by the retry. */
    assert_int_equal(unmap(c, VA0 + 3 * PAGE_SIZE, 1), NS_OK);
    assert_int_equal(map(c, VA0 + 3 * PAGE_SIZE, 3, 1, RW), NS_OK);
    assert_null(fk_pte_find(c->as, VA0 + 3 * PAGE_SIZE));
    assert_true(memobj_fault_resident(c->as, va, ACCESS_READ));
    assert_non_null(fk_pte_find(c->as, VA0 + 3 * PAGE_SIZE));
    /* Not resident: nothing asked, nothing read. */
    assert_false(memobj_fault_resident(c->as, VA0 + 9 * PAGE_SIZE, ACCESS_READ));
    assert_int_equal(fd.queued, 0);
    assert_int_equal(nrequests(MO()), 0);
    assert_false(memobj_fault_resident(c->as, 0x7000000, ACCESS_READ)); /* no mapping */
    map_world_end(c);
}

/* Pageout by the clock under memory pressure: one sweep drops the clean
 * pages and writes the dirty run back, its completion frees those pages.
 * Each frame may be freed only after the shootdown of its PTEs, which
 * inside a sweep is owed until the batch ends (aspace.h): the fake keeps a
 * frame unmapped in an open batch as "maybe still in another hart's TLB"
 * and reports freeing it then. The stores reach the disk. */
static void test_pageout_frees_after_shootdown(void **state)
{
    (void)state;
    struct thread *c = map_world();
    for (uint64_t p = 0; p < 4; p++)
        read_in(c, p);
    for (uint64_t p = 16; p < 20; p++) {
        read_in(c, p);
        assert_int_equal(fault(c, VA0 + p * PAGE_SIZE, ACCESS_WRITE), 0);
        ((unsigned char *)pa_to_va(fk_pte_find(c->as, VA0 + p * PAGE_SIZE)->pa))[5] = 0xab;
    }
    uint64_t flushes = fk_flushes();
    fk_set_free_pages(0);
    memobj_reclaim();
    assert_int_equal(fk_batch_depth(), 0);
    for (uint64_t p = 0; p < 4; p++) {
        assert_null(resident(MO(), p));
        assert_null(fk_pte_find(c->as, VA0 + p * PAGE_SIZE));
    }
    assert_int_equal(fd.queued, 1); /* pages 16-19: one run */
    assert_int_equal(fd.queue[0]->count, 32);
    assert_int_equal(pte_rights(c, VA0 + 17 * PAGE_SIZE) & NS_RIGHT_WRITE, 0);
    fd_complete(BLK_OK);
    fk_set_free_pages(UINT64_MAX);
    assert_int_equal(fk_batch_depth(), 0);
    for (uint64_t p = 16; p < 20; p++) {
        assert_null(resident(MO(), p));
        assert_null(fk_pte_find(c->as, VA0 + p * PAGE_SIZE));
        assert_int_equal(fd.data[p][5], 0xab);
        assert_int_equal(fd.data[p][6], p + 1);
    }
    assert_true(fk_flushes() > flushes);
    assert_int_equal(MO()->dirty, 0);
    map_world_end(c);
}

/* Hardware that faults instead of setting the accessed bit (SiFive U74):
 * after the clock cleared it, the access faults on a present PTE; the
 * fault path gives the bit back (re-entering the PTE) with the rights the
 * page's state allows, and the access goes on. `emulate`: the same on
 * hardware that sets the bit itself, through the kernel's emulation
 * (ad=fault), where an aged entry is also hidden from the walker. */
static void accessed_bit_by_fault(bool emulate)
{
    aspace_set_ad_emulation(emulate);
    struct thread *c = map_world();
    uint64_t va = VA0 + 6 * PAGE_SIZE;
    read_in(c, 6);
    assert_true(fk_pte_walkable(fk_pte_find(c->as, va)));
    assert_true(aspace_test_clear_accessed(c->as, va));
    assert_false(fk_pte_accessed(fk_pte_find(c->as, va)));
    /* Under emulation the hardware must fault on it; a U74 does anyway. */
    assert_int_equal(fk_pte_walkable(fk_pte_find(c->as, va)), !emulate);
    assert_false(aspace_test_clear_accessed(c->as, va)); /* not used since */
    uint64_t pa, flags;
    assert_true(aspace_lookup(c->as, va, &pa, &flags)); /* still held, A clear */
    assert_int_equal(flags & (PTE_V | PTE_A), PTE_V);
    assert_int_equal(fault(c, va, ACCESS_READ), 0);
    assert_true(fk_pte_accessed(fk_pte_find(c->as, va)));
    assert_true(fk_pte_walkable(fk_pte_find(c->as, va)));
    assert_int_equal(pte_rights(c, va) & NS_RIGHT_WRITE, 0); /* still clean */
    /* A store to an aged dirty page: accessed again, still writable. */
    assert_int_equal(fault(c, va, ACCESS_WRITE), 0);
    assert_true(aspace_test_clear_accessed(c->as, va));
    assert_int_equal(fault(c, va, ACCESS_WRITE), 0);
    assert_true(fk_pte_accessed(fk_pte_find(c->as, va)));
    assert_true(fk_pte_walkable(fk_pte_find(c->as, va)));
    assert_true(pte_rights(c, va) & NS_RIGHT_WRITE);
    assert_int_equal(MO()->dirty, 1);
    /* Write protection (writeback) keeps an aged entry aged. */
    assert_true(aspace_test_clear_accessed(c->as, va));
    aspace_write_protect(c->as, va);
    assert_int_equal(pte_rights(c, va) & NS_RIGHT_WRITE, 0);
    assert_false(fk_pte_accessed(fk_pte_find(c->as, va)));
    map_world_end(c);
    aspace_set_ad_emulation(false);
}

static void test_accessed_bit_by_fault(void **state)
{
    (void)state;
    accessed_bit_by_fault(false);
}

static void test_accessed_bit_by_fault_emulated(void **state)
{
    (void)state;
    accessed_bit_by_fault(true);
}

/* A sync waiter is told when the object dies; a suspended one leaves. */
static void test_sync_waiter_and_death(void **state)
{
    (void)state;
    struct thread *c = map_world();
    read_in(c, 0);
    assert_int_equal(fault(c, VA0, ACCESS_WRITE), 0);
    struct thread *s = fk_thread_in("syncer", 16, c);
    assert_int_equal(fk_give(M, S_MO, s, S_MO, RW, 0), NS_OK);
    assert_int_equal(sync_obj(s), NS_ERR_WOULD_BLOCK);
    assert_int_equal(sync_obj(c), NS_ERR_WOULD_BLOCK);
    fk_suspend(c); /* leaves its sync */
    fk_set_current(M);
    assert_int_equal(cap_revoke(&M->cs->cs, S_MO), NS_OK);
    assert_int_equal(cap_delete(&M->cs->cs, S_MO), NS_OK);
    assert_int_equal(s->state, THREAD_RUNNABLE);
    assert_int_equal(s->ctx.regs[10], NS_ERR_DEAD_OBJECT);
    fd_complete(BLK_OK);
    fd_complete(BLK_OK);
    fk_thread_destroy(s);
    map_world_end(c);
}

/* A run of pages, usually overlapping a request. */
static void rt_pick_run(uint64_t *first, uint64_t *n)
{
    int live[RT_MAXREQ], nl = 0;
    for (unsigned i = 0; i < RT_MAXREQ; i++)
        if (W.req[i].live)
            live[nl++] = (int)i;
    if (nl && rnd_below(16)) {
        unsigned r = (unsigned)live[rnd_below((unsigned)nl)];
        uint64_t lo = W.req[r].first > 2 ? W.req[r].first - 2 : 0;
        *first = lo + rnd_below((unsigned)(W.req[r].first + W.req[r].pages - lo));
        uint64_t need = *first < W.req[r].first ? W.req[r].first - *first + 1 : 1;
        *n = need + rnd_below(4);
    } else {
        *first = rnd_below(RT_MAXP + 1);
        *n = rnd_below(5);
    }
}

static void rt_supply(void)
{
    uint64_t first, n;
    rt_pick_run(&first, &n);
    bool zero = rnd_below(4) == 0;
    unsigned char byte = (unsigned char)(rnd() | 1);
    enum ns_error want = NS_OK;
    if (n == 0 || first >= rt_pages() || n > rt_pages() - first) {
        want = NS_ERR_RANGE;
    } else {
        want = NS_ERR_INVALID_ARG;
        for (unsigned r = 0; r < RT_MAXREQ; r++)
            if (rt_overlaps(r, first, n))
                want = NS_OK;
    }
    for (uint64_t k = 0; k < n && k < BUF_MAX; k++)
        memset(bufpage[k], byte + (int)k, PAGE_SIZE);
    assert_int_equal(supply_from(first, n, zero ? 0 : BUF_VA), want);
    if (want != NS_OK)
        return;
    uint64_t tail = W.len % PAGE_SIZE;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t p = first + k;
        if (W.resident[p])
            continue;
        W.resident[p] = true;
        W.content[p] = zero ? 0 : (unsigned char)(byte + k);
        W.zero_from[p] = p == rt_pages() - 1 && tail ? (uint32_t)tail : PAGE_SIZE;
    }
    rt_settle_run(first, n, 0, 0);
    for (uint64_t k = 0; k < n; k++)
        rt_check_page(first + k);
}

static void rt_fail(void)
{
    uint64_t first, n;
    rt_pick_run(&first, &n);
    static const enum ns_error errs[] = {NS_ERR_BAD_ADDRESS, NS_ERR_NO_MEMORY, NS_ERR_TIMEOUT};
    enum ns_error err = errs[rnd_below(3)];
    enum ns_error want;
    if (n == 0 || first >= rt_pages() || n > rt_pages() - first) {
        want = NS_ERR_RANGE;
    } else {
        want = NS_ERR_INVALID_ARG;
        for (unsigned r = 0; r < RT_MAXREQ; r++)
            if (rt_overlaps(r, first, n))
                want = NS_OK;
    }
    assert_int_equal(mfail(first, n, err), want);
    if (want != NS_OK)
        return;
    rt_settle_run(first, n, NS_FAULT_MANAGER, err);
}

static void rt_unmap_or_remap(bool remap)
{
    unsigned s = rnd_below(RT_SPACES);
    uint64_t p = rt_off(s) + rnd_below(RT_REGION - rt_off(s));
    uint64_t n = 1 + rnd_below((unsigned)(RT_REGION - p < 6 ? RT_REGION - p : 6));
    struct thread *t = W.th[2 * s].t;
    bool any = false;
    for (uint64_t k = p; k < p + n; k++)
        any |= W.mapped[s][k];
    if (remap)
        assert_int_equal(map(t, rt_va(s, p), p, n, RW), NS_OK);
    else
        assert_int_equal(unmap(t, rt_va(s, p), n), any ? NS_OK : NS_ERR_BAD_STATE);
    for (uint64_t k = p; k < p + n; k++) {
        W.mapped[s][k] = remap;
        W.pte[s][k] = false;
    }
}

static void rt_set_length(void)
{
    /* Mostly a grow or a small shrink, sometimes to anything. */
    uint64_t len = rnd_below(4) ? (uint64_t)(RT_MAXP / 2 + rnd_below(RT_MAXP / 2 + 1)) * PAGE_SIZE
                                : rnd() % (RT_MAXP * PAGE_SIZE + 1);
    if (rnd_below(2))
        len -= len % PAGE_SIZE ? 0 : rnd_below(PAGE_SIZE);
    assert_int_equal(set_length(len), NS_OK);
    if (len < W.len) {
        uint64_t keep = (len + PAGE_SIZE - 1) / PAGE_SIZE;
        for (uint64_t p = keep; p < RT_MAXP; p++) {
            W.resident[p] = false;
            for (unsigned s = 0; s < RT_SPACES; s++)
                W.pte[s][p] = false;
        }
        /* Pages past the end leave their requests; only their waiters
         * get the range fault (test_shrink_keeps_waiters_inside). */
        rt_settle_run(keep, RT_MAXP, NS_FAULT_RANGE, 0);
        if (keep && W.resident[keep - 1] && len % PAGE_SIZE &&
            W.zero_from[keep - 1] > len % PAGE_SIZE) {
            W.zero_from[keep - 1] = (uint32_t)(len % PAGE_SIZE);
            rt_check_page(keep - 1);
        }
    }
    W.len = len;
}

static void rt_step(void)
{
    unsigned op = rnd_below(100);
    if (op < 45) {
        rt_fault();
    } else if (op < 48) {
        drain(NULL, 64);
        for (unsigned r = 0; r < RT_MAXREQ; r++)
            W.req[r].read |= W.req[r].live;
    } else if (op < 64) {
        rt_supply();
    } else if (op < 69) {
        rt_fail();
    } else if (op < 72) {
        rt_unmap_or_remap(false);
    } else if (op < 78) {
        rt_unmap_or_remap(true);
    } else if (op < 82) {
        rt_set_length();
    } else if (op < 96) {
        unsigned i = rnd_below(RT_THREADS);
        if (W.th[i].state == RT_FAULT) {
            recover(W.th[i].t);
            W.th[i].state = RT_RUN;
        }
    } else {
        unsigned i = rnd_below(RT_THREADS);
        if (W.th[i].state == RT_WAIT) {
            fk_suspend(W.th[i].t);
            fk_resume(W.th[i].t);
            W.th[i].state = RT_RUN;
            /* The request stays unless it was unread and nobody waits. */
            unsigned r = W.th[i].req, left = 0;
            for (unsigned k = 0; k < RT_THREADS; k++)
                left += W.th[k].state == RT_WAIT && W.th[k].req == r;
            if (!left && !W.req[r].read)
                W.req[r].live = false;
        }
    }
}

static void random_run(uint64_t seed, unsigned steps)
{
    memset(&W, 0, sizeof(W));
    W.rng = seed * 0x9E3779B97F4A7C15ull + 1;
    W.len = (uint64_t)(RT_MAXP / 2) * PAGE_SIZE + 123;
    W.cluster = 1 + rnd_below(4);
    world(W.len);
    assert_int_equal(set_cluster(M, W.cluster), NS_OK);
    fk_set_current(M);
    assert_int_equal(sys_memobj_set_deadline(M, S_MO, 0), NS_OK);
    for (unsigned i = 0; i < RT_THREADS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "r%u", i);
        W.th[i].t = client(name, i % 2 ? W.th[i - 1].t : NULL);
    }
    uint64_t used0 = bank_used_bytes(fk_root_bank()), pages0 = fk_pages_live();
    for (unsigned s = 0; s < RT_SPACES; s++) {
        assert_int_equal(
            map(W.th[2 * s].t, rt_va(s, rt_off(s)), rt_off(s), RT_REGION - rt_off(s), RW), NS_OK);
        for (uint64_t p = rt_off(s); p < RT_REGION; p++)
            W.mapped[s][p] = true;
    }
    for (W.step = 0; W.step < steps; W.step++) {
        rt_step();
        rt_check(W.step % 64 == 0);
    }
    /* Everything goes back. */
    W.len = 1; /* any shorter length fails every request and drops every page */
    assert_int_equal(set_length(0), NS_OK);
    for (unsigned s = 0; s < RT_SPACES; s++)
        (void)unmap(W.th[2 * s].t, rt_va(s, rt_off(s)), RT_REGION - rt_off(s));
    assert_int_equal(nrequests(MO()), 0);
    assert_int_equal(bank_used_bytes(fk_root_bank()), used0);
    assert_int_equal(fk_pages_live(), pages0);
}

static void test_random_against_model(void **state)
{
    (void)state;
    const uint64_t seeds[] = {1, 2, 3, 0x5eed, 42, 977, 31337, 123456789};
    for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
        if (k) {
            assert_int_equal(fk_errors(), 0);
            assert_int_equal(fk_fini(), 0);
            fk_init();
            memobj_types_init();
        }
        random_run(seeds[k], 1500);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_one_request_for_many_faults),
        T(test_map_dirty_tracking),
        T(test_sync_retries_failed_write),
        T(test_sync_reports_io_error),
        T(test_truncate_during_writeback),
        T(test_pageout_frees_after_shootdown),
        T(test_redriven_request_not_handed_out),
        T(test_kernel_copy_faults_resident),
        T(test_sync_waiter_and_death),
        T(test_accessed_bit_by_fault),
        T(test_accessed_bit_by_fault_emulated),
        T(test_fault_inside_request_joins),
        T(test_cluster_bounds),
        T(test_partial_supply),
        T(test_fail_delivers_error),
        T(test_cancelled_waiter_leaves_request),
        T(test_unread_request_dropped_on_cancel),
        T(test_destroy_gives_dead),
        T(test_deadline),
        T(test_dead_manager),
        T(test_manager_faulting_on_its_object),
        T(test_map_checks),
        T(test_remap_replaces),
        T(test_unmap_protect_checks),
        T(test_short_last_page),
        T(test_supply_checks),
        T(test_shrink_drops_pages),
        T(test_shrink_keeps_waiters_inside),
        T(test_accounting_returns_to_start),
        T(test_quota_failures_change_nothing),
        T(test_random_against_model),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
