/* Address spaces (see aspace.h). */
#include "kernel/core/aspace.h"

#include <string.h>

#include "include/newsys/caps.h"
#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/sv39.h"
#include "kernel/arch/riscv/tlb.h"
#include "kernel/arch/riscv/uaccess.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/core/bank.h"
#include "kernel/core/kmem.h"
#include "kernel/core/object.h"
#include "kernel/core/sched.h"
#include "kernel/core/thread.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/smp.h"
#include "kernel/boot/panic.h"
#include "kernel/boot/platform.h"
#include "memobj/memobj.h"

static unsigned asid_width;
/* Emulating hardware that faults for the accessed bit (pte.h). */
static bool ad_emulate_fault;

void aspace_set_ad_emulation(bool on)
{
    ad_emulate_fault = on;
}

bool aspace_ad_emulation(void)
{
    return ad_emulate_fault;
}
static uint16_t asid_next = 1;

void asid_probe(void)
{
    /* Write all ones to satp.ASID and see how many stick (priv. spec
     * 4.1.11); restore right away. */
    unsigned long satp = csr_read(satp);
    csr_write(satp, satp | (0xfffful << 44));
    unsigned long got = (csr_read(satp) >> 44) & 0xffff;
    csr_write(satp, satp);
    sfence_vma_all();
    asid_width = (unsigned)__builtin_popcountl(got);
}

unsigned asid_bits(void)
{
    return asid_width;
}

static uint16_t asid_alloc(void)
{
    /* Hand out ASIDs once each; when they run out, later spaces share
     * ASID 0 and pay a full flush per switch (a generation scheme can come
     * with SMP). */
    if (!asid_width || asid_next >= (1u << asid_width))
        return 0;
    uint16_t a = asid_next++;
    asm volatile("sfence.vma zero, %0" ::"r"((unsigned long)a) : "memory");
    return a;
}

struct pt_ctx {
    struct aspace *as;
};

static void *p2v(uint64_t pa, void *ctx)
{
    (void)ctx;
    return pa_to_va(pa);
}

static bool alloc_table(uint64_t *pa, void *ctx)
{
    struct aspace *as = ((struct pt_ctx *)ctx)->as;
    if (bank_charge(as->obj.bank, PAGE_SIZE) != NS_OK)
        return false;
    if (!kmem_page_alloc(pa)) {
        bank_uncharge(as->obj.bank, PAGE_SIZE);
        return false;
    }
    as->table_pages++;
    return true;
}

static void free_table(uint64_t pa, void *ctx)
{
    struct aspace *as = ((struct pt_ctx *)ctx)->as;
    kmem_page_free(pa_to_va(pa));
    bank_uncharge(as->obj.bank, PAGE_SIZE);
    as->table_pages--;
}

enum ns_error aspace_init(struct aspace *as)
{
    struct pt_ctx c = {as};
    if (!alloc_table(&as->root_pa, &c))
        return NS_ERR_NO_QUOTA;
    pte_t *root = pa_to_va(as->root_pa);
    const pte_t *kroot = pa_to_va(vm_kernel_root());
    memcpy(&root[256], &kroot[256], 256 * sizeof(pte_t));
    as->asid = asid_alloc();
    as->mapped_pages = 0;
    as->harts = 0;
    as->owed_hi = 0;
    as->owed_next = NULL;
    as->flush_on_entry = 0;
    memobj_aspace_init(as);
    return NS_OK;
}

/* Root pages of dead spaces that another hart's satp still names: that
 * hart runs the kernel half through them (it waits for the kernel lock, or
 * has not switched since). At most one per hart. */
static uint64_t zombie_roots[PLATFORM_MAX_HARTS];

static bool root_in_use_elsewhere(uint64_t root_pa)
{
    struct hart *self = hart_self();
    for (unsigned i = 0; i < smp_online(); i++) {
        struct hart *h = smp_hart(i);
        if (h != self && __atomic_load_n(&h->satp_root, __ATOMIC_ACQUIRE) == root_pa)
            return true;
    }
    return false;
}

