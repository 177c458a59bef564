/* ns_spawn and friends (see spawn.h for the contract and the child's view).
 *
 * The build keeps at most eight capabilities in the caller's space at any
 * time (the child's bank, capability space, address space, thread, its
 * three memory objects and, when resident, their notification) and only
 * two once the child runs: everything else is handed over to the child's
 * own space and the caller's copy deleted. All objects are charged to the
 * child's sub-bank, so a failure anywhere is undone by destroying that one
 * bank (after unmapping the scratch page, whose mapping node would
 * otherwise outlive the object it names).
 *
 * The spawner writes the image object (process info, data, copied
 * segments) through a one-page scratch mapping, and only ever pages that
 * are already resident - preloaded by itself or, with a pager, entered by
 * the pager at creation - so it never waits on a manager and no failure of
 * one can turn into a fault of the spawner. The one thing the write still
 * allocates is the reverse-map entry of the scratch mapping, charged to the
 * child's bank: room for it is checked first (NS_ERR_NO_QUOTA). */
#include "user/rt/spawn.h"

#include <stdio.h>
#include <string.h>

#include "kernel/lib/cpio.h"
#include "kernel/lib/elf.h"
#include "managers/zero/zero.h"
#include "user/rt/slots.h"

#define PAGE_SIZE    4096ull
#define PRELOAD_MAX  64 /* pages per NS_SYS_MEMOBJ_PRELOAD */
#define RMAP_RESERVE 64 /* bytes a mapped page's reverse-map entry may take */

uint64_t ns_start_arg;

const struct ns_procinfo *ns_procinfo(void)
{
    /* Only look at the page when a0 named it: reading an unmapped page
     * would kill the caller. */
    if (ns_bootinfo || ns_start_arg != NS_PROCINFO_VA)
        return NULL;
    const struct ns_procinfo *pi = (const struct ns_procinfo *)(uintptr_t)NS_PROCINFO_VA;
    return pi->magic == NS_PROCINFO_MAGIC ? pi : NULL;
}

/* The caller's initrd: the archive, where it sits in the initrd object,
 * and the caller's capability to that object. */
struct initrd_src {
    const uint8_t *data;
    uint64_t size, offset;
    unsigned long slot;
};

static long my_initrd(struct initrd_src *r)
{
    const struct ns_procinfo *pi = ns_procinfo();
    if (ns_bootinfo && ns_bootinfo->initrd_size)
        *r = (struct initrd_src){(const uint8_t *)(uintptr_t)ns_bootinfo->initrd_va,
                                 ns_bootinfo->initrd_size, ns_bootinfo->initrd_offset,
                                 NS_SLOT_INITRD};
    else if (pi && pi->initrd_slot && pi->initrd_size)
        *r = (struct initrd_src){(const uint8_t *)(uintptr_t)pi->initrd_va, pi->initrd_size,
                                 pi->initrd_offset, pi->initrd_slot};
    else
        return NS_ERR_BAD_STATE;
    return NS_OK;
}

/* The caller's slots for the child under construction (0: none). */
enum { B_BANK, B_CS, B_AS, B_TH, B_IMG, B_STK, B_HEAP, B_NTFN, B_NSLOTS };
struct build {
    unsigned long slot[B_NSLOTS];
    bool bank_made, scratch_mapped;
    unsigned long parent_bank;
};

static long alloc_slots(struct build *b)
{
    for (unsigned i = 0; i < B_NSLOTS; i++) {
        long e = ns_slot_alloc(&b->slot[i]);
        if (e != NS_OK)
            return e;
    }
    return NS_OK;
}

/* Give the caller's slots back, deleting what is left in them. */
static long release_slots(struct build *b)
{
    long first_err = NS_OK;
    for (unsigned i = 0; i < B_NSLOTS; i++) {
        if (b->slot[i]) {
            long e = ns_slot_free(b->slot[i]);
            if (first_err == NS_OK)
                first_err = e;
            b->slot[i] = 0;
        }
    }
    return first_err;
}

/* Undo a failed build: the scratch page first, then the bank takes every
 * object of the child with it, then the slots go. The original error is
 * what the caller needs to see; a failure of the undo itself would mean
 * our own fresh capabilities stopped working, which only a broken kernel
 * does, so it does not replace it. */
