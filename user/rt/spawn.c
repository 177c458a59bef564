/* ns_spawn and friends (see spawn.h for the contract and the child's view).
 *
 * The build keeps at most five capabilities in the caller's space at any
 * time (the child's bank, capability space, address space, thread, and the
 * frame being filled) and only two once the child runs; every frame is
 * handed over to the child's own space and the caller's copy deleted right
 * after it is mapped. All objects are charged to the child's sub-bank, so
 * a failure anywhere is undone by destroying that one bank. */
#include "user/rt/spawn.h"

#include <stdio.h>
#include <string.h>

#include "kernel/lib/cpio.h"
#include "kernel/lib/elf.h"
#include "user/rt/slots.h"

#define PAGE_SIZE 4096ull

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

/* The caller's slots for the child under construction (0: none). */
enum { B_BANK, B_CS, B_AS, B_TH, B_FR, B_NSLOTS };
struct build {
    unsigned long slot[B_NSLOTS];
    bool bank_made;
    unsigned long next_frame; /* the child's slot for the next frame */
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

/* Undo a failed build: the bank takes every object of the child with it
 * (the frame on the scratch page is unmapped by its destruction), then the
 * slots go. The original error is what the caller needs to see; a failure
 * of the undo itself would mean our own fresh capabilities stopped working,
 * which only a broken kernel does, so it does not replace it. */
static long fail(struct build *b, long err)
{
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

/* One page of the child: a frame from its bank, filled with `len` bytes of
 * `src` at `off` through the scratch mapping (the rest stays zero: frames
 * come zeroed), mapped at `va` in the child with `rights`, and handed to the
 * child's space with the same rights. */
static long load_page(struct build *b, uint64_t va, unsigned long rights, const void *src,
                      size_t off, size_t len)
{
    long e = ns_frame_alloc(b->slot[B_BANK], b->slot[B_FR]);
    if (e != NS_OK)
        return e;
    if (len) {
        e = ns_map_frame(NS_SLOT_SELF_ASPACE, b->slot[B_FR], NS_SPAWN_SCRATCH_VA,
                         NS_RIGHT_READ | NS_RIGHT_WRITE, NULL);
        if (e != NS_OK)
            return e;
        memcpy((uint8_t *)(uintptr_t)NS_SPAWN_SCRATCH_VA + off, src, len);
        e = ns_unmap(b->slot[B_FR]);
        if (e != NS_OK)
            return e;
    }
    unsigned long eff;
    e = ns_map_frame(b->slot[B_AS], b->slot[B_FR], va, rights, &eff);
    if (e != NS_OK)
        return e;
    if (eff != rights)
        return NS_ERR_NO_RIGHTS; /* our frame capability should carry every right */
    e = ns_cap_transfer(b->slot[B_FR], b->slot[B_CS], b->next_frame, rights);
    if (e != NS_OK)
        return e;
    b->next_frame++;
    return ns_cap_delete(b->slot[B_FR]);
}

static long load_segment(struct build *b, const uint8_t *file, const struct elf_segment *s)
{
    unsigned long rights = seg_rights(s->flags);
    uint64_t start = s->vaddr & ~(PAGE_SIZE - 1);
    uint64_t file_end = s->vaddr + s->filesz;
    for (uint64_t va = start; va < s->vaddr + s->memsz; va += PAGE_SIZE) {
        /* The part of [vaddr, vaddr + filesz) inside this page. */
        uint64_t lo = va > s->vaddr ? va : s->vaddr;
        uint64_t hi = va + PAGE_SIZE < file_end ? va + PAGE_SIZE : file_end;
        size_t len = lo < hi ? hi - lo : 0;
        long e = load_page(b, va, rights, file + s->offset + (lo - s->vaddr), lo - va, len);
        if (e != NS_OK)
            return e;
    }
    return NS_OK;
}

static uint64_t seg_pages(const struct elf_segment *s)
{
    uint64_t start = s->vaddr & ~(PAGE_SIZE - 1);
    uint64_t end = (s->vaddr + s->memsz + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    return (end - start) / PAGE_SIZE;
}

/* Find and check the program; NS_OK with *entry and *info filled. */
static long find_program(const char *name, struct cpio_entry *entry, struct elf_info *info)
{
    if (!name || !name[0] || strnlen(name, NS_SPAWN_NAME_MAX) == NS_SPAWN_NAME_MAX)
        return NS_ERR_INVALID_ARG;
    if (!ns_bootinfo || !ns_bootinfo->initrd_size)
        return NS_ERR_BAD_STATE;
    const void *rd = (const void *)(uintptr_t)ns_bootinfo->initrd_va;
    enum cpio_err ce = cpio_find(rd, ns_bootinfo->initrd_size, name, entry);
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

    struct cpio_entry entry;
    struct elf_info info;
    long e = find_program(name, &entry, &info);
    if (e != NS_OK)
        return e;
    e = check_caps(o);
    if (e != NS_OK)
        return e;
    uint64_t bank_pages = o->bank_pages ? o->bank_pages : NS_SPAWN_DEFAULT_BANK_PAGES;
    uint64_t stack_pages = o->stack_pages ? o->stack_pages : NS_SPAWN_DEFAULT_STACK_PAGES;
    uint64_t free_slots = o->free_slots ? o->free_slots : NS_SPAWN_DEFAULT_FREE_SLOTS;
    unsigned long parent_bank = o->parent_bank ? o->parent_bank : NS_SLOT_ROOT_BANK;
    if (stack_pages > NS_SPAWN_MAX_STACK_PAGES || free_slots > NS_SLOTS_MAX)
        return NS_ERR_INVALID_ARG;

    /* Every frame gets a slot in the child: image, stack, info page. The
     * ELF check bounds each segment to user space, so no sum wraps. */
    uint64_t nframes = stack_pages + 1;
    for (unsigned i = 0; i < info.nseg; i++)
        nframes += seg_pages(&info.seg[i]);
    uint64_t cspace_slots = NS_SLOT_FIRST_FREE + nframes + free_slots;
    if (cspace_slots > NS_SLOTS_MAX)
        return NS_ERR_INVALID_ARG;

    struct build b = {.next_frame = NS_SLOT_FIRST_FREE};
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

    for (unsigned i = 0; i < info.nseg; i++)
        if ((e = load_segment(&b, entry.data, &info.seg[i])) != NS_OK)
            return fail(&b, e);
    for (uint64_t i = 1; i <= stack_pages; i++)
        if ((e = load_page(&b, NS_STACK_TOP - i * PAGE_SIZE, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL,
                           0, 0)) != NS_OK)
            return fail(&b, e);

    struct ns_procinfo pi = {
        .magic = NS_PROCINFO_MAGIC,
        .arg = o->arg,
        .cspace_slots = cspace_slots,
        .free_slot_first = NS_SLOT_FIRST_FREE + nframes,
        .free_slot_end = cspace_slots,
        .frame_slot_first = NS_SLOT_FIRST_FREE,
        .frame_slot_count = nframes,
        .stack_top = NS_STACK_TOP,
        .stack_pages = stack_pages,
        .ncaps = o->ncaps,
    };
    memcpy(pi.name, name, strlen(name) + 1);
    if ((e = load_page(&b, NS_PROCINFO_VA, NS_RIGHT_READ, &pi, 0, sizeof(pi))) != NS_OK)
        return fail(&b, e);

    /* Its own objects at the well-known slots, then what the caller gives. */
    static const unsigned long self_slot[4] = {NS_SLOT_SELF_THREAD, NS_SLOT_SELF_ASPACE,
                                               NS_SLOT_SELF_CSPACE, NS_SLOT_ROOT_BANK};
    const unsigned long mine[4] = {b.slot[B_TH], b.slot[B_AS], b.slot[B_CS], b.slot[B_BANK]};
    for (unsigned i = 0; i < 4; i++)
        if ((e = ns_cap_transfer(mine[i], b.slot[B_CS], self_slot[i], NS_RIGHTS_ALL)) != NS_OK)
            return fail(&b, e);
    for (unsigned i = 0; i < o->ncaps; i++)
        if ((e = ns_cap_transfer(o->caps[i].src, b.slot[B_CS], o->caps[i].dst,
                                 o->caps[i].rights)) != NS_OK)
            return fail(&b, e);

    if (o->priority && (e = ns_thread_set_prio(b.slot[B_TH], o->priority)) != NS_OK)
        return fail(&b, e);
    /* The new text went in through data writes: make instruction fetch on
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
    out->reclaimed_bytes = 0;
    b.slot[B_TH] = b.slot[B_BANK] = 0;
    return release_slots(&b);
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
        if (state == NS_THREAD_STOPPED)
            return NS_OK;
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
