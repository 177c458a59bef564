/* The fake rest of the kernel for the IPC host tests (see fake_kernel.h). */
#include "fake_kernel.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/arch/riscv/layout.h"
#include "kernel/core/kmem.h"
#include "kernel/core/object.h"
#include "kernel/core/sched.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define FK_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define FK_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FK_POISON(p, n)   ((void)(p), (void)(n))
#define FK_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define FK_AS_MAGIC    0x41535041u
#define FK_MAX_CACHES  16
#define FK_OWNER_SLOTS (1 + FK_MAX_THREADS * 4)

struct hart {
    struct sched s;
};

static struct {
    struct hart hart;
    struct bank root;
    struct cap_slot owner_slots[FK_OWNER_SLOTS];
    struct cspace owner;
    struct thread *runq[FK_MAX_THREADS * 4];
    size_t nrunq;
    unsigned stops;
    struct thread *last_stopped;
    const char *last_stop_reason;
    unsigned errors;
    char first_error[160];
    struct thread *current; /* who is in the kernel (fast paths) */
    struct thread *switched_to;
    jmp_buf switch_env;
} fk;

/* Every block ever calloc'ed for a cache, so fk_fini can free them. */
static struct kcache *caches[FK_MAX_CACHES];
static unsigned ncaches;
static struct block {
    void *p;
    size_t size;
} * blocks;
static size_t nblocks, blocks_cap;

static struct kcache thread_cache = KCACHE_INIT("thread", struct thread);
static struct kcache cspace_cache = KCACHE_INIT("cspace", struct cspace_obj);
static struct kcache aspace_cache = KCACHE_INIT("aspace", struct fake_aspace);

static void fk_error(const char *what, const struct thread *t)
{
    if (!fk.errors++)
        snprintf(fk.first_error, sizeof(fk.first_error), "%s: thread %s", what, t ? t->name : "?");
}

/* The harness cannot go on after a fake-internal failure: abort loudly. */
static void fk_require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fake_kernel: %s\n", what);
        abort();
    }
}

/* ---- kcache: type-stable, calloc-backed ---- */

static void **link_of(struct kcache *c, void *obj)
{
    return (void **)((char *)obj + c->size - 8);
}

static void remember_cache(struct kcache *c)
{
    for (unsigned i = 0; i < ncaches; i++)
        if (caches[i] == c)
            return;
    fk_require(ncaches < FK_MAX_CACHES, "too many caches");
    caches[ncaches++] = c;
}

void *kcache_alloc(struct kcache *c)
{
    char *obj = c->free_list;
    remember_cache(c);
    if (obj) {
        FK_UNPOISON(obj, c->size);
        c->free_list = *link_of(c, obj);
        /* As kmem.c: the kobj header (type, live, generation) survives. */
        memset(obj + KCACHE_KEEP, 0, c->size - KCACHE_KEEP);
    } else {
        if (nblocks == blocks_cap) {
            blocks_cap = blocks_cap ? blocks_cap * 2 : 64;
            blocks = realloc(blocks, blocks_cap * sizeof(*blocks));
            fk_require(blocks != NULL, "out of memory");
        }
        obj = calloc(1, c->size);
        fk_require(obj != NULL, "out of memory");
        blocks[nblocks].p = obj;
        blocks[nblocks++].size = c->size;
        c->pages++;
    }
    c->allocated++;
    return obj;
}

void kcache_free(struct kcache *c, void *obj)
{
    *link_of(c, obj) = c->free_list;
    c->free_list = obj;
    c->allocated--;
    /* Everything but the kept header and the free-list link is dead now:
     * a stale pointer may read the generation, nothing else. */
    FK_POISON((char *)obj + KCACHE_KEEP, c->size - KCACHE_KEEP - 8);
}

uint64_t fk_cache_allocated(const char *name)
{
    for (unsigned i = 0; i < ncaches; i++)
        if (!strcmp(caches[i]->name, name))
            return caches[i]->allocated;
    return 0;
}

/* ---- scheduler ---- */

struct sched *sched_of(struct hart *h)
{
    fk_require(h == &fk.hart, "unknown hart");
    return &h->s;
}

struct hart *sched_this_hart(void)
{
    return &fk.hart;
}

struct hart *fk_hart(void)
{
    return &fk.hart;
}

unsigned fk_on_runq(const struct thread *t)
{
    unsigned n = 0;
    for (size_t i = 0; i < fk.nrunq; i++)
        n += fk.runq[i] == t;
    return n;
}