static void reap_roots(void)
{
    for (unsigned i = 0; i < PLATFORM_MAX_HARTS; i++)
        if (zombie_roots[i] && !root_in_use_elsewhere(zombie_roots[i])) {
            kmem_page_free(pa_to_va(zombie_roots[i]));
            zombie_roots[i] = 0;
        }
}

void aspace_destroy_tables(struct aspace *as)
{
    struct pt_ctx c = {as};
    struct sv39_ops ops = {.phys_to_virt = p2v, .ctx = &c};
    sv39_free_tables(&ops, as->root_pa, 0, 255, free_table);
    if (root_in_use_elsewhere(as->root_pa)) {
        bank_uncharge(as->obj.bank, PAGE_SIZE); /* the bank is done with it */
        as->table_pages--;
        unsigned i = 0;
        while (i < PLATFORM_MAX_HARTS && zombie_roots[i])
            i++;
        if (i == PLATFORM_MAX_HARTS)
            panic("aspace: more dead roots in use than harts");
        zombie_roots[i] = as->root_pa;
    } else {
        free_table(as->root_pa, &c);
    }
    as->root_pa = 0;
}

void aspace_idle(struct hart *h)
{
    uint64_t kroot = vm_kernel_root();
    if (smp_online() > 1 && h->satp_root != kroot) {
        csr_write(satp, SATP_MODE_SV39 | (kroot >> 12));
        sfence_vma_all();
        __atomic_store_n(&h->satp_root, kroot, __ATOMIC_RELEASE);
    }
    reap_roots();
}

/* The level-0 entry for user address `va` when both tables above it exist,
 * else NULL: the walk every fault, unmap and lookup of a touched region
 * takes, without sv39.c's general callbacks (the kernel reaches every
 * table through the direct map). */
static pte_t *leaf_entry(const struct aspace *as, uint64_t va)
{
    /* A table entry is valid with R, W and X all clear; anything else here
     * is no table (user space never gets large leaves). */
    const uint64_t kind = PTE_V | PTE_R | PTE_W | PTE_X;
    pte_t e = ((const pte_t *)pa_to_va(as->root_pa))[PTE_INDEX(va, 2)];
    if ((e & kind) != PTE_V)
        return NULL;
    e = ((const pte_t *)pa_to_va(pte_pa(e)))[PTE_INDEX(va, 1)];
    if ((e & kind) != PTE_V)
        return NULL;
    return &((pte_t *)pa_to_va(pte_pa(e)))[PTE_INDEX(va, 0)];
}

/* PTE bits for each combination of READ (1), WRITE (2) and EXEC (4):
 * write implies read (a PTE cannot be write-only); 0 means nothing the
 * hardware could use. Accessed and dirty are set up front, so hardware
 * that faults to set them (SiFive U74) only faults once the clock has
 * cleared the accessed bit (memobj/clock.c); the kernel tracks dirtiness
 * itself, by write permission. */
static const uint16_t pte_rights[8] = {
    [1] = PTE_R,         [2] = PTE_R | PTE_W,         [3] = PTE_R | PTE_W,         [4] = PTE_X,
    [5] = PTE_R | PTE_X, [6] = PTE_R | PTE_W | PTE_X, [7] = PTE_R | PTE_W | PTE_X,
};
_Static_assert(NS_RIGHT_READ == 1 && NS_RIGHT_WRITE == 2 && NS_RIGHT_EXEC == 4,
               "pte_rights is indexed by the rights bits");

enum ns_error aspace_enter(struct aspace *as, uint64_t va, uint64_t pa, uint32_t rights)
{
    uint64_t flags = PTE_U | PTE_A | PTE_D | pte_rights[rights & 7];
    pte_t *e = leaf_entry(as, va);
    if (e) {
        if (pte_present(*e))
            return NS_ERR_RANGE;
        *e = pte_make(pa, flags | PTE_V);
        as->mapped_pages++;
        return NS_OK;
    }
    /* Tables to make: the general walker allocates them. */
    struct pt_ctx c = {as};
    struct sv39_ops ops = {.phys_to_virt = p2v, .alloc_table = alloc_table, .ctx = &c};
    switch (sv39_map(&ops, as->root_pa, va, pa, PAGE_SIZE, flags, false)) {
    case SV39_OK:
        as->mapped_pages++;
        return NS_OK;
    case SV39_ERR_NO_MEMORY:
        return NS_ERR_NO_QUOTA;
    case SV39_ERR_EXISTS:
        return NS_ERR_RANGE;
    default:
        return NS_ERR_INVALID_ARG;
    }
}

