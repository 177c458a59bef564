/* Building init.
 *
 * init gets: an address space with its ELF segments (W^X, from fresh zeroed
 * frames), a stack, the boot-info page and the initrd (both read-only), a
 * capability space whose well-known slots (bootinfo.h) hold capabilities to
 * its own thread, address space and capability space, the root space bank
 * (all memory left after boot) and the machine capability. Everything is
 * charged to the root bank. The frames holding init's image belong to init
 * for good (memory objects replace this with the memory-object issue). */
#include "kernel/boot/rootproc.h"

#include <string.h>

#include "frames/frame_alloc.h"
#include "include/newsys/bootinfo.h"
#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/boot/initrd.h"
#include "kernel/boot/platform.h"
#include "kernel/console/console.h"
#include "kernel/core/aspace.h"
#include "kernel/core/bank.h"
#include "kernel/core/cap.h"
#include "kernel/core/cspace_obj.h"
#include "kernel/core/kmem.h"
#include "kernel/core/sched.h"
#include "kernel/core/syscall.h"
#include "kernel/core/thread.h"
#include "kernel/lib/cpio.h"

#define ROOT_CSPACE_SLOTS 256
#define INIT_PRIORITY     100

static struct bank root_bank;
/* init's own objects are static, not from the kernel's object caches, and
 * must never be destroyed (their hooks would free them into a cache). The
 * kernel keeps the original capability to each, as the root of its
 * derivation tree, so no delete or revoke of init's can drop the last one. */
static struct cap_slot kernel_refs[5];
static struct aspace root_as;
static struct cspace_obj root_cs;
static struct thread root_thread;

struct bank *root_bank_get(void);
struct bank *root_bank_get(void)
{
    return &root_bank;
}

/* A fresh zeroed user page, charged to the root bank, mapped at `va`. */
static bool map_new_page(uint64_t va, uint32_t rights, void **kva)
{
    uint64_t pa;
    if (bank_charge(&root_bank, PAGE_SIZE) != NS_OK)
        return false;
    void *page = kmem_page_alloc(&pa);
    if (!page)
        return false;
    if (aspace_map_page(&root_as, va, pa, rights) != NS_OK)
        return false;
    if (kva)
        *kva = page;
    return true;
}

static bool load_elf(const struct cpio_entry *e, const struct elf_info *info)
{
    const uint8_t *file = e->data;
    for (unsigned i = 0; i < info->nseg; i++) {
        const struct elf_segment *s = &info->seg[i];
        uint32_t rights = 0;
        if (s->flags & ELF_R)
            rights |= NS_RIGHT_READ;
        if (s->flags & ELF_W)
            rights |= NS_RIGHT_WRITE;
        if (s->flags & ELF_X)
            rights |= NS_RIGHT_EXEC;
        uint64_t start = s->vaddr & ~(uint64_t)(PAGE_SIZE - 1);
        for (uint64_t va = start; va < s->vaddr + s->memsz; va += PAGE_SIZE) {
            uint8_t *page;
            if (!map_new_page(va, rights, (void **)&page))
                return false;
            /* Copy the part of [vaddr, vaddr + filesz) that falls in this
             * page; the rest stays zero (BSS). */
            uint64_t lo = va > s->vaddr ? va : s->vaddr;
            uint64_t hi =
                va + PAGE_SIZE < s->vaddr + s->filesz ? va + PAGE_SIZE : s->vaddr + s->filesz;
            if (lo < hi)
                memcpy(page + (lo - va), file + s->offset + (lo - s->vaddr), hi - lo);
        }
    }
    /* The new text must be visible to instruction fetch. */
    asm volatile("fence.i" ::: "memory");
    return true;
}

static bool map_initrd(const struct platform *p, uint64_t *va)
{
    uint64_t base = p->initrd_start & ~(uint64_t)(PAGE_SIZE - 1);
    for (uint64_t pa = base; pa < p->initrd_end; pa += PAGE_SIZE)
        if (aspace_map_page(&root_as, NS_INITRD_VA + (pa - base), pa, NS_RIGHT_READ) != NS_OK)
            return false;
    *va = NS_INITRD_VA + (p->initrd_start - base);
    return true;
}

static bool fail(const char *what)
{
    kprintf("init: cannot create %s\n", what);
    return false;
}

