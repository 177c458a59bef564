/* The fake rest of the kernel for the IPC and memory-object host tests
 * (see fake_kernel.h). */
#include "fake_kernel.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/newsys/caps.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/arch/riscv/layout.h"
#include "kernel/arch/riscv/pte.h"
#include "kernel/arch/riscv/uaccess.h"
#include "kernel/arch/riscv/vm.h"
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
    uint64_t now;
    uint64_t flushes;
    unsigned fail_enters;
    uint64_t page_budget; /* pages kmem may still hand out */
} fk;

/* Every kernel page handed out and not freed. */
static void **pages;
static size_t npages, pages_cap;

/* Every block ever calloc'ed for a cache, so fk_fini can free them. A
 * cache kcache_grow has fed (kcache_alloc_uninit's) keeps its freed
 * objects on `held`, not on its own free list (see fake_kernel.h). */
static struct kcache *caches[FK_MAX_CACHES];
static struct {
    bool grown;
    void *held;
} cache_state[FK_MAX_CACHES];
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

static unsigned remember_cache(struct kcache *c)
{
    for (unsigned i = 0; i < ncaches; i++)
        if (caches[i] == c)
            return i;
    fk_require(ncaches < FK_MAX_CACHES, "too many caches");
    cache_state[ncaches].grown = false;
    cache_state[ncaches].held = NULL;
    caches[ncaches] = c;
    return ncaches++;
}

static void *new_block(struct kcache *c)
{
    if (nblocks == blocks_cap) {
        blocks_cap = blocks_cap ? blocks_cap * 2 : 64;
        blocks = realloc(blocks, blocks_cap * sizeof(*blocks));
        fk_require(blocks != NULL, "out of memory");
    }
    void *obj = calloc(1, c->size);
    fk_require(obj != NULL, "out of memory");
    blocks[nblocks].p = obj;
    blocks[nblocks++].size = c->size;
    c->pages++;
    return obj;
}

/* kcache_alloc_uninit found the free list empty: put one object there,
 * junk-filled as an object whose fields the caller sets must be. */
bool kcache_grow(struct kcache *c)
{
    unsigned i = remember_cache(c);
    char *obj = cache_state[i].held;
    cache_state[i].grown = true;
    if (obj) {
        FK_UNPOISON(obj, c->size);
        cache_state[i].held = *link_of(c, obj);
    } else {
        obj = new_block(c);
    }
    memset(obj, 0xa5, c->size);
    *link_of(c, obj) = c->free_list;
    c->free_list = obj;
    return true;
}

void *kcache_alloc(struct kcache *c)
{
    unsigned i = remember_cache(c);
    char *obj = cache_state[i].grown ? cache_state[i].held : c->free_list;
    if (obj && cache_state[i].grown) {
        FK_UNPOISON(obj, c->size);
        cache_state[i].held = *link_of(c, obj);
        memset(obj + KCACHE_KEEP, 0, c->size - KCACHE_KEEP);
    } else if (obj) {
        FK_UNPOISON(obj, c->size);
        c->free_list = *link_of(c, obj);
        /* As kmem.c: the kobj header (type, live, generation) survives. */
        memset(obj + KCACHE_KEEP, 0, c->size - KCACHE_KEEP);
    } else {
        obj = new_block(c);
    }
    c->allocated++;
    return obj;
}

