/* Building init.
 *
 * Every user page of init belongs to a memory object the kernel makes here,
 * charged to the root bank, with every page resident before init runs (no
 * manager is ever asked for one):
 *   - the initrd object: its bytes are the initrd. Its pages are the
 *     initrd's own physical pages, lent in place (MEMOBJ_PAGE_BORROWED:
 *     never freed, not charged - they were never part of the memory the
 *     root bank hands out) rather than copied, which would only double the
 *     memory the initrd takes. Only a partial first or last page is copied
 *     into a frame, so that the bytes around the archive read as zero
 *     instead of showing whatever shares those pages. The object is mapped
 *     read-only at NS_INITRD_VA, and init gets a READ|EXEC capability to it
 *     at NS_SLOT_INITRD (bootinfo.h) to map programs from;
 *   - the image object: init's writable data and BSS, its stack and the
 *     boot-info page, in frames the kernel fills now. Read-only segments
 *     come straight from the initrd object when their file data is
 *     page-congruent with their address (scripts/mkinitrd page-aligns file
 *     data); one that is not, or that has bytes past its file data, is
 *     copied into the image object like the writable ones.
 * Nothing of init is frame-mapped. The kernel installs the PTEs of all of
 * it at once, so init starts with its whole image mapped and the kernel can
 * reach any of its buffers without a first touch (newsys.h: ns_touch).
 *
 * init also gets a capability space whose well-known slots (bootinfo.h)
 * hold capabilities to its own thread, address space and capability space,
 * the root space bank (all memory left after boot) and the machine. The
 * kernel keeps the first capability to each of these objects, so nothing
 * init does can destroy them. */
#include "kernel/boot/rootproc.h"

#include <string.h>

#include "frames/frame_alloc.h"
#include "include/newsys/bootinfo.h"
#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/smp.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/boot/initrd.h"
#include "kernel/boot/platform.h"
#include "kernel/console/console.h"
#include "kernel/core/aspace.h"
#include "kernel/core/bank.h"
#include "kernel/core/cap.h"
#include "kernel/core/cspace_obj.h"
#include "kernel/core/disk_obj.h"
#include "kernel/core/kmem.h"
#include "kernel/core/pin_obj.h"
#include "kernel/core/sched.h"
#include "kernel/core/syscall.h"
#include "kernel/core/thread.h"
#include "kernel/lib/cpio.h"
#include "memobj/memobj.h"

#define ROOT_CSPACE_SLOTS 256
#define INIT_PRIORITY     100

static struct bank root_bank;
/* init's own objects are static, not from the kernel's object caches, and
 * must never be destroyed (their hooks would free them into a cache). The
 * kernel keeps the original capability to each, as the root of its
 * derivation tree, so no delete or revoke of init's can drop the last one.
 * The two memory objects come from the cache, but the same references
 * keep them alive for good. */
enum {
    REF_THREAD,
    REF_ASPACE,
    REF_CSPACE,
    REF_BANK,
    REF_MACHINE,
    REF_PIN,
    REF_INITRD,
    REF_IMAGE,
    NREFS
};
static struct cap_slot kernel_refs[NREFS];
static struct aspace root_as;
static struct cspace_obj root_cs;
static struct thread root_thread;

struct bank *root_bank_get(void);
struct bank *root_bank_get(void)
{
    return &root_bank;
}

static uint64_t page_down(uint64_t x)
{
    return x & ~(uint64_t)(PAGE_SIZE - 1);
}

static uint64_t page_up(uint64_t x)
{
    return page_down(x + PAGE_SIZE - 1);
}

static uint32_t seg_rights(uint32_t flags)
{
    uint32_t rights = 0;
    if (flags & ELF_R)
        rights |= NS_RIGHT_READ;
    if (flags & ELF_W)
        rights |= NS_RIGHT_READ | NS_RIGHT_WRITE; /* pages cannot be write-only */
    if (flags & ELF_X)
        rights |= NS_RIGHT_EXEC;
    return rights;
}

static uint64_t seg_pages(const struct elf_segment *s)
{
    return (page_up(s->vaddr + s->memsz) - page_down(s->vaddr)) / PAGE_SIZE;
}

