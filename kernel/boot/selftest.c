/* Boot self-tests (see selftest.h). */
#include "kernel/boot/selftest.h"

#include <string.h>

#include "kernel/arch/riscv/pte.h"
#include "kernel/arch/riscv/smp.h"
#include "kernel/arch/riscv/trap.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/console/console.h"
#include "virtio-blk/blk_boot.h"

static const char rodata_probe[] = "read-only";

static bool expect_write_faults(const char *what, volatile void *addr)
{
    unsigned char old = 0;
    bool readable = arch_probe_read8(addr, &old);
    bool wrote = arch_probe_write8(addr, old);
    kprintf("selftest wx: write to %s at %p %s\n", what, (void *)addr,
            wrote ? "SUCCEEDED (bad)" : "faulted (good)");
    (void)readable;
    return !wrote;
}

static bool wx(void)
{
    bool ok = true;
    ok &= expect_write_faults("kernel text", (volatile void *)(uintptr_t)&selftest_run);
    ok &= expect_write_faults("kernel rodata", (volatile void *)rodata_probe);
    uint64_t text_pa, flags;
    if (vm_kernel_lookup((uintptr_t)&selftest_run, &text_pa, &flags)) {
        ok &= expect_write_faults("direct-map alias of text", pa_to_va(text_pa));
    } else {
        kprintf("selftest wx: kernel text not mapped?\n");
        ok = false;
    }
    unsigned char c;
    bool guard_readable = arch_probe_read8(_stack_guard, &c);
    kprintf("selftest wx: read of the stack guard page %s\n",
            guard_readable ? "SUCCEEDED (bad)" : "faulted (good)");
    ok &= !guard_readable;

    /* Walk the image page by page: no page may be both W and X. */
    unsigned wx_pages = 0;
    for (uintptr_t va = (uintptr_t)_start; va < (uintptr_t)_kernel_end; va += PAGE_SIZE) {
        uint64_t pa;
        if (vm_kernel_lookup(va, &pa, &flags) && (flags & PTE_W) && (flags & PTE_X))
            wx_pages++;
    }
    kprintf("selftest wx: %u writable+executable pages in the image\n", wx_pages);
    ok &= wx_pages == 0;
    return ok;
}

static volatile unsigned long depth;

/* Recurses until `depth` reaches a limit no 16 KiB stack survives; the
 * limit only keeps the compiler from calling the recursion infinite. */
static unsigned long recurse(unsigned long n)
{
    volatile char pad[256];
    pad[0] = (char)n;
    depth = n;
    if (n > 1000000)
        return 0;
    return recurse(n + 1) + pad[0];
}

bool selftest_run(const char *name)
{
    if (!strcmp(name, "wx"))
        return wx();
    if (!strcmp(name, "panic")) {
        kprintf("selftest panic: storing to address 0\n");
        *(volatile int *)0 = 1;
        return false;
    }
    if (!strcmp(name, "stack")) {
        kprintf("selftest stack: recursing until the guard page\n");
        return recurse(0) == 0;
    }
    if (!strcmp(name, "tlb"))
        return smp_selftest_tlb();
    if (!strncmp(name, "blk", 3))
        return blk_selftest(name);
    kprintf("selftest: unknown test \"%s\"\n", name);
    return false;
}