enum ns_error aspace_map_page(struct aspace *as, uint64_t va, uint64_t pa, uint32_t rights)
{
    if (va & (PAGE_SIZE - 1) || !user_range_ok(va, PAGE_SIZE) || va < PAGE_SIZE)
        return NS_ERR_RANGE;
    if (!(pte_rights[rights & 7] & (PTE_R | PTE_X)))
        return NS_ERR_INVALID_ARG;
    return aspace_enter(as, va, pa, rights);
}

void aspace_flush_page(struct aspace *as, uint64_t va)
{
    tlb_local_page(as->asid, va);
}

static void flush_or_owe(struct aspace *as, uint64_t va);

enum ns_error aspace_grant(struct aspace *as, uint64_t va, uint64_t pa, uint32_t rights)
{
    pte_t *e = leaf_entry(as, va);
    if (!e || !pte_present(*e) || pte_pa(*e) != pa)
        return NS_ERR_RANGE;
    pte_t old = pte_logical(*e);
    pte_t now = pte_make(pa, PTE_V | PTE_U | PTE_A | PTE_D | pte_rights[rights & 7]);
    *e = now;
    if (old & (PTE_R | PTE_W | PTE_X) & ~now)
        flush_or_owe(as, va); /* a right taken away: everywhere */
    else
        tlb_local_page(as->asid, va);
    return NS_OK;
}

static enum ns_error unmap_pte(struct aspace *as, uint64_t va, uint64_t *pa)
{
    if (!user_range_ok(va, PAGE_SIZE) || (va & (PAGE_SIZE - 1)))
        return NS_ERR_RANGE;
    pte_t *e = leaf_entry(as, va);
    if (!e || !pte_present(*e))
        return NS_ERR_RANGE;
    if (pa)
        *pa = pte_pa(*e);
    *e = 0;
    as->mapped_pages--;
    return NS_OK;
}

/* The harts that must forget a translation of `as` now: this one if it
 * ran the space, and those whose satp holds it. Another hart that ran it
 * but has moved to another space's table cannot use its entries until it
 * switches back (satp changes under the kernel lock, so this is exact),
 * and it flushes the ASID when it does (aspace_activate): it is marked,
 * not interrupted. An idle hart (on the kernel's table, its TLB flushed
 * by aspace_idle) costs nothing either. So a space of several threads
 * spread over harts pays IPIs only to the harts running it this moment. */
static uint64_t shoot_targets(struct aspace *as)
{
    uint64_t self = tlb_this_hart();
    uint64_t now = as->harts & self, others = as->harts & ~self;
    for (unsigned i = 0; others && i < smp_online(); i++) {
        struct hart *h = smp_hart(i);
        uint64_t bit = 1ull << h->index;
        if (!(others & bit))
            continue;
        others &= ~bit;
        if (__atomic_load_n(&h->satp_root, __ATOMIC_ACQUIRE) == as->root_pa)
            now |= bit;
        else
            as->flush_on_entry |= bit;
    }
    return now;
}

/* ---- shootdown batches (aspace.h) ---- */

#define BATCH_FREES 64 /* frames held for one flush: a full list is a flush point */

static struct {
    unsigned depth;
    struct aspace *owing; /* spaces with a remote flush owed */
    unsigned nfree;
    uint64_t frees[BATCH_FREES];
} batch;

/* The flush `va` needs: now on this hart, and on the others now or, inside
 * a batch, at its next flush point. */