/* The initrd as a memory object: [base, end) of physical memory, base the
 * page holding initrd_start. */
struct initrd_obj {
    struct memobj *mo;
    uint64_t offset; /* of the archive in the object */
    uint64_t pages, lent;
};

static bool make_initrd_object(const struct platform *p, struct initrd_obj *ro)
{
    uint64_t base = page_down(p->initrd_start), end = p->initrd_end;
    ro->offset = p->initrd_start - base;
    ro->pages = (page_up(end) - base) / PAGE_SIZE;
    ro->lent = 0;
    if (memobj_kernel_create(&root_bank, end - base, &kernel_refs[REF_INITRD], &ro->mo) != NS_OK)
        return false;
    for (uint64_t i = 0; i < ro->pages; i++) {
        uint64_t pa = base + i * PAGE_SIZE;
        if (pa >= p->initrd_start && pa + PAGE_SIZE <= end) {
            if (memobj_kernel_lend(ro->mo, i, pa) != NS_OK)
                return false;
            ro->lent++;
            continue;
        }
        /* A page the archive only partly fills: copy its part. */
        uint8_t *page;
        if (memobj_kernel_fill(ro->mo, i, (void **)&page) != NS_OK)
            return false;
        uint64_t lo = pa > p->initrd_start ? pa : p->initrd_start;
        uint64_t hi = pa + PAGE_SIZE < end ? pa + PAGE_SIZE : end;
        memcpy(page + (lo - pa), pa_to_va(lo), hi - lo);
    }
    return memobj_kernel_map(&root_as, ro->mo, NS_INITRD_VA, 0, ro->pages, NS_RIGHT_READ) == NS_OK;
}

/* Can segment `s` of the program at `file_off` in the initrd object be
 * mapped from it as it is? */
static bool maps_in_place(const struct initrd_obj *ro, uint64_t file_off,
                          const struct elf_segment *s)
{
    return ro->mo && !(s->flags & ELF_W) && s->filesz == s->memsz &&
           (file_off + s->offset) % PAGE_SIZE == s->vaddr % PAGE_SIZE;
}

static bool load_elf(const struct cpio_entry *e, const struct elf_info *info,
                     const struct initrd_obj *ro, uint64_t file_off, struct memobj *img,
                     uint64_t *next_page, uint64_t *in_place)
{
    const uint8_t *file = e->data;
    for (unsigned i = 0; i < info->nseg; i++) {
        const struct elf_segment *s = &info->seg[i];
        uint32_t rights = seg_rights(s->flags);
        uint64_t start = page_down(s->vaddr), npages = seg_pages(s);
        if (maps_in_place(ro, file_off, s)) {
            uint64_t first = (file_off + s->offset - s->vaddr % PAGE_SIZE) / PAGE_SIZE;
            if (memobj_kernel_map(&root_as, ro->mo, start, first, npages, rights) != NS_OK)
                return false;
            *in_place += npages;
            continue;
        }
        uint64_t first = *next_page;
        for (uint64_t k = 0; k < npages; k++) {
            uint8_t *page;
            uint64_t va = start + k * PAGE_SIZE;
            if (memobj_kernel_fill(img, first + k, (void **)&page) != NS_OK)
                return false;
            /* The part of [vaddr, vaddr + filesz) in this page; the rest
             * stays zero (BSS). */
            uint64_t lo = va > s->vaddr ? va : s->vaddr;
            uint64_t hi =
                va + PAGE_SIZE < s->vaddr + s->filesz ? va + PAGE_SIZE : s->vaddr + s->filesz;
            if (lo < hi)
                memcpy(page + (lo - va), file + s->offset + (lo - s->vaddr), hi - lo);
        }
        *next_page += npages;
        if (memobj_kernel_map(&root_as, img, start, first, npages, rights) != NS_OK)
            return false;
    }
    /* The new text must be visible to instruction fetch. */
    asm volatile("fence.i" ::: "memory");
    return true;
}

/* Fresh zeroed pages [*next_page, + pages) of the image object mapped at
 * `va`; *kva gets the first one's kernel address. */