void sched_ready(struct sched *s, struct thread *t)
{
    fk_require(s == &fk.hart.s, "unknown sched");
    if (!t->obj.live)
        fk_error("readying a dead thread", t);
    t->state = THREAD_RUNNABLE;
    if (fk_on_runq(t)) {
        fk_error("readying a thread already on the run queue", t);
        return;
    }
    fk_require(fk.nrunq < sizeof(fk.runq) / sizeof(fk.runq[0]), "run queue full");
    fk.runq[fk.nrunq++] = t;
}

/* The real one hands the hart to `t` next; for the order the tests see,
 * that is just "runnable now". */
void sched_wake(struct sched *s, struct thread *t)
{
    sched_ready(s, t);
}

void sched_unready(struct sched *s, struct thread *t)
{
    fk_require(s == &fk.hart.s, "unknown sched");
    size_t j = 0;
    for (size_t i = 0; i < fk.nrunq; i++)
        if (fk.runq[i] != t)
            fk.runq[j++] = fk.runq[i];
    fk.nrunq = j;
}

size_t fk_runq_len(void)
{
    return fk.nrunq;
}

struct thread *fk_runq_at(size_t i)
{
    return i < fk.nrunq ? fk.runq[i] : NULL;
}

void fk_set_current(struct thread *t)
{
    fk.current = t;
}

/* Like sched.c's: only the queued threads count, not the current one. */
bool sched_ready_above(struct sched *s, unsigned prio)
{
    fk_require(s == &fk.hart.s, "unknown sched");
    for (size_t i = 0; i < fk.nrunq; i++)
        if (fk.runq[i] != fk.current && fk.runq[i]->prio > prio)
            return true;
    return false;
}

/* The IPC fast path's direct switch: check its contract, make the old
 * current thread (which blocked) leave the run queue and the new one
 * runnable - what the general path's block and wake record - and go back
 * to the test that entered the fast path. */
_Noreturn void sched_switch_to(struct hart *h, struct thread *t)
{
    fk_require(h == &fk.hart, "unknown hart");
    if (fk_on_runq(t) && t != fk.current)
        fk_error("switching to a thread on the run queue", t);
    if (!thread_can_run(t))
        fk_error("switching to a thread that cannot run", t);
    if (t->ipc_op != IPC_NONE || t->q_next || t->q_prev)
        fk_error("switching to a thread still in IPC", t);
    if (fk.current && fk.current != t && fk.current->state == THREAD_BLOCKED)
        sched_unready(&fk.hart.s, fk.current);
    sched_unready(&fk.hart.s, t);
    sched_ready(&fk.hart.s, t);
    fk.switched_to = t;
    fk.current = NULL;
    longjmp(fk.switch_env, 1);
}

jmp_buf *fk_switch_env(void)
{
    fk.switched_to = NULL;
    return &fk.switch_env;
}

struct thread *fk_switched_to(void)
{
    return fk.switched_to;
}

/* ---- threads ---- */

void thread_stop(struct thread *t, const char *why)
{
    if (!t->obj.live)
        fk_error("stopping a dead thread", t);
    sched_unready(&fk.hart.s, t);
    t->state = THREAD_STOPPED;
    fk.stops++;
    fk.last_stopped = t;
    fk.last_stop_reason = why;
}

unsigned fk_stop_count(void)
{
    return fk.stops;
}

struct thread *fk_last_stopped(void)
{
    return fk.last_stopped;
}

const char *fk_last_stop_reason(void)
{
    return fk.last_stop_reason;
}

/* The steps of thread.c's thread_destroy, minus the FPU. */
static void fake_thread_destroy(struct kobj *obj)
{
    struct thread *t = (struct thread *)obj;
    ipc_cancel(t, NS_ERR_DEAD_OBJECT, true);
    sched_unready(&fk.hart.s, t);
    cap_slot_delete(&t->fault_cap);
    cap_slot_delete(&t->as_cap);
    cap_slot_delete(&t->cs_cap);
    bank_uncharge_object(obj);
    kobj_kill(obj);
    obj_free(&thread_cache, obj);
}

static void fake_cspace_destroy(struct kobj *obj)
{
    struct cspace_obj *c = (struct cspace_obj *)obj;
    /* Clearing unlinks every slot from the CDT, so nothing points into
     * the slot array when it is freed. */
    cspace_clear(&c->cs);
    free(c->cs.slots);
    c->cs.slots = NULL;
    c->cs.nslots = 0;
    bank_uncharge_object(obj);
    kobj_kill(obj);
    obj_free(&cspace_cache, obj);
}

static void fake_aspace_destroy(struct kobj *obj)
{
    struct fake_aspace *as = (struct fake_aspace *)obj;
    for (unsigned i = 0; i < as->nmaps; i++)
        free(as->maps[i].page);
    as->nmaps = 0;
    as->magic = 0;
    bank_uncharge_object(obj);
    kobj_kill(obj);
    obj_free(&aspace_cache, obj);
}