static void flush_or_owe(struct aspace *as, uint64_t va)
{
    uint64_t self = tlb_this_hart();
    if (!(as->harts & ~self)) { /* the one-hart case, as before SMP */
        if (as->harts)
            tlb_local_page(as->asid, va);
        return;
    }
    uint64_t targets = shoot_targets(as);
    if (!batch.depth || !(targets & ~self)) {
        tlb_flush_page(targets, as->asid, va);
        return;
    }
    if (targets & self)
        tlb_local_page(as->asid, va);
    if (!as->owed_hi) {
        as->owed_lo = va;
        as->owed_hi = va + PAGE_SIZE;
        as->owed_next = batch.owing;
        batch.owing = as;
    } else if (va < as->owed_lo) {
        as->owed_lo = va;
    } else if (va + PAGE_SIZE > as->owed_hi) {
        as->owed_hi = va + PAGE_SIZE;
    }
}

static void batch_flush(void)
{
    while (batch.owing) {
        struct aspace *as = batch.owing;
        batch.owing = as->owed_next;
        /* This hart's entries went one by one already; the harts to reach
         * are those running the space now (it may have left some since). */
        tlb_remote(shoot_targets(as), as->asid, as->owed_lo, as->owed_hi - as->owed_lo);
        as->owed_hi = 0;
        as->owed_next = NULL;
    }
    for (unsigned i = 0; i < batch.nfree; i++)
        kmem_page_free(pa_to_va(batch.frees[i]));
    batch.nfree = 0;
}

void aspace_batch_begin(void)
{
    batch.depth++;
}

void aspace_batch_end(void)
{
    batch_flush();
    batch.depth--;
}

void aspace_free_after_flush(uint64_t pa)
{
    if (!batch.owing) {
        kmem_page_free(pa_to_va(pa));
        return;
    }
    if (batch.nfree == BATCH_FREES)
        batch_flush();
    batch.frees[batch.nfree++] = pa;
}

uint64_t aspace_frees_owed(void)
{
    return batch.nfree;
}

enum ns_error aspace_unmap_page(struct aspace *as, uint64_t va, uint64_t *pa)
{
    enum ns_error e = unmap_pte(as, va, pa);
    if (e == NS_OK)
        flush_or_owe(as, va);
    return e;
}

enum ns_error aspace_unmap_page_noflush(struct aspace *as, uint64_t va)
{
    return unmap_pte(as, va, NULL);
}

void aspace_flush_range(struct aspace *as, uint64_t va, uint64_t npages)
{
    uint64_t targets = shoot_targets(as);
    if (npages == 1)
        tlb_flush_page(targets, as->asid, va);
    else if (npages)
        tlb_flush_range(targets, as->asid, va, npages * PAGE_SIZE);
}

void *aspace_user_page(struct aspace *as, uint64_t va, bool write)
{
    /* Through the direct map, so an aged entry serves as well as any:
     * the kernel's use is not the program's, and leaves A as it is. */
    uint64_t pa, flags;
    if (!as || !aspace_lookup(as, va & ~(uint64_t)(PAGE_SIZE - 1), &pa, &flags))
        return NULL;
    if (!(flags & PTE_U) || !(flags & PTE_R) || (write && !(flags & PTE_W)))
        return NULL;
    return pa_to_va(pa);
}

bool aspace_lookup(struct aspace *as, uint64_t va, uint64_t *pa, uint64_t *flags)
{
    if (!as->root_pa || !user_range_ok(va, 1))
        return false;
    const pte_t *e = leaf_entry(as, va);
    if (!e || !pte_present(*e))
        return false;
    *pa = pte_pa(*e) + (va & (PAGE_SIZE - 1));
    *flags = pte_logical(*e) & 0xff;
    return true;
}

void aspace_write_protect(struct aspace *as, uint64_t va)
{
    pte_t *e = leaf_entry(as, va);
    if (!e || !pte_present(*e) || !(*e & PTE_W))
        return;
    *e &= ~(pte_t)PTE_W;
    flush_or_owe(as, va);
}

bool aspace_test_clear_accessed(struct aspace *as, uint64_t va)
{
    pte_t *e = leaf_entry(as, va);
    if (!e || !(*e & PTE_V) || !(*e & PTE_A))
        return false;
    *e = pte_age(*e, ad_emulate_fault);
    return true;
}

