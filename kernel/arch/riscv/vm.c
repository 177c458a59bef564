/* The final kernel page table.
 *
 *   image:      text r-x, rodata r--, data and BSS rw-, the page under the
 *               boot stack unmapped (the guard), the boot stack rw-;
 *   direct map: every RAM range rw- except the no-map reserved regions (the
 *               firmware's, which PMP would refuse anyway) and the kernel
 *               image, which is mapped r-- there so no alias of the text is
 *               ever writable;
 *   devices:    each device register range the platform names, rw-.
 * No mapping is both writable and executable. Large pages are used wherever
 * alignment allows. */
#include "kernel/arch/riscv/vm.h"

#include <string.h>

#include "frames/frame_alloc.h"
#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/sv39.h"
#include "kernel/boot/panic.h"
#include "kernel/boot/platform.h"

#define KFLAGS     (PTE_A | PTE_D | PTE_G)
#define MAX_PIECES 64

static uint64_t kernel_root;
static struct vm_stats *cur_stats;

static void *ops_p2v(uint64_t pa, void *ctx)
{
    (void)ctx;
    return pa_to_va(pa);
}

static bool ops_alloc(uint64_t *pa, void *ctx)
{
    if (frame_alloc((struct frame_allocator *)ctx, pa) != FRAME_OK)
        return false;
    memset(pa_to_va(*pa), 0, PAGE_SIZE);
    cur_stats->tables++;
    return true;
}

static void map_or_panic(const struct sv39_ops *ops, uint64_t va, uint64_t pa, uint64_t size,
                         uint64_t flags, const char *what)
{
    enum sv39_err e = sv39_map(ops, kernel_root, va, pa, size, flags | KFLAGS, true);
    if (e != SV39_OK)
        panic("vm: cannot map %s [%#lx, %#lx): %s", what, (unsigned long)va,
              (unsigned long)(va + size), sv39_strerror(e));
}

struct piece {
    uint64_t base, end, flags;
};

/* Remove [cb, ce) from the pieces, optionally re-adding it with `flags`. */
static unsigned carve(struct piece *p, unsigned n, uint64_t cb, uint64_t ce, uint64_t flags,
                      bool keep)
{
    struct piece out[MAX_PIECES];
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t b = p[i].base, e = p[i].end;
        if (ce <= b || cb >= e) {
            out[m++] = p[i];
            continue;
        }
        if (m + 3 > MAX_PIECES)
            panic("vm: memory map too fragmented");
        if (b < cb)
            out[m++] = (struct piece){b, cb, p[i].flags};
        if (keep)
            out[m++] = (struct piece){cb > b ? cb : b, ce < e ? ce : e, flags};
        if (ce < e)
            out[m++] = (struct piece){ce, e, p[i].flags};
    }
    memcpy(p, out, m * sizeof(*p));
    return m;
}