void *aspace_user_page(struct aspace *as, uint64_t va, bool write)
{
    struct fake_aspace *f = (struct fake_aspace *)as;
    fk_require(f->magic == FK_AS_MAGIC && as->obj.live, "aspace_user_page on a dead space");
    for (unsigned i = 0; i < f->nmaps; i++) {
        if (f->maps[i].va == (va & ~(uint64_t)(PAGE_SIZE - 1)))
            return write && !f->maps[i].writable ? NULL
                                                 : (char *)f->maps[i].page + (va & (PAGE_SIZE - 1));
    }
    return NULL;
}

void *fk_map(struct thread *t, uint64_t va, bool writable)
{
    struct fake_aspace *f = (struct fake_aspace *)t->as;
    fk_require(f->nmaps < FK_MAX_MAPS, "too many mappings");
    void *page = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
    fk_require(page != NULL, "out of memory");
    memset(page, 0, PAGE_SIZE);
    f->maps[f->nmaps].va = va & ~(uint64_t)(PAGE_SIZE - 1);
    f->maps[f->nmaps].page = page;
    f->maps[f->nmaps].writable = writable;
    f->nmaps++;
    return page;
}

struct ns_ipc_buffer *fk_ipc_buffer(struct thread *t)
{
    if (!t->ipc_buffer || !thread_can_run(t))
        return NULL;
    return aspace_user_page(t->as, t->ipc_buffer, false);
}

static void charge(struct kobj *obj, struct kcache *c)
{
    fk_require(bank_charge_object(&fk.root, obj, c->size) == NS_OK, "charge failed");
}

static struct cap_slot *free_owner_slot(void)
{
    for (unsigned i = 1; i < FK_OWNER_SLOTS; i++)
        if (fk.owner_slots[i].type == NS_CAP_NULL)
            return &fk.owner_slots[i];
    fk_require(false, "out of harness slots");
    return NULL;
}

struct thread *fk_thread(const char *name, uint32_t nslots, bool ipc_buffer)
{
    fk_require(nslots > FK_SLOT_BANK, "a fake thread needs its bank slot");
    struct thread *t = kcache_alloc(&thread_cache);
    kobj_init(&t->obj, NS_CAP_THREAD);
    charge(&t->obj, &thread_cache);

    struct cspace_obj *cs = kcache_alloc(&cspace_cache);
    kobj_init(&cs->obj, NS_CAP_CSPACE);
    charge(&cs->obj, &cspace_cache);
    struct cap_slot *slots = calloc(nslots, sizeof(*slots));
    fk_require(slots != NULL, "out of memory");
    cspace_init(&cs->cs, slots, nslots);

    struct fake_aspace *as = kcache_alloc(&aspace_cache);
    kobj_init(&as->as.obj, NS_CAP_ASPACE);
    charge(&as->as.obj, &aspace_cache);
    as->magic = FK_AS_MAGIC;

    /* The thread holds the only capabilities to its spaces, as a thread
     * whose creator dropped its own copies. */
    cap_install(&t->cs_cap, &cs->obj, NS_RIGHTS_ALL, 0);
    cap_install(&t->as_cap, &as->as.obj, NS_RIGHTS_ALL, 0);
    t->cs = cs;
    t->as = &as->as;
    cap_slot_derive(&fk.owner_slots[0], &cs->cs.slots[FK_SLOT_BANK], NS_RIGHTS_ALL, 0);
    cap_install(free_owner_slot(), &t->obj, NS_RIGHTS_ALL, 0);

    snprintf(t->name, sizeof(t->name), "%s", name);
    t->prio = 100;
    t->ctx.sepc = 0x10000;
    t->ctx.regs[2] = 0x7fff0;
    if (ipc_buffer) {
        fk_map(t, FK_IPC_VA, true);
        t->ipc_buffer = FK_IPC_VA;
    }
    sched_ready(&fk.hart.s, t);
    return t;
}

void fk_thread_destroy(struct thread *t)
{
    kobj_destroy(&t->obj);
}

void fk_suspend(struct thread *t)
{
    /* sys_thread_suspend's cases. */
    switch (t->state) {
    case THREAD_RUNNABLE:
    case THREAD_RUNNING:
    case THREAD_SLEEPING:
        sched_unready(&fk.hart.s, t);
        t->state = THREAD_SUSPENDED;
        break;
    case THREAD_BLOCKED:
        ipc_cancel(t, NS_ERR_BAD_STATE, false);
        t->state = THREAD_SUSPENDED;
        break;
    default:
        break;
    }
}