bool aspace_fix_ad(struct aspace *as, uint64_t va, bool write)
{
    if (!as || !as->root_pa || !user_range_ok(va, 1))
        return false;
    pte_t *e = leaf_entry(as, va);
    if (!e || !pte_faults_for_ad(*e, write))
        return false;
    *e = pte_mark_accessed(*e, write);
    aspace_flush_page(as, va & ~(uint64_t)(PAGE_SIZE - 1));
    return true;
}

void aspace_flush_all(void)
{
    tlb_flush_everywhere();
}

void aspace_age_flush(void)
{
    tlb_age_flush();
}

void aspace_activate(struct aspace *as)
{
    /* Threads of one space switch without touching satp (QEMU flushes its
     * whole TLB on every satp write). A destroyed space's root page can be
     * reused by a new space with the same ASID 0 only after satp moved off
     * it (aspace_destroy), so an equal satp value means the same space. */
    unsigned long satp = SATP_MODE_SV39 | ((unsigned long)as->asid << 44) | (as->root_pa >> 12);
    if (csr_read(satp) == satp)
        return;
    tlb_enter(&as->harts);
    csr_write(satp, satp);
    struct hart *h = hart_self();
    if (h->satp_root != as->root_pa) {
        __atomic_store_n(&h->satp_root, as->root_pa, __ATOMIC_RELEASE);
        reap_roots();
    }
    if (!as->asid) {
        sfence_vma_all();
    } else if (as->flush_on_entry & tlb_this_hart()) {
        /* Entries left from before a shootdown that skipped this hart. */
        as->flush_on_entry &= ~tlb_this_hart();
        asm volatile("sfence.vma zero, %0" ::"r"((unsigned long)as->asid) : "memory");
    }
}

static struct kcache aspace_cache = KCACHE_INIT("aspace", struct aspace);

static void aspace_destroy(struct kobj *obj)
{
    struct aspace *as = (struct aspace *)obj;
    /* Never free the table the hart is running on: the kernel half would
     * go with it. Threads of this space are stopped when next picked. */
    if ((csr_read(satp) & ((1ul << 44) - 1)) == as->root_pa >> 12) {
        csr_write(satp, SATP_MODE_SV39 | (vm_kernel_root() >> 12));
        sfence_vma_all();
        hart_self()->satp_root = vm_kernel_root();
    }
    /* A thread of it in user mode on another hart is stopped first: its
     * hart then waits for the lock, and finds it no longer current. */
    for (unsigned i = 0; i < smp_online(); i++) {
        struct thread *t = __atomic_load_n(&smp_hart(i)->user_thread, __ATOMIC_ACQUIRE);
        if (t && t->as == as) {
            sched_still(t);
            thread_stop(t, "its address space was destroyed");
        }
    }
    if (as->root_pa) {
        memobj_aspace_teardown(as);
        if (as->owed_hi)
            batch_flush();
        /* it leaves the batch's list before it goes */ /* mappings first: their PTEs live
                                                           in the tables */
        /* Walk caches too, before the tables go. */
        if (as->asid)
            tlb_flush_asid(as->harts, as->asid);
        else if (as->harts & ~tlb_this_hart())
            tlb_flush_everywhere();
        aspace_destroy_tables(as);
    }
    obj_retire(&aspace_cache, obj);
}

void aspace_types_init(void)
{
    static const struct kobj_type_ops ops = {.destroy = aspace_destroy};
    kobj_register_type(NS_CAP_ASPACE, &ops);
}

enum ns_error sys_aspace_create(struct thread *self, uint64_t bank, uint64_t dst)
{
    struct obj_create c;
    enum ns_error e = obj_create_decode(self, bank, dst, &c);
    if (e != NS_OK)
        return e;
    struct aspace *as;
    e = obj_create_alloc(&c, &aspace_cache, NS_CAP_ASPACE, (void **)&as);
    if (e != NS_OK)
        return e;
    e = aspace_init(as);
    if (e != NS_OK) {
        obj_create_abort(&aspace_cache, as);
        return e;
    }
    obj_create_install(&c, as, NS_RIGHTS_ALL);
    return NS_OK;
}