static uint64_t page_down(uint64_t a)
{
    return a & ~(uint64_t)(PAGE_SIZE - 1);
}
static uint64_t page_up(uint64_t a)
{
    return (a + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
}

static void map_device(const struct sv39_ops *ops, uint64_t base, uint64_t size)
{
    if (!size)
        return;
    cur_stats->device_ranges++;
    /* Usually nothing else shares the range: map it in one go, with large
     * pages where they fit (the PLIC alone spans 64 MiB). */
    uint64_t b = page_down(base), e = page_up(base + size);
    if (sv39_map(ops, kernel_root, DIRECT_MAP_BASE + b, b, e - b, PTE_R | PTE_W | KFLAGS, true) ==
        SV39_OK)
        return;
    for (uint64_t pa = page_down(base); pa < page_up(base + size); pa += PAGE_SIZE) {
        uint64_t got, flags;
        int level;
        if (sv39_lookup(ops, kernel_root, DIRECT_MAP_BASE + pa, &got, &flags, &level))
            continue; /* shared with an earlier device (or RAM) */
        map_or_panic(ops, DIRECT_MAP_BASE + pa, pa, PAGE_SIZE, PTE_R | PTE_W, "device");
    }
}

void vm_init(const struct platform *p, struct frame_allocator *fa, uint64_t load_pa,
             uint64_t dtb_pa, uint64_t dtb_size, struct vm_stats *stats)
{
    struct sv39_ops ops = {.phys_to_virt = ops_p2v, .alloc_table = ops_alloc, .ctx = fa};
    memset(stats, 0, sizeof(*stats));
    cur_stats = stats;
    if (!ops_alloc(&kernel_root, fa))
        panic("vm: no memory for the kernel page table");
    stats->root_pa = kernel_root;

#define IMAGE(sym) ((uint64_t)(uintptr_t)(sym))
#define PA_OF(sym) (load_pa + (IMAGE(sym) - KERNEL_VBASE))
    map_or_panic(&ops, IMAGE(_start), PA_OF(_start), IMAGE(_text_end) - IMAGE(_start),
                 PTE_R | PTE_X, "text");
    map_or_panic(&ops, IMAGE(_text_end), PA_OF(_text_end), IMAGE(_rodata_end) - IMAGE(_text_end),
                 PTE_R, "rodata");
    map_or_panic(&ops, IMAGE(_rodata_end), PA_OF(_rodata_end),
                 IMAGE(_stack_guard) - IMAGE(_rodata_end), PTE_R | PTE_W, "data");
    map_or_panic(&ops, IMAGE(_boot_stack_bottom), PA_OF(_boot_stack_bottom),
                 IMAGE(_kernel_end) - IMAGE(_boot_stack_bottom), PTE_R | PTE_W, "stack");

    uint64_t img_b = load_pa, img_e = page_up(PA_OF(_kernel_end));
    for (unsigned r = 0; r < p->mem_count; r++) {
        struct piece pieces[MAX_PIECES];
        uint64_t b = page_up(p->mem[r].base), e = page_down(p->mem[r].base + p->mem[r].size);
        if (e > DIRECT_MAP_SIZE)
            e = DIRECT_MAP_SIZE; /* beyond the direct map's reach: not mapped */
        if (b >= e)
            continue;
        pieces[0] = (struct piece){b, e, PTE_R | PTE_W};
        unsigned n = 1;
        for (unsigned i = 0; i < p->reserved_count; i++)
            if (p->reserved[i].no_map)
                n = carve(pieces, n, page_down(p->reserved[i].base),
                          page_up(p->reserved[i].base + p->reserved[i].size), 0, false);
        n = carve(pieces, n, img_b, img_e, PTE_R, true);
        for (unsigned i = 0; i < n; i++) {
            map_or_panic(&ops, DIRECT_MAP_BASE + pieces[i].base, pieces[i].base,
                         pieces[i].end - pieces[i].base, pieces[i].flags, "direct map");
            stats->direct_ranges++;
            stats->direct_bytes += pieces[i].end - pieces[i].base;
        }
    }

    for (unsigned i = 0; i < p->uart_count; i++)
        map_device(&ops, p->uarts[i].base, p->uarts[i].size);
    if (p->plic.present)
        map_device(&ops, p->plic.base, p->plic.size);
    for (unsigned i = 0; i < p->virtio_count; i++)
        map_device(&ops, p->virtio[i].base, p->virtio[i].size);
    if (p->test_finisher.present)
        map_device(&ops, p->test_finisher.base, p->test_finisher.size);

    /* The device tree must stay readable: the platform description points
     * into it (bootargs). It normally sits in RAM, already mapped. */
    for (uint64_t pa = page_down(dtb_pa); pa < page_up(dtb_pa + dtb_size); pa += PAGE_SIZE) {
        uint64_t got, flags;
        int level;
        if (!sv39_lookup(&ops, kernel_root, DIRECT_MAP_BASE + pa, &got, &flags, &level))
            map_or_panic(&ops, DIRECT_MAP_BASE + pa, pa, PAGE_SIZE, PTE_R, "device tree");
    }

    asm volatile("sfence.vma" ::: "memory");
    csr_write(satp, SATP_MODE_SV39 | (kernel_root >> PAGE_SHIFT));
    asm volatile("sfence.vma" ::: "memory");
}

uint64_t vm_kernel_root(void)
{
    return kernel_root;
}

bool vm_kernel_lookup(uint64_t va, uint64_t *pa, uint64_t *flags)
{
    struct sv39_ops ops = {.phys_to_virt = ops_p2v};
    int level;
    return kernel_root && sv39_lookup(&ops, kernel_root, va, pa, flags, &level);
}