bool rootproc_start(struct hart *h, const struct platform *p, const struct initrd *rd,
                    const char *name)
{
    struct cpio_entry e;
    struct elf_info info;
    if (cpio_find(rd->data, rd->size, name, &e) != CPIO_OK ||
        elf_check(e.data, e.size, &info) != ELF_OK)
        return fail("the process: no valid program");

    /* The root bank gets every frame left, less a reserve for the kernel's
     * own needs (page tables of the kernel, slabs of unaccounted objects). */
    uint64_t free_bytes = frame_count_free(kmem_frames()) * PAGE_SIZE;
    uint64_t reserve = free_bytes / 16;
    bank_init_root(&root_bank, free_bytes - reserve);

    kobj_init(&root_cs.obj, NS_CAP_CSPACE);
    if (bank_charge_object(&root_bank, &root_cs.obj, sizeof(root_cs)) != NS_OK ||
        cspace_obj_init(&root_cs, ROOT_CSPACE_SLOTS) != NS_OK)
        return fail("the capability space");
    kobj_init(&root_as.obj, NS_CAP_ASPACE);
    if (bank_charge_object(&root_bank, &root_as.obj, sizeof(root_as)) != NS_OK ||
        aspace_init(&root_as) != NS_OK)
        return fail("the address space");
    kobj_init(&root_thread.obj, NS_CAP_THREAD);
    if (bank_charge_object(&root_bank, &root_thread.obj, sizeof(root_thread)) != NS_OK)
        return fail("the thread");

    if (!load_elf(&e, &info))
        return fail("the program image");
    for (uint64_t i = 1; i <= NS_STACK_PAGES; i++)
        if (!map_new_page(NS_STACK_TOP - i * PAGE_SIZE, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL))
            return fail("the stack");
    struct ns_bootinfo *bi;
    if (!map_new_page(NS_BOOTINFO_VA, NS_RIGHT_READ, (void **)&bi))
        return fail("the boot-info page");
    bi->magic = NS_BOOTINFO_MAGIC;
    if (p->initrd_end > p->initrd_start && !map_initrd(p, &bi->initrd_va))
        return fail("the initrd mapping");
    bi->initrd_size = p->initrd_end - p->initrd_start;
    bi->cspace_slots = ROOT_CSPACE_SLOTS;
    bi->timebase_hz = p->timebase_hz;
    bi->hart_count = p->hart_count;
    size_t n = strnlen(p->bootargs, sizeof(bi->cmdline) - 1);
    memcpy(bi->cmdline, p->bootargs, n);

    struct cap_slot *slots = root_cs.cs.slots;
    static const unsigned slot_of[5] = {NS_SLOT_SELF_THREAD, NS_SLOT_SELF_ASPACE,
                                        NS_SLOT_SELF_CSPACE, NS_SLOT_ROOT_BANK, NS_SLOT_MACHINE};
    struct kobj *objs[5] = {&root_thread.obj, &root_as.obj, &root_cs.obj, &root_bank.obj,
                            machine_object()};
    for (unsigned i = 0; i < 5; i++) {
        cap_install(&kernel_refs[i], objs[i], NS_RIGHTS_ALL, 0);
        cap_slot_derive(&kernel_refs[i], &slots[slot_of[i]], NS_RIGHTS_ALL, 0);
    }

    struct thread *t = &root_thread;
    cap_slot_derive(&slots[NS_SLOT_SELF_ASPACE], &t->as_cap, NS_RIGHTS_ALL, 0);
    cap_slot_derive(&slots[NS_SLOT_SELF_CSPACE], &t->cs_cap, NS_RIGHTS_ALL, 0);
    t->as = &root_as;
    t->cs = &root_cs;
    t->prio = INIT_PRIORITY;
    memcpy(t->name, "init", 5);
    t->ctx.sepc = info.entry;
    t->ctx.regs[2] = NS_STACK_TOP;
    t->ctx.regs[10] = NS_BOOTINFO_VA;
    /* User mode (SPP = 0), interrupts on after sret (SPIE), FP off (lazy). */
    t->ctx.sstatus = SSTATUS_SPIE;
    sched_ready(sched_of(h), t);
    kprintf("init: %s started: %lu pages mapped, %lu page-table pages, root bank %lu pages\n", name,
            (unsigned long)root_as.mapped_pages, (unsigned long)root_as.table_pages,
            (unsigned long)bank_limit_pages(&root_bank));
    return true;
}