static bool map_fresh(struct memobj *img, uint64_t *next_page, uint64_t va, uint64_t pages,
                      uint32_t rights, void **kva)
{
    for (uint64_t k = 0; k < pages; k++)
        if (memobj_kernel_fill(img, *next_page + k, k ? &(void *){0} : kva) != NS_OK)
            return false;
    *next_page += pages;
    return memobj_kernel_map(&root_as, img, va, *next_page - pages, pages, rights) == NS_OK;
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

    /* rd is the initrd (rootproc is only called with one). */
    struct initrd_obj ro = {0};
    if (!make_initrd_object(p, &ro))
        return fail("the initrd object");

    /* The image object: the pages not mapped from the initrd, the stack,
     * the boot-info page. */
    uint64_t file_off = ro.offset + (uint64_t)((const uint8_t *)e.data - (const uint8_t *)rd->data);
    uint64_t img_pages = NS_STACK_PAGES + 1;
    for (unsigned i = 0; i < info.nseg; i++)
        if (!maps_in_place(&ro, file_off, &info.seg[i]))
            img_pages += seg_pages(&info.seg[i]);
    struct memobj *img;
    if (memobj_kernel_create(&root_bank, img_pages * PAGE_SIZE, &kernel_refs[REF_IMAGE], &img) !=
        NS_OK)
        return fail("the image object");
    uint64_t next = 0, in_place = 0;
    if (!load_elf(&e, &info, &ro, file_off, img, &next, &in_place))
        return fail("the program image");
    void *stack;
    if (!map_fresh(img, &next, NS_STACK_TOP - NS_STACK_PAGES * PAGE_SIZE, NS_STACK_PAGES,
                   NS_RIGHT_READ | NS_RIGHT_WRITE, &stack))
        return fail("the stack");
    struct ns_bootinfo *bi;
    if (!map_fresh(img, &next, NS_BOOTINFO_VA, 1, NS_RIGHT_READ, (void **)&bi))
        return fail("the boot-info page");
    bi->magic = NS_BOOTINFO_MAGIC;
    bi->initrd_va = NS_INITRD_VA + ro.offset;
    bi->initrd_size = p->initrd_end - p->initrd_start;
    bi->initrd_offset = ro.offset;
    bi->cspace_slots = ROOT_CSPACE_SLOTS;
    bi->timebase_hz = p->timebase_hz;
    bi->hart_count = smp_online();
    size_t n = strnlen(p->bootargs, sizeof(bi->cmdline) - 1);
    memcpy(bi->cmdline, p->bootargs, n);

    struct cap_slot *slots = root_cs.cs.slots;
    static const unsigned slot_of[6] = {NS_SLOT_SELF_THREAD, NS_SLOT_SELF_ASPACE,
                                        NS_SLOT_SELF_CSPACE, NS_SLOT_ROOT_BANK,
                                        NS_SLOT_MACHINE,     NS_SLOT_PIN_AUTHORITY};
    struct kobj *objs[6] = {&root_thread.obj, &root_as.obj,     &root_cs.obj,
                            &root_bank.obj,   machine_object(), pin_authority_object()};
    for (unsigned i = 0; i < 6; i++) {
        cap_install(&kernel_refs[i], objs[i], NS_RIGHTS_ALL, 0);
        cap_slot_derive(&kernel_refs[i], &slots[slot_of[i]], NS_RIGHTS_ALL, 0);
    }
    cap_slot_derive(&kernel_refs[REF_INITRD], &slots[NS_SLOT_INITRD], NS_RIGHT_READ | NS_RIGHT_EXEC,
                    0);

    disk_objects_give(slots, bi);

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
    sched_set_home(t, h); /* init starts on the boot hart */
    sched_ready(sched_of(h), t);
    kprintf("init: %s started from memory objects: initrd %lu pages (%lu lent in place), "
            "%lu pages of program segments mapped from it; image %lu pages; %lu pages mapped, %lu "
            "page-table pages, root bank %lu pages\n",
            name, (unsigned long)ro.pages, (unsigned long)ro.lent, (unsigned long)in_place,
            (unsigned long)img_pages, (unsigned long)root_as.mapped_pages,
            (unsigned long)root_as.table_pages, (unsigned long)bank_limit_pages(&root_bank));
    return true;
}