static long fail(struct build *b, long err)
{
    if (b->scratch_mapped && ns_memobj_unmap(NS_SLOT_SELF_ASPACE, NS_SPAWN_SCRATCH_VA, 1) != NS_OK)
        printf("spawn: could not unmap the scratch page\n");
    if (b->bank_made && ns_bank_destroy(b->slot[B_BANK]) != NS_OK)
        printf("spawn: could not destroy a half-built child's bank\n");
    release_slots(b);
    return err;
}

static unsigned long seg_rights(uint32_t flags)
{
    unsigned long r = 0;
    if (flags & ELF_R)
        r |= NS_RIGHT_READ;
    if (flags & ELF_W)
        r |= NS_RIGHT_READ | NS_RIGHT_WRITE; /* pages cannot be write-only */
    if (flags & ELF_X)
        r |= NS_RIGHT_EXEC;
    return r;
}

static uint64_t seg_pages(const struct elf_segment *s)
{
    uint64_t start = s->vaddr & ~(PAGE_SIZE - 1);
    uint64_t end = (s->vaddr + s->memsz + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    return (end - start) / PAGE_SIZE;
}

/* Where each segment's pages come from. Image page 0 is the info page. */
struct layout {
    bool in_place[ELF_MAX_SEGMENTS];  /* mapped from the initrd object */
    uint64_t first[ELF_MAX_SEGMENTS]; /* else: its first page in the image object */
    uint64_t file_off;                /* the program's file in the initrd object */
    uint64_t img_pages, written;      /* image pages, and [0, written) get data */
};

static void plan(const struct elf_info *info, uint64_t file_off, struct layout *l)
{
    l->file_off = file_off;
    l->img_pages = l->written = 1;
    for (unsigned i = 0; i < info->nseg; i++) {
        const struct elf_segment *s = &info->seg[i];
        l->in_place[i] = !(s->flags & ELF_W) && s->filesz == s->memsz &&
                         (file_off + s->offset) % PAGE_SIZE == s->vaddr % PAGE_SIZE;
        if (l->in_place[i])
            continue;
        l->first[i] = l->img_pages;
        l->img_pages += seg_pages(s);
        uint64_t file_pages =
            s->filesz ? (s->vaddr % PAGE_SIZE + s->filesz + PAGE_SIZE - 1) / PAGE_SIZE : 0;
        if (l->first[i] + file_pages > l->written)
            l->written = l->first[i] + file_pages;
    }
}

/* Is there room for `bytes` more in the bank? (Its ancestors beyond the
 * one we know are not visible from here.) */
static long room(unsigned long bank, uint64_t bytes)
{
    uint64_t limit, used;
    long e = ns_bank_info(bank, &limit, &used);
    if (e != NS_OK)
        return e;
    if (limit <= UINT64_MAX / 4096 && used + bytes > limit * 4096)
        return NS_ERR_NO_QUOTA;
    return NS_OK;
}

/* Write `len` bytes of `src` at `off` in image page `page` (resident,
 * zero-filled) through the scratch mapping. */
static long write_page(struct build *b, uint64_t page, const void *src, size_t off, size_t len)
{
    long e = room(b->slot[B_BANK], RMAP_RESERVE);
    if (e == NS_OK)
        e = room(b->parent_bank, RMAP_RESERVE);
    if (e != NS_OK)
        return e;
    unsigned long eff;
    e = ns_memobj_map(NS_SLOT_SELF_ASPACE, b->slot[B_IMG], NS_SPAWN_SCRATCH_VA, page, 1,
                      NS_RIGHT_READ | NS_RIGHT_WRITE | NS_MAP_STRICT, &eff);
    if (e != NS_OK)
        return e;
    b->scratch_mapped = true;
    memcpy((uint8_t *)(uintptr_t)NS_SPAWN_SCRATCH_VA + off, src, len);
    e = ns_memobj_unmap(NS_SLOT_SELF_ASPACE, NS_SPAWN_SCRATCH_VA, 1);
    if (e == NS_OK)
        b->scratch_mapped = false;
    return e;
}

static long copy_segment(struct build *b, const uint8_t *file, const struct elf_segment *s,
                         uint64_t first)
{
    uint64_t start = s->vaddr & ~(PAGE_SIZE - 1);
    uint64_t file_end = s->vaddr + s->filesz;
    for (uint64_t va = start; va < file_end; va += PAGE_SIZE) {
        /* The part of [vaddr, vaddr + filesz) inside this page; the rest
         * stays zero (BSS). */
        uint64_t lo = va > s->vaddr ? va : s->vaddr;
        uint64_t hi = va + PAGE_SIZE < file_end ? va + PAGE_SIZE : file_end;
        long e = write_page(b, first + (va - start) / PAGE_SIZE, file + s->offset + (lo - s->vaddr),
                            lo - va, hi - lo);
        if (e != NS_OK)
            return e;
    }
    return NS_OK;
}

/* Map `pages` pages of `obj` from `first` at `va` in the child, with
 * exactly `rights`. */
static long map_child(struct build *b, unsigned long obj, uint64_t first, uint64_t va,
                      uint64_t pages, unsigned long rights)
{
    unsigned long eff;
    return ns_memobj_map(b->slot[B_AS], obj, va, first, pages, rights | NS_MAP_STRICT, &eff);
}

/* Ask the pager for a zero-fill object of `pages` pages charged to the
 * child's bank, its first `preload` pages resident at once, into `dst`. */
static long pager_create(unsigned long pager, unsigned long bank, unsigned long dst, uint64_t pages,
                         uint64_t preload)
{
    struct ns_ipc_buffer *buf = ns_ipc_buffer();
    uint64_t saved_slot = buf->recv_slots[0], saved_count = buf->recv_count;
    buf->send_caps[0] = bank;
    buf->recv_slots[0] = dst;
    buf->recv_count = 1;
    struct ns_msg m = {.info = NS_MSG_INFO(ZERO_CREATE, 2, 1), .w = {pages * PAGE_SIZE, preload}};
    long e = ns_call(pager, &m);
    buf->recv_slots[0] = saved_slot;
    buf->recv_count = saved_count;
    if (e != NS_OK)
        return e;
    uint64_t label = NS_MSG_LABEL(m.info);
    if (label)
        return label < NS_ERR_COUNT ? (long)label : NS_ERR_INVALID_ARG;
    /* A manager's reply is not to be trusted: what arrived must be an
     * object this large that we may map read-write. */
    struct ns_cap_info ci;
    uint64_t length;
    const unsigned long rw = NS_RIGHT_READ | NS_RIGHT_WRITE;
    if (NS_MSG_CAPS(m.info) != 1 || ns_cap_identify(dst, &ci) != NS_OK ||
        ci.type != NS_CAP_MEMOBJ || (ci.rights & rw) != rw ||
        ns_memobj_info(dst, &length, NULL, NULL) != NS_OK || length < pages * PAGE_SIZE)
        return NS_ERR_INVALID_ARG;
    return NS_OK;
}

/* One of the child's objects into `dst`: from the pager, or made here and
 * preloaded whole (resident). */
static long make_object(struct build *b, const struct ns_spawn_opts *o, unsigned long dst,
                        uint64_t pages, uint64_t preload)
{
    if (o->pager)
        return pager_create(o->pager, b->slot[B_BANK], dst, pages, preload);
    long e = ns_memobj_create(b->slot[B_BANK], dst, pages * PAGE_SIZE, b->slot[B_NTFN]);
    for (uint64_t p = 0; e == NS_OK && p < pages; p += PRELOAD_MAX)
        e = ns_memobj_preload(dst, p, pages - p < PRELOAD_MAX ? pages - p : PRELOAD_MAX, NULL);
    return e;
}

/* Find and check the program; NS_OK with *entry and *info filled. */
static long find_program(const char *name, const struct initrd_src *rd, struct cpio_entry *entry,
                         struct elf_info *info)
{
    enum cpio_err ce = cpio_find(rd->data, rd->size, name, entry);
    if (ce == CPIO_ERR_NOT_FOUND)
        return NS_ERR_INVALID_ARG;
    if (ce != CPIO_OK || !cpio_is_regular(entry))
        return NS_ERR_WRONG_TYPE;
    if (elf_check(entry->data, entry->size, info) != ELF_OK)
        return NS_ERR_WRONG_TYPE;
    return NS_OK;
}

static long check_caps(const struct ns_spawn_opts *o)
{
    if (o->ncaps > NS_SPAWN_MAX_CAPS)
        return NS_ERR_TOO_MANY_CAPS;
    if (o->ncaps && !o->caps)
        return NS_ERR_INVALID_ARG;
    unsigned used = 0;
    for (unsigned i = 0; i < o->ncaps; i++) {
        const struct ns_spawn_cap *c = &o->caps[i];
        if (c->dst < NS_SLOT_FIRST_GIVEN || c->dst >= NS_SLOT_FIRST_FREE)
            return NS_ERR_INVALID_SLOT;
        if (c->rights & ~(unsigned long)NS_RIGHTS_ALL)
            return NS_ERR_INVALID_ARG;
        unsigned bit = 1u << (c->dst - NS_SLOT_FIRST_GIVEN);
        if (used & bit)
            return NS_ERR_SLOT_OCCUPIED;
        used |= bit;
    }
    return NS_OK;
}

long ns_spawn(const char *name, const struct ns_spawn_opts *opts, struct ns_process *out)
{
    static const struct ns_spawn_opts defaults;
    const struct ns_spawn_opts *o = opts ? opts : &defaults;
    if (!out)
        return NS_ERR_INVALID_ARG;
    if (!name || !name[0] || strnlen(name, NS_SPAWN_NAME_MAX) == NS_SPAWN_NAME_MAX)
        return NS_ERR_INVALID_ARG;

    struct initrd_src rd;
    struct cpio_entry entry;
    struct elf_info info;
    long e = my_initrd(&rd);
    if (e == NS_OK)
        e = find_program(name, &rd, &entry, &info);
    if (e == NS_OK)
        e = check_caps(o);
    if (e != NS_OK)
        return e;
    const unsigned known_flags = NS_SPAWN_GIVE_INITRD | NS_SPAWN_NO_HEAP;
    uint64_t bank_pages = o->bank_pages ? o->bank_pages : NS_SPAWN_DEFAULT_BANK_PAGES;
    uint64_t stack_pages = o->stack_pages ? o->stack_pages : NS_SPAWN_DEFAULT_STACK_PAGES;
    uint64_t free_slots = o->free_slots ? o->free_slots : NS_SPAWN_DEFAULT_FREE_SLOTS;
    uint64_t heap_pages = o->heap_pages ? o->heap_pages
                          : o->pager    ? NS_SPAWN_DEFAULT_HEAP_PAGES
                                        : 0;
    if (o->flags & NS_SPAWN_NO_HEAP)
        heap_pages = 0;
    unsigned long parent_bank = o->parent_bank ? o->parent_bank : NS_SLOT_ROOT_BANK;
    if (stack_pages > NS_SPAWN_MAX_STACK_PAGES || free_slots > NS_SLOTS_MAX ||
        heap_pages > NS_SPAWN_MAX_HEAP_PAGES || (o->flags & ~known_flags))
        return NS_ERR_INVALID_ARG;

    struct layout l;
    plan(&info, rd.offset + (uint64_t)((const uint8_t *)entry.data - rd.data), &l);
    bool give_initrd = o->flags & NS_SPAWN_GIVE_INITRD;
    uint64_t nmem = 2 + (heap_pages != 0);
    uint64_t mem_end = NS_SLOT_FIRST_FREE + nmem + give_initrd;
    uint64_t cspace_slots = mem_end + free_slots;
    if (cspace_slots > NS_SLOTS_MAX)
        return NS_ERR_INVALID_ARG;

    struct build b = {.parent_bank = parent_bank};
    e = alloc_slots(&b);
    if (e == NS_OK)
        e = ns_bank_create(parent_bank, b.slot[B_BANK], bank_pages);
    if (e != NS_OK)
        return fail(&b, e);
    b.bank_made = true;
    if ((e = ns_cspace_create(b.slot[B_BANK], b.slot[B_CS], cspace_slots)) != NS_OK ||
        (e = ns_aspace_create(b.slot[B_BANK], b.slot[B_AS])) != NS_OK ||
        (e = ns_thread_create(b.slot[B_BANK], b.slot[B_TH], b.slot[B_CS], b.slot[B_AS])) != NS_OK)
        return fail(&b, e);

    /* The memory objects. */
    if (!o->pager && (e = ns_notification_create(b.slot[B_BANK], b.slot[B_NTFN])) != NS_OK)
        return fail(&b, e);
    if ((e = make_object(&b, o, b.slot[B_IMG], l.img_pages, l.written)) != NS_OK ||
        (e = make_object(&b, o, b.slot[B_STK], stack_pages, 0)) != NS_OK ||
        (heap_pages && (e = make_object(&b, o, b.slot[B_HEAP], heap_pages, 0)) != NS_OK))
        return fail(&b, e);

    /* The image: process info, then the segments that are copied. */
    struct ns_procinfo pi = {
        .magic = NS_PROCINFO_MAGIC,
        .arg = o->arg,
        .cspace_slots = cspace_slots,
        .free_slot_first = mem_end,
        .free_slot_end = cspace_slots,
        .mem_slot_first = NS_SLOT_FIRST_FREE,
        .mem_slot_count = nmem,
        .stack_top = NS_STACK_TOP,
        .stack_pages = stack_pages,
        .heap_va = heap_pages ? NS_HEAP_VA : 0,
        .heap_pages = heap_pages,
        .initrd_slot = give_initrd ? NS_SLOT_FIRST_FREE + nmem : 0,
        .initrd_va = give_initrd ? NS_INITRD_VA + rd.offset : 0,
        .initrd_size = give_initrd ? rd.size : 0,
        .initrd_offset = give_initrd ? rd.offset : 0,
        .ncaps = o->ncaps,
    };
    memcpy(pi.name, name, strlen(name) + 1);
    if ((e = write_page(&b, 0, &pi, 0, sizeof(pi))) != NS_OK)
        return fail(&b, e);
    for (unsigned i = 0; i < info.nseg; i++)
        if (!l.in_place[i] && (e = copy_segment(&b, entry.data, &info.seg[i], l.first[i])) != NS_OK)
            return fail(&b, e);

    /* The child's address space. */
    for (unsigned i = 0; i < info.nseg; i++) {
        const struct elf_segment *s = &info.seg[i];
        uint64_t va = s->vaddr & ~(PAGE_SIZE - 1);
        e = l.in_place[i]
                ? map_child(&b, rd.slot,
                            (l.file_off + s->offset - s->vaddr % PAGE_SIZE) / PAGE_SIZE, va,
                            seg_pages(s), seg_rights(s->flags))
                : map_child(&b, b.slot[B_IMG], l.first[i], va, seg_pages(s), seg_rights(s->flags));
        if (e != NS_OK)
            return fail(&b, e);
    }
    const unsigned long rw = NS_RIGHT_READ | NS_RIGHT_WRITE;
    if ((e = map_child(&b, b.slot[B_IMG], 0, NS_PROCINFO_VA, 1, NS_RIGHT_READ)) != NS_OK ||
        (e = map_child(&b, b.slot[B_STK], 0, NS_STACK_TOP - stack_pages * PAGE_SIZE, stack_pages,
                       rw)) != NS_OK ||
        (heap_pages &&
         (e = map_child(&b, b.slot[B_HEAP], 0, NS_HEAP_VA, heap_pages, rw)) != NS_OK) ||
        (give_initrd && (e = map_child(&b, rd.slot, 0, NS_INITRD_VA,
                                       (rd.offset + rd.size + PAGE_SIZE - 1) / PAGE_SIZE,
                                       NS_RIGHT_READ)) != NS_OK))
        return fail(&b, e);

    /* Its own objects at the well-known slots, its memory objects after
     * them (no MANAGE: the child manages none of its own memory), then what
     * the caller gives. */
    static const unsigned long self_slot[4] = {NS_SLOT_SELF_THREAD, NS_SLOT_SELF_ASPACE,
                                               NS_SLOT_SELF_CSPACE, NS_SLOT_ROOT_BANK};
    const unsigned long mine[4] = {b.slot[B_TH], b.slot[B_AS], b.slot[B_CS], b.slot[B_BANK]};
    for (unsigned i = 0; i < 4; i++)
        if ((e = ns_cap_transfer(mine[i], b.slot[B_CS], self_slot[i], NS_RIGHTS_ALL)) != NS_OK)
            return fail(&b, e);
    const unsigned long mem[3] = {b.slot[B_IMG], b.slot[B_STK], b.slot[B_HEAP]};
    const unsigned long rwx = NS_RIGHT_READ | NS_RIGHT_WRITE | NS_RIGHT_EXEC;
    for (unsigned i = 0; i < nmem; i++)
        if ((e = ns_cap_transfer(mem[i], b.slot[B_CS], NS_SLOT_FIRST_FREE + i, rwx)) != NS_OK)
            return fail(&b, e);
    if (give_initrd && (e = ns_cap_transfer(rd.slot, b.slot[B_CS], pi.initrd_slot,
                                            NS_RIGHT_READ | NS_RIGHT_EXEC)) != NS_OK)
        return fail(&b, e);
    for (unsigned i = 0; i < o->ncaps; i++)
        if ((e = ns_cap_transfer(o->caps[i].src, b.slot[B_CS], o->caps[i].dst,
                                 o->caps[i].rights)) != NS_OK)
            return fail(&b, e);

    if (o->priority && (e = ns_thread_set_prio(b.slot[B_TH], o->priority)) != NS_OK)
        return fail(&b, e);
    /* Copied text went in through data writes: make instruction fetch on
     * this hart (where the kernel queues the new thread) see it. */
    asm volatile(".option push\n.option arch, +zifencei\nfence.i\n.option pop" ::: "memory");
    if ((e = ns_thread_start(b.slot[B_TH], info.entry, NS_STACK_TOP, NS_PROCINFO_VA)) != NS_OK)
        return fail(&b, e);

    /* The thread holds its spaces and the child holds copies of everything:
     * keep only the thread and the bank. */
    out->thread = b.slot[B_TH];
    out->bank = b.slot[B_BANK];
    out->parent_bank = parent_bank;
    out->state = NS_THREAD_RUNNABLE;
    out->exited = false;
    out->exit_status = 0;
    out->reclaimed_bytes = 0;
    b.slot[B_TH] = b.slot[B_BANK] = 0;
    return release_slots(&b);
}

/* How did a stopped thread stop? exit() leaves its marker (spawn.h). */
static void read_exit(struct ns_process *p)
{
    struct ns_regs r;
    ns_touch(&r, sizeof(r), 1);
    p->exited = ns_thread_read_regs(p->thread, &r) == NS_OK && r.x[17] == NS_SYS_THREAD_EXIT &&
                r.x[12] == NS_EXIT_MARKER;
    p->exit_status = p->exited ? (int)r.x[11] : 0;
}

long ns_process_wait(struct ns_process *p, uint64_t timeout_us)
{
    uint64_t start = ns_clock_us();
    uint64_t nap = 1000;
    for (;;) {
        unsigned long state;
        long e = ns_thread_info(p->thread, &state, NULL);
        if (e != NS_OK)
            return e;
        p->state = state;
        if (state == NS_THREAD_STOPPED) {
            read_exit(p);
            return NS_OK;
        }
        uint64_t waited = ns_clock_us() - start;
        if (waited >= timeout_us)
            return NS_ERR_WOULD_BLOCK;
        uint64_t left = timeout_us - waited;
        e = ns_sleep_us(nap < left ? nap : left);
        if (e != NS_OK)
            return e;
        /* Short children are seen quickly, long ones cost few polls. */
        if (nap < 16000)
            nap *= 2;
    }
}

long ns_process_bank_used(const struct ns_process *p, uint64_t *used)
{
    return ns_bank_info(p->bank, NULL, used);
}

long ns_process_destroy(struct ns_process *p)
{
    uint64_t before, after;
    long e = ns_bank_info(p->parent_bank, NULL, &before);
    if (e != NS_OK)
        return e;
    e = ns_bank_destroy(p->bank);
    if (e != NS_OK)
        return e;
    long e1 = ns_slot_free(p->thread);
    long e2 = ns_slot_free(p->bank);
    p->thread = p->bank = 0;
    if ((e = ns_bank_info(p->parent_bank, NULL, &after)) != NS_OK)
        return e;
    p->reclaimed_bytes = before - after;
    return e1 != NS_OK ? e1 : e2;
}