void kcache_free(struct kcache *c, void *obj)
{
    unsigned i = remember_cache(c);
    if (cache_state[i].grown) {
        *link_of(c, obj) = cache_state[i].held;
        cache_state[i].held = obj;
    } else {
        *link_of(c, obj) = c->free_list;
        c->free_list = obj;
    }
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

/* One hart: every thread's home is it, and it is never another's. */
void sched_make_runnable(struct thread *t)
{
    fk_require(!t->home || t->home == &fk.hart, "a thread homed on a hart the fake lacks");
    sched_ready(&fk.hart.s, t);
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

/* Weak, so a test that links the real memobj.c gets the real ones; the
 * IPC tests make no memory-object mappings. */
__attribute__((weak)) void memobj_aspace_init(struct aspace *as)
{
    (void)as;
}

void memobj_aspace_teardown(struct aspace *as);
__attribute__((weak)) void memobj_aspace_teardown(struct aspace *as)
{
    (void)as;
}

/* ---- address spaces: a PTE table ---- */

static struct fake_aspace *fake_as(const struct aspace *as)
{
    const struct fake_aspace *f = (const struct fake_aspace *)as;
    fk_require(f && f->magic == FK_AS_MAGIC && as->obj.live, "use of a dead address space");
    return (struct fake_aspace *)f;
}

static struct fk_pte *pte_of(struct fake_aspace *f, uint64_t va)
{
    uint64_t page = va & ~(uint64_t)(PAGE_SIZE - 1);
    for (size_t i = 0; i < f->npte; i++)
        if (f->pte[i].va == page)
            return &f->pte[i];
    return NULL;
}

static uint64_t pte_flags(uint32_t rights)
{
    /* aspace.c's rule: a PTE cannot be write-only, so write implies read. */
    uint64_t f = PTE_V | PTE_U | PTE_A | PTE_D;
    if (rights & (NS_RIGHT_READ | NS_RIGHT_WRITE))
        f |= PTE_R;
    if (rights & NS_RIGHT_WRITE)
        f |= PTE_W;
    if (rights & NS_RIGHT_EXEC)
        f |= PTE_X;
    return f;
}

static void pte_add(struct fake_aspace *f, uint64_t va, uint64_t pa, uint32_t rights, void *owned)
{
    if (f->npte == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->pte = realloc(f->pte, f->cap * sizeof(*f->pte));
        fk_require(f->pte != NULL, "out of memory");
    }
    f->pte[f->npte++] = (struct fk_pte){va, pa, rights, owned, pte_flags(rights)};
}

static void pte_drop(struct fake_aspace *f, struct fk_pte *e)
{
    free(e->owned);
    *e = f->pte[--f->npte];
}

static void fake_aspace_destroy(struct kobj *obj)
{
    struct fake_aspace *as = (struct fake_aspace *)obj;
    memobj_aspace_teardown(&as->as); /* as aspace.c: mappings go before the tables */
    while (as->npte)
        pte_drop(as, &as->pte[0]);
    free(as->pte);
    as->pte = NULL;
    as->cap = 0;
    as->magic = 0;
    bank_uncharge_object(obj);
    kobj_kill(obj);
    obj_free(&aspace_cache, obj);
}

enum ns_error aspace_enter(struct aspace *as, uint64_t va, uint64_t pa, uint32_t rights)
{
    struct fake_aspace *f = fake_as(as);
    fk_require(!(va & (PAGE_SIZE - 1)) && va >= PAGE_SIZE && user_range_ok(va, PAGE_SIZE),
               "aspace_enter: not a page-aligned user address");
    fk_require(!(pa & (PAGE_SIZE - 1)), "aspace_enter: frame not page aligned");
    fk_require(rights & (NS_RIGHT_READ | NS_RIGHT_EXEC), "aspace_enter: no READ or EXEC");
    if (pte_of(f, va))
        return NS_ERR_RANGE;
    if (fk.fail_enters) {
        fk.fail_enters--;
        return NS_ERR_NO_QUOTA;
    }
    uint32_t r = rights & (NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC);
    if (r & NS_RIGHT_WRITE)
        r |= NS_RIGHT_READ;
    pte_add(f, va, pa, r, NULL);
    as->mapped_pages++;
    return NS_OK;
}

static void fk_owe(uint64_t pa);

enum ns_error aspace_grant(struct aspace *as, uint64_t va, uint64_t pa, uint32_t rights)
{
    struct fk_pte *e = pte_of(fake_as(as), va);
    if (!e || e->pa != pa)
        return NS_ERR_RANGE;
    uint32_t r = rights & (NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC);
    if (r & NS_RIGHT_WRITE)
        r |= NS_RIGHT_READ;
    if (e->rights & ~r)
        fk_owe(e->pa); /* a right taken away: a shootdown, as aspace.c */
    e->rights = r;
    e->bits = pte_flags(r);
    return NS_OK;
}

enum ns_error aspace_map_page(struct aspace *as, uint64_t va, uint64_t pa, uint32_t rights)
{
    if (va & (PAGE_SIZE - 1) || !user_range_ok(va, PAGE_SIZE) || va < PAGE_SIZE)
        return NS_ERR_RANGE;
    if (!(rights & (NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC)))
        return NS_ERR_INVALID_ARG;
    return aspace_enter(as, va, pa, rights);
}

/* Shootdown batches as aspace.c keeps them, for a space that ran on other
 * harts too: inside a batch an unmapped frame may still be reached through
 * a stale translation until the batch's next flush point, and freeing it
 * before then is the bug the fake reports. */
#define FK_STALE_MAX 4096
static struct {
    unsigned depth;
    size_t nstale, nfree;
    uint64_t stale[FK_STALE_MAX], frees[FK_STALE_MAX];
} fk_batch;

static void fk_owe(uint64_t pa)
{
    if (!fk_batch.depth)
        return;
    fk_require(fk_batch.nstale < FK_STALE_MAX, "too many unmaps in one batch");
    fk_batch.stale[fk_batch.nstale++] = pa;
}

static bool fk_stale(uint64_t pa)
{
    for (size_t i = 0; i < fk_batch.nstale; i++)
        if (fk_batch.stale[i] == pa)
            return true;
    return false;
}

static void fk_batch_flush(void)
{
    if (fk_batch.nstale)
        fk.flushes++;
    fk_batch.nstale = 0;
    size_t n = fk_batch.nfree;
    fk_batch.nfree = 0;
    for (size_t i = 0; i < n; i++)
        kmem_page_free(pa_to_va(fk_batch.frees[i]));
}

void aspace_batch_begin(void)
{
    fk_batch.depth++;
}

void aspace_batch_end(void)
{
    fk_require(fk_batch.depth > 0, "aspace_batch_end without a begin");
    fk_batch_flush();
    fk_batch.depth--;
}

void aspace_free_after_flush(uint64_t pa)
{
    if (!fk_batch.nstale) {
        kmem_page_free(pa_to_va(pa));
        return;
    }
    fk_require(fk_batch.nfree < FK_STALE_MAX, "too many frees in one batch");
    fk_batch.frees[fk_batch.nfree++] = pa;
}

uint64_t aspace_frees_owed(void)
{
    return fk_batch.nfree;
}

unsigned fk_batch_depth(void)
{
    return fk_batch.depth;
}

enum ns_error aspace_unmap_page(struct aspace *as, uint64_t va, uint64_t *pa)
{
    struct fake_aspace *f = fake_as(as);
    if (!user_range_ok(va, PAGE_SIZE) || (va & (PAGE_SIZE - 1)))
        return NS_ERR_RANGE;
    struct fk_pte *e = pte_of(f, va);
    if (!e)
        return NS_ERR_RANGE;
    if (pa)
        *pa = e->pa;
    fk_owe(e->pa);
    pte_drop(f, e);
    as->mapped_pages--;
    return NS_OK;
}

enum ns_error aspace_unmap_page_noflush(struct aspace *as, uint64_t va)
{
    return aspace_unmap_page(as, va, NULL); /* the fake has no TLB to leave stale */
}

void aspace_flush_range(struct aspace *as, uint64_t va, uint64_t npages)
{
    (void)fake_as(as);
    (void)va;
    if (npages)
        fk.flushes++;
}

bool aspace_lookup(struct aspace *as, uint64_t va, uint64_t *pa, uint64_t *flags)
{
    struct fake_aspace *f = fake_as(as);
    if (!user_range_ok(va, 1))
        return false;
    const struct fk_pte *e = pte_of(f, va);
    if (!e)
        return false;
    *pa = e->pa + (va & (PAGE_SIZE - 1));
    *flags = pte_logical(e->bits) & 0xff;
    return true;
}

void aspace_write_protect(struct aspace *as, uint64_t va)
{
    struct fk_pte *e = pte_of(fake_as(as), va);
    if (e) {
        e->rights &= ~(uint32_t)NS_RIGHT_WRITE;
        e->bits &= ~(uint64_t)PTE_W;
        fk_owe(e->pa);
    }
}

bool aspace_test_clear_accessed(struct aspace *as, uint64_t va)
{
    struct fk_pte *e = pte_of(fake_as(as), va);
    /* aspace.c's test: only a walkable entry can have been used since. */
    if (!e || !(e->bits & PTE_V) || !(e->bits & PTE_A))
        return false;
    e->bits = pte_age(e->bits, aspace_ad_emulation());
    return true;
}

static bool ad_emulate;

void aspace_set_ad_emulation(bool on)
{
    ad_emulate = on;
}

bool aspace_ad_emulation(void)
{
    return ad_emulate;
}

bool fk_pte_accessed(const struct fk_pte *e)
{
    return (pte_logical(e->bits) & PTE_A) != 0;
}

bool fk_pte_walkable(const struct fk_pte *e)
{
    return (e->bits & PTE_V) != 0;
}

void aspace_flush_all(void)
{
    fk.flushes++;
}

void aspace_age_flush(void)
{
    fk.flushes++;
}

void aspace_flush_page(struct aspace *as, uint64_t va)
{
    (void)fake_as(as);
    (void)va;
    fk.flushes++;
}

void *aspace_user_page(struct aspace *as, uint64_t va, bool write)
{
    struct fake_aspace *f = fake_as(as);
    const struct fk_pte *e = pte_of(f, va);
    if (!e || !(e->rights & NS_RIGHT_READ) || (write && !(e->rights & NS_RIGHT_WRITE)))
        return NULL;
    return (char *)pa_to_va(e->pa) + (va & (PAGE_SIZE - 1));
}

void *fk_map(struct thread *t, uint64_t va, bool writable)
{
    struct fake_aspace *f = fake_as(t->as);
    fk_require(!pte_of(f, va), "fk_map over a PTE");
    void *page = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
    fk_require(page != NULL, "out of memory");
    memset(page, 0, PAGE_SIZE);
    pte_add(f, va & ~(uint64_t)(PAGE_SIZE - 1), direct_va_to_pa(page),
            NS_RIGHT_READ | (writable ? NS_RIGHT_WRITE : 0), page);
    return page;
}

size_t fk_pte_count(const struct aspace *as)
{
    return fake_as(as)->npte;
}

const struct fk_pte *fk_pte_at(const struct aspace *as, size_t i)
{
    struct fake_aspace *f = fake_as(as);
    return i < f->npte ? &f->pte[i] : NULL;
}

const struct fk_pte *fk_pte_find(const struct aspace *as, uint64_t va)
{
    return pte_of(fake_as(as), va);
}

uint64_t fk_flushes(void)
{
    return fk.flushes;
}

void fk_fail_enter(unsigned n)
{
    fk.fail_enters = n;
}

/* User copies through the current thread's space, page by page, as the
 * MMU would: a page without a PTE granting the access fails the copy. */
static int user_copy(void *kbuf, uint64_t uaddr, size_t n, bool to_user)
{
    if (!fk.current)
        return -1;
    struct fake_aspace *f = fake_as(fk.current->as);
    while (n) {
        const struct fk_pte *e = pte_of(f, uaddr);
        uint32_t need = to_user ? NS_RIGHT_WRITE : NS_RIGHT_READ;
        if (!e || !(e->rights & need))
            return -1;
        size_t off = uaddr & (PAGE_SIZE - 1), chunk = PAGE_SIZE - off;
        if (chunk > n)
            chunk = n;
        char *page = pa_to_va(e->pa);
        if (to_user)
            memcpy(page + off, kbuf, chunk);
        else
            memcpy(kbuf, page + off, chunk);
        kbuf = (char *)kbuf + chunk;
        uaddr += chunk;
        n -= chunk;
    }
    return 0;
}

int arch_copy_from_user(void *dst, const void *usrc, size_t n)
{
    return user_copy(dst, (uint64_t)(uintptr_t)usrc, n, false);
}

int arch_copy_to_user(void *udst, const void *src, size_t n)
{
    return user_copy((void *)src, (uint64_t)(uintptr_t)udst, n, true);
}

/* ---- kernel pages and the clock ---- */

static void *page_alloc(uint64_t *pa, bool zero)
{
    if (!fk.page_budget)
        return NULL;
    fk.page_budget--;
    void *p = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
    fk_require(p != NULL, "out of memory");
    memset(p, zero ? 0 : 0x5a, PAGE_SIZE);
    if (npages == pages_cap) {
        pages_cap = pages_cap ? pages_cap * 2 : 64;
        pages = realloc(pages, pages_cap * sizeof(*pages));
        fk_require(pages != NULL, "out of memory");
    }
    pages[npages++] = p;
    if (pa)
        *pa = direct_va_to_pa(p);
    return p;
}

void *kmem_page_alloc(uint64_t *pa)
{
    return page_alloc(pa, true);
}

void *kmem_page_alloc_dirty(uint64_t *pa)
{
    return page_alloc(pa, false);
}

void kmem_page_free(void *va)
{
    if (fk_stale(direct_va_to_pa(va)))
        fk_error("a frame freed while another hart's TLB may still map it", NULL);
    for (size_t i = 0; i < npages; i++) {
        if (pages[i] == va) {
            pages[i] = pages[--npages];
            free(va);
            return;
        }
    }
    fk_error("kmem_page_free of a page kmem did not hand out", NULL);
}

static uint64_t fk_free_pages = UINT64_MAX; /* no memory pressure unless a test sets it */

void fk_set_free_pages(uint64_t n)
{
    fk_free_pages = n;
}

uint64_t kmem_free_pages(void)
{
    return fk_free_pages;
}

uint64_t kmem_total_pages(void)
{
    return 1u << 20;
}

uint64_t fk_pages_live(void)
{
    return npages;
}

void fk_page_limit(uint64_t n)
{
    fk.page_budget = n;
}

uint64_t timer_now(void)
{
    return fk.now;
}

void fk_set_time(uint64_t now)
{
    fk.now = now;
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

static struct thread *make_thread(const char *name, uint32_t nslots, bool ipc_buffer,
                                  struct thread *other)
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

    /* The thread holds the only capabilities to its spaces, as a thread
     * whose creator dropped its own copies (or shares its process's). */
    if (other) {
        cap_slot_derive(&other->as_cap, &t->as_cap, NS_RIGHTS_ALL, 0);
        t->as = other->as;
    } else {
        struct fake_aspace *as = kcache_alloc(&aspace_cache);
        kobj_init(&as->as.obj, NS_CAP_ASPACE);
        charge(&as->as.obj, &aspace_cache);
        as->magic = FK_AS_MAGIC;
        memobj_aspace_init(&as->as);
        cap_install(&t->as_cap, &as->as.obj, NS_RIGHTS_ALL, 0);
        t->as = &as->as;
    }
    cap_install(&t->cs_cap, &cs->obj, NS_RIGHTS_ALL, 0);
    t->cs = cs;
    cap_slot_derive(&fk.owner_slots[0], &cs->cs.slots[FK_SLOT_BANK], NS_RIGHTS_ALL, 0);
    cap_install(free_owner_slot(), &t->obj, NS_RIGHTS_ALL, 0);

    snprintf(t->name, sizeof(t->name), "%s", name);
    t->prio = 100;
    t->home = &fk.hart; /* the fake has one hart: home to every thread */
    t->ctx.sepc = 0x10000;
    t->ctx.regs[2] = 0x7fff0;
    if (ipc_buffer) {
        fk_map(t, FK_IPC_VA, true);
        t->ipc_buffer = FK_IPC_VA;
    }
    sched_ready(&fk.hart.s, t);
    return t;
}

struct thread *fk_thread(const char *name, uint32_t nslots, bool ipc_buffer)
{
    return make_thread(name, nslots, ipc_buffer, NULL);
}

struct thread *fk_thread_in(const char *name, uint32_t nslots, struct thread *other)
{
    return make_thread(name, nslots, false, other);
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

/* The kernel console: the tests' messages go to stderr. */
int kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(stderr, fmt, ap);
    va_end(ap);
    return n;
}

/* disk_obj.c's side of ipc_cancel for a thread waiting on a disk transfer:
 * none of these tests starts one. */
void memobj_sync_cancel(struct thread *t);
__attribute__((weak)) void memobj_sync_cancel(struct thread *t)
{
    fk_error("memobj_sync_cancel on a thread no sync holds", t);
}

void memobj_memory_wait_cancel(struct thread *t);
__attribute__((weak)) void memobj_memory_wait_cancel(struct thread *t)
{
    fk_error("memobj_memory_wait_cancel on a thread not waiting for memory", t);
}

void disk_io_cancel(struct thread *t);
__attribute__((weak)) void disk_io_cancel(struct thread *t)
{
    fk_error("disk_io_cancel on a thread no disk transfer holds", t);
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

void fk_give_aspace(struct thread *holder, uint32_t slot, struct thread *of)
{
    struct cap_slot *d;
    fk_require(cap_lookup_empty(&holder->cs->cs, slot, &d) == NS_OK, "slot not empty");
    cap_slot_derive(&of->as_cap, d, NS_RIGHTS_ALL, 0);
}

static struct kcache bank_cache = KCACHE_INIT("bank", struct bank);

/* bank_obj.c's hook, for sub-banks made by fk_bank. */
static void fake_bank_destroy(struct kobj *obj)
{
    struct bank *b = (struct bank *)obj;
    bank_teardown(b);
    bank_uncharge_object(obj);
    kobj_kill(obj);
    if (b != &fk.root)
        obj_free(&bank_cache, obj);
}

struct bank *fk_bank(struct thread *holder, uint32_t slot, uint64_t limit_bytes)
{
    struct cap_slot *d;
    fk_require(cap_lookup_empty(&holder->cs->cs, slot, &d) == NS_OK, "slot not empty");
    struct bank *b = kcache_alloc(&bank_cache);
    kobj_init(&b->obj, NS_CAP_BANK);
    charge(&b->obj, &bank_cache);
    bank_init_child(b, &fk.root, limit_bytes / BANK_PAGE_SIZE * BANK_PAGE_SIZE);
    cap_install(d, &b->obj, NS_RIGHTS_ALL, 0);
    return b;
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
    static const struct kobj_type_ops bank_ops = {.destroy = fake_bank_destroy};

    memset(&fk.hart, 0, sizeof(fk.hart));
    fk.nrunq = 0;
    fk.stops = 0;
    fk.last_stopped = NULL;
    fk.last_stop_reason = NULL;
    fk.errors = 0;
    fk.first_error[0] = '\0';
    fk.current = NULL;
    fk.switched_to = NULL;
    fk.now = 0;
    fk.flushes = 0;
    fk_batch.depth = 0;
    fk_free_pages = UINT64_MAX;
    fk_batch.nstale = fk_batch.nfree = 0;
    fk.fail_enters = 0;
    ad_emulate = false;
    fk.page_budget = UINT64_MAX;
    ipc_types_init();
    kobj_register_type(NS_CAP_THREAD, &thread_ops);
    kobj_register_type(NS_CAP_CSPACE, &cspace_ops);
    kobj_register_type(NS_CAP_ASPACE, &aspace_ops);
    kobj_register_type(NS_CAP_BANK, &bank_ops);
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
        cache_state[i].held = NULL;
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
    leaked += npages;
    for (size_t i = 0; i < npages; i++)
        free(pages[i]);
    free(pages);
    pages = NULL;
    npages = pages_cap = 0;
    fk.nrunq = 0;
    return leaked;
}