void fk_resume(struct thread *t)
{
    if (t->state == THREAD_SUSPENDED)
        sched_ready(&fk.hart.s, t);
}

/* memobj.c's side of ipc_cancel for a thread waiting on a page request:
 * these tests never make one wait, so a call is a fake-detected error.
 * Weak, so a test that links the real memobj.c gets the real one. */
void memobj_cancel_wait(struct thread *t);
__attribute__((weak)) void memobj_cancel_wait(struct thread *t)
{
    fk_error("memobj_cancel_wait on a thread no page request holds", t);
}

/* ---- capabilities ---- */

enum ns_error fk_endpoint(struct thread *t, uint32_t slot)
{
    return sys_endpoint_create(t, FK_SLOT_BANK, slot);
}

enum ns_error fk_notification(struct thread *t, uint32_t slot)
{
    return sys_notification_create(t, FK_SLOT_BANK, slot);
}

enum ns_error fk_give(struct thread *from, uint32_t fslot, struct thread *to, uint32_t tslot,
                      uint32_t rights, uint64_t badge)
{
    return cap_mint(&from->cs->cs, fslot, &to->cs->cs, tslot, rights, badge);
}

void fk_give_thread_cap(struct thread *holder, uint32_t slot, struct thread *target)
{
    for (unsigned i = 1; i < FK_OWNER_SLOTS; i++) {
        struct cap_slot *s = &fk.owner_slots[i];
        if (s->type == NS_CAP_THREAD && s->obj == &target->obj && !cap_slot_stale(s)) {
            struct cap_slot *d;
            fk_require(cap_lookup_empty(&holder->cs->cs, slot, &d) == NS_OK, "slot not empty");
            cap_slot_derive(s, d, NS_RIGHTS_ALL, 0);
            return;
        }
    }
    fk_require(false, "no harness capability to that thread");
}

struct endpoint *fk_ep(struct thread *t, uint32_t slot)
{
    struct cap_slot *s = &t->cs->cs.slots[slot];
    return s->type == NS_CAP_ENDPOINT ? (struct endpoint *)s->obj : NULL;
}

struct notification *fk_ntfn(struct thread *t, uint32_t slot)
{
    struct cap_slot *s = &t->cs->cs.slots[slot];
    return s->type == NS_CAP_NOTIFICATION ? (struct notification *)s->obj : NULL;
}

/* ---- world ---- */

struct bank *fk_root_bank(void)
{
    return &fk.root;
}

unsigned fk_errors(void)
{
    return fk.errors;
}

const char *fk_first_error(void)
{
    return fk.first_error;
}

void fk_init(void)
{
    static const struct kobj_type_ops thread_ops = {.destroy = fake_thread_destroy};
    static const struct kobj_type_ops cspace_ops = {.destroy = fake_cspace_destroy};
    static const struct kobj_type_ops aspace_ops = {.destroy = fake_aspace_destroy};

    memset(&fk.hart, 0, sizeof(fk.hart));
    fk.nrunq = 0;
    fk.stops = 0;
    fk.last_stopped = NULL;
    fk.last_stop_reason = NULL;
    fk.errors = 0;
    fk.first_error[0] = '\0';
    fk.current = NULL;
    fk.switched_to = NULL;
    ipc_types_init();
    kobj_register_type(NS_CAP_THREAD, &thread_ops);
    kobj_register_type(NS_CAP_CSPACE, &cspace_ops);
    kobj_register_type(NS_CAP_ASPACE, &aspace_ops);
    bank_init_root(&fk.root, UINT64_MAX);
    cspace_init(&fk.owner, fk.owner_slots, FK_OWNER_SLOTS);
    cap_install(&fk.owner_slots[0], &fk.root.obj, NS_RIGHTS_ALL, 0);
}

uint64_t fk_fini(void)
{
    uint64_t leaked = 0;

    /* Everything was charged to the root: its teardown runs every destroy
     * hook, including ipc.c's with threads still queued. The harness's
     * own slots are stale afterwards and are only cleared. */
    bank_teardown(&fk.root);
    cspace_clear(&fk.owner);
    for (unsigned i = 0; i < ncaches; i++) {
        leaked += caches[i]->allocated;
        caches[i]->free_list = NULL;
        caches[i]->allocated = 0;
        caches[i]->pages = 0;
    }
    for (size_t i = 0; i < nblocks; i++) {
        FK_UNPOISON(blocks[i].p, blocks[i].size);
        free(blocks[i].p);
    }
    free(blocks);
    blocks = NULL;
    nblocks = blocks_cap = 0;
    fk.nrunq = 0;
    return leaked;
}
