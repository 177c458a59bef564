/* Boot: from the device tree to a running kernel.
 *
 * entry.S and early.c bring us here on the boot hart, paging on, running at
 * KERNEL_VBASE on the early tables. kmain() then
 *   1. probes SBI and prints through the SBI console;
 *   2. validates the device tree and turns it into a struct platform -
 *      nothing about the board is known before this point or hard-coded;
 *   3. moves the console to the stdout-path UART;
 *   4. hands RAM minus every reserved range to the frame allocator;
 *   5. switches to the final W^X page tables (vm.c);
 *   6. starts the timer tick and the PLIC, and checks both really interrupt;
 *   7. lists the initrd and checks the init program's ELF image.
 * Every step reports on the console; the banner lines are parsed by the boot
 * tests, so keep their shape. Then the other harts come up (smp.c) and
 * wait; threads run on the boot hart. */
#include <string.h>

#include "frames/frame_alloc.h"
#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/arch/riscv/smp.h"
#include "kernel/arch/riscv/trap.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/boot/initrd.h"
#include "kernel/boot/panic.h"
#include "kernel/boot/platform.h"
#include "kernel/boot/rootproc.h"
#include "kernel/boot/selftest.h"
#include "kernel/console/console.h"
#include "kernel/core/aspace.h"
#include "kernel/core/bank_obj.h"
#include "kernel/core/cspace_obj.h"
#include "kernel/core/frame_obj.h"
#include "kernel/core/pin_obj.h"
#include "kernel/core/ipc.h"
#include "kernel/core/objframe_obj.h"
#include "memobj/memobj.h"
#include "kernel/core/thread.h"
#include "kernel/core/disk_obj.h"
#include "kernel/core/kmem.h"
#include "kernel/core/sched.h"
#include "kernel/lib/cmdline.h"
#include "kernel/lib/fdt.h"
#include "sbi/sbi.h"
#include "virtio-blk/blk.h"

#ifndef NEWSYS_VERSION
#define NEWSYS_VERSION "unknown"
#endif

#define FDT_MAX_SIZE (1u << 20)

struct hart boot_hart;
static char emergency_stack[EMERGENCY_STACK_SIZE] __attribute__((aligned(16)));

static struct fdt fdt;
static struct platform platform;
static struct frame_allocator frames;
static struct sched boot_sched;

void syscall_set_timebase(uint64_t hz);

void kmain(uint64_t hartid, uint64_t dtb_pa, uint64_t load_pa);

static uint32_t be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void print_size(uint64_t bytes)
{
    if (bytes >= (1ull << 30) && !(bytes & ((1ull << 30) - 1)))
        kprintf("%lu GiB", (unsigned long)(bytes >> 30));
    else if (bytes >= (1ull << 20))
        kprintf("%lu MiB", (unsigned long)(bytes >> 20));
    else
        kprintf("%lu KiB", (unsigned long)(bytes >> 10));
}

static void banner_sbi(void)
{
    const struct sbi_features *f = &sbi_features;
    if (!f->base) {
        kprintf("sbi: legacy (v0.1) firmware\n");
        return;
    }
    kprintf("sbi: %s %lu.%lu, spec %lu.%lu; extensions:%s%s%s%s%s%s%s\n", sbi_impl_name(f->impl_id),
            f->impl_version >> 16, f->impl_version & 0xffff, (f->spec_version >> 24) & 0x7f,
            f->spec_version & 0xffffff, f->time ? " time" : "", f->ipi ? " ipi" : "",
            f->rfence ? " rfence" : "", f->hsm ? " hsm" : "", f->srst ? " srst" : "",
            f->dbcn ? " dbcn" : "", f->legacy_console ? " legacy-console" : "");
}

static uint32_t read_fdt(uint64_t dtb_pa)
{
    if (dtb_pa == 0 || dtb_pa >= DIRECT_MAP_SIZE || dtb_pa & 3)
        panic("no usable device tree pointer (a1 = %#lx)", (unsigned long)dtb_pa);
    const void *blob = pa_to_va(dtb_pa);
    uint32_t size = be32((const uint8_t *)blob + 4);
    if (size > FDT_MAX_SIZE)
        panic("device tree at %#lx claims %u bytes (limit %u)", (unsigned long)dtb_pa, size,
              FDT_MAX_SIZE);
    enum fdt_err e = fdt_open(&fdt, blob, size);
    if (e != FDT_OK)
        panic("device tree at %#lx rejected: %s", (unsigned long)dtb_pa, fdt_strerror(e));
    enum fdt_err detail = FDT_OK;
    enum platform_err pe = platform_parse(&fdt, &platform, &detail);
    if (pe != PLATFORM_OK)
        panic("device tree: %s (%s)", platform_strerror(pe), fdt_strerror(detail));
    return size;
}

static unsigned find_hart(uint64_t hartid)
{
    for (unsigned i = 0; i < platform.hart_count; i++)
        if (platform.harts[i].hartid == hartid)
            return i;
    panic("boot hart %lu is not in the device tree", (unsigned long)hartid);
}

static void banner_platform(struct hart *h)
{
    const struct platform *p = &platform;
    kprintf("model: %s\n", p->model[0] ? p->model : "(none)");
    kprintf("bootargs: \"%s\"\n", p->bootargs);
    for (unsigned i = 0; i < p->mem_count; i++) {
        kprintf("memory: %#018lx-%#018lx (", (unsigned long)p->mem[i].base,
                (unsigned long)(p->mem[i].base + p->mem[i].size));
        print_size(p->mem[i].size);
        kprintf(")\n");
    }
    for (unsigned i = 0; i < p->reserved_count; i++)
        kprintf("reserved: %#018lx-%#018lx %s%s\n", (unsigned long)p->reserved[i].base,
                (unsigned long)(p->reserved[i].base + p->reserved[i].size), p->reserved[i].name,
                p->reserved[i].no_map ? " (no-map)" : "");
    kprintf("timebase: %lu Hz\n", (unsigned long)p->timebase_hz);
    kprintf("harts: %u, boot hart %lu (index %u)", p->hart_count, (unsigned long)h->hartid,
            h->index);
    for (unsigned i = 0; i < p->hart_count; i++)
        kprintf(" [%lu%s%s]", (unsigned long)p->harts[i].hartid, p->harts[i].sv39 ? "" : " no-mmu",
                p->harts[i].enabled ? "" : " disabled");
    kprintf("\n");
    /* The other harts stay parked in the firmware until SMP bring-up; ask
     * HSM what it thinks of each, which also checks the extension works. */
    if (sbi_features.hsm) {
        kprintf("hsm:");
        for (unsigned i = 0; i < p->hart_count; i++) {
            enum sbi_hart_state st;
            long e = sbi_hart_status(p->harts[i].hartid, &st);
            static const char *const names[] = {"started", "stopped", "start-pending",
                                                "stop-pending", "suspended"};
            kprintf(" %lu=%s", (unsigned long)p->harts[i].hartid,
                    e                  ? sbi_strerror(e)
                    : (unsigned)st < 5 ? names[st]
                                       : "?");
        }
        kprintf("\n");
    }
    if (p->plic.present)
        kprintf("plic: %#lx, %u sources, S-context %d\n", (unsigned long)p->plic.base, p->plic.ndev,
                p->plic.s_context[h->index]);
    for (unsigned i = 0; i < p->uart_count; i++)
        kprintf("uart: %s @%#lx irq %u shift %u width %u%s\n",
                p->uarts[i].kind == UART_SIFIVE   ? "sifive,uart0"
                : p->uarts[i].kind == UART_DW_APB ? "snps,dw-apb-uart"
                                                  : "ns16550a",
                (unsigned long)p->uarts[i].base, p->uarts[i].irq, p->uarts[i].reg_shift,
                p->uarts[i].reg_io_width, (int)i == p->stdout_uart ? " (stdout)" : "");
    for (unsigned i = 0; i < p->virtio_count; i++)
        kprintf("virtio-mmio: %#lx irq %u\n", (unsigned long)p->virtio[i].base, p->virtio[i].irq);
    if (p->test_finisher.present)
        kprintf("test-finisher: %#lx\n", (unsigned long)p->test_finisher.base);
    if (p->initrd_end)
        kprintf("initrd: %#lx-%#lx\n", (unsigned long)p->initrd_start,
                (unsigned long)p->initrd_end);
    if (p->dropped)
        kprintf("warning: %u device-tree entries ignored (tables full)\n", p->dropped);
}

static void *frames_p2v(uint64_t pa, void *ctx)
{
    (void)ctx;
    return pa_to_va(pa);
}

static void init_frames(uint64_t load_pa, uint64_t dtb_pa, uint32_t dtb_size)
{
    struct frame_range ram[PLATFORM_MAX_MEM];
    struct frame_range rsv[PLATFORM_MAX_RESERVED + 3];
    unsigned nr = 0;
    for (unsigned i = 0; i < platform.mem_count; i++)
        ram[i] =
            (struct frame_range){platform.mem[i].base, platform.mem[i].base + platform.mem[i].size};
    for (unsigned i = 0; i < platform.reserved_count; i++)
        rsv[nr++] = (struct frame_range){platform.reserved[i].base,
                                         platform.reserved[i].base + platform.reserved[i].size};
    rsv[nr++] = (struct frame_range){load_pa, load_pa + (uint64_t)(_kernel_end - _start)};
    rsv[nr++] = (struct frame_range){dtb_pa, dtb_pa + dtb_size};
    if (platform.initrd_end > platform.initrd_start)
        rsv[nr++] = (struct frame_range){platform.initrd_start, platform.initrd_end};
    kprintf("reserved: %#018lx-%#018lx kernel\n", (unsigned long)load_pa,
            (unsigned long)(load_pa + (uint64_t)(_kernel_end - _start)));
    kprintf("reserved: %#018lx-%#018lx device tree\n", (unsigned long)dtb_pa,
            (unsigned long)(dtb_pa + dtb_size));

    enum frame_err e =
        frame_alloc_init(&frames, ram, platform.mem_count, rsv, nr, frames_p2v, NULL);
    if (e != FRAME_OK)
        panic("frames: %s", frame_strerror(e));
    for (unsigned z = 0; z < frame_zone_count(&frames); z++) {
        uint64_t b, end, nfree;
        frame_zone_info(&frames, z, &b, &end, &nfree);
        kprintf("frames: zone %#lx-%#lx, %lu free\n", (unsigned long)b, (unsigned long)end,
                (unsigned long)nfree);
    }
    kprintf("frames: %lu free of %lu (%lu KiB free)\n", (unsigned long)frame_count_free(&frames),
            (unsigned long)frame_count_total(&frames),
            (unsigned long)(frame_count_free(&frames) * 4));
}

/* The UART's "transmitter empty" interrupt fires as soon as it is armed,
 * which lets boot prove the whole PLIC path (source -> context -> claim ->
 * handler -> complete) without outside input. */
static volatile unsigned uart_irqs;

static void uart_irq(uint32_t irq, void *ctx)
{
    (void)irq;
    (void)ctx;
    uintptr_t va;
    const struct platform_uart *u;
    const struct uart_driver *drv = console_uart(&va, &u);
    drv->irq_ack(va, u);
    drv->irq_tx_enable(va, u, false);
    uart_irqs++;
}

static void wait_ticks(struct hart *h, uint64_t n, uint64_t timeout_ticks)
{
    uint64_t start = read_time(), limit = timeout_ticks * (platform.timebase_hz / TIMER_HZ);
    uint64_t target = timer_ticks(h) + n;
    while (timer_ticks(h) < target && read_time() - start < limit)
        asm volatile("wfi");
}

static void start_interrupts(struct hart *h)
{
    trap_init();
    timer_init(h, platform.timebase_hz);
    irq_enable_local();
    uint64_t t0 = read_time();
    wait_ticks(h, 5, 50);
    uint64_t elapsed = read_time() - t0;
    kprintf("timer: %lu ticks at %u Hz in %lu us\n", (unsigned long)timer_ticks(h), TIMER_HZ,
            (unsigned long)(elapsed * 1000000 / platform.timebase_hz));

    if (!platform.plic.present) {
        kprintf("plic: none\n");
        return;
    }
    enum irq_err e = plic_init(h, &platform, (uintptr_t)pa_to_va(platform.plic.base));
    if (e != IRQ_OK) {
        kprintf("plic: cannot use (error %d)\n", e);
        return;
    }
    uintptr_t va;
    const struct platform_uart *u;
    const struct uart_driver *drv = console_uart(&va, &u);
    if (!drv || !u->irq) {
        kprintf("plic: no console UART interrupt to test with\n");
        return;
    }
    e = irq_register(h, u->irq, uart_irq, NULL);
    if (e != IRQ_OK) {
        kprintf("plic: cannot register irq %u (error %d)\n", u->irq, e);
        return;
    }
    drv->irq_tx_enable(va, u, true);
    for (uint64_t start = read_time();
         !uart_irqs && read_time() - start < platform.timebase_hz / 10;)
        asm volatile("wfi");
    drv->irq_tx_enable(va, u, false);
    irq_unregister(h, u->irq);
    kprintf("plic: uart irq %u %s (%lu claimed)\n", u->irq,
            uart_irqs ? "delivered" : "NOT delivered", (unsigned long)irq_count(u->irq));
}

void kmain(uint64_t hartid, uint64_t dtb_pa, uint64_t load_pa)
{
    struct hart *h = &boot_hart;
    h->hartid = hartid;
    h->stack_limit = (unsigned long)_boot_stack_bottom;
    h->stack_top = (unsigned long)_boot_stack_top;
    h->kstack_top = (unsigned long)_boot_stack_top;
    h->emergency_sp = (unsigned long)emergency_stack + sizeof(emergency_stack);

    sbi_init();
    console_init_sbi();
    kprintf("\nNewSys %s: hart %lu, loaded at %#lx, device tree at %#lx\n", NEWSYS_VERSION,
            (unsigned long)hartid, (unsigned long)load_pa, (unsigned long)dtb_pa);

    uint32_t dtb_size = read_fdt(dtb_pa);
    h->index = find_hart(hartid);
    if (platform.stdout_uart >= 0) {
        const struct platform_uart *u = &platform.uarts[platform.stdout_uart];
        if (!console_use_uart(u, (uintptr_t)pa_to_va(u->base)))
            kprintf("console: no driver for the stdout-path UART; staying on SBI\n");
    }
    kprintf("console: %s\n", console_name());
    banner_sbi();
    banner_platform(h);
    init_frames(load_pa, dtb_pa, dtb_size);

    struct vm_stats vs;
    vm_init(&platform, &frames, load_pa, dtb_pa, dtb_size, &vs);
    kprintf("vm: kernel page table at %#lx, %u tables, direct map %u ranges (%lu MiB), %u "
            "device ranges; text r-x, rodata r--, data rw-, stack guard unmapped\n",
            (unsigned long)vs.root_pa, vs.tables, vs.direct_ranges,
            (unsigned long)(vs.direct_bytes >> 20), vs.device_ranges);
    power_init(&platform, (unsigned long)(uintptr_t)pa_to_va(platform.test_finisher.base));
    asid_probe();

    start_interrupts(h);
    /* Disks need kernel pages for their queues, and the PLIC. */
    kmem_init(&frames);
    blk_init(h, &platform);
    disk_objects_init();
    smp_start(h, &platform, load_pa);

    bool ok = true, have_init = false;
    char arg[64], init_name[64];
    struct initrd rd = {0};
    if (!cmdline_get(platform.bootargs, "init", init_name, sizeof(init_name)))
        memcpy(init_name, "init", 5);
    if (platform.initrd_end > platform.initrd_start && platform.initrd_start < dtb_pa + dtb_size &&
        dtb_pa < platform.initrd_end) {
        /* Seen with QEMU virt at 64 MiB and OpenSBI fw_jump, which copies
         * the tree to a fixed 0x82200000 - where QEMU loaded the initrd. */
        kprintf("initrd: %#lx-%#lx overlaps the device tree at %#lx: the firmware put the tree "
                "over it (give the machine more memory, or boot with --bios dynamic)\n",
                (unsigned long)platform.initrd_start, (unsigned long)platform.initrd_end,
                (unsigned long)dtb_pa);
        ok = false;
    } else if (platform.initrd_end > platform.initrd_start) {
        rd = (struct initrd){pa_to_va(platform.initrd_start),
                             platform.initrd_end - platform.initrd_start};
        ok &= initrd_list(&rd);
        struct elf_info info;
        have_init = initrd_check_program(&rd, init_name, &info);
        ok &= have_init;
    } else {
        kprintf("initrd: none\n");
    }

    bool selftest = cmdline_get(platform.bootargs, "selftest", arg, sizeof(arg));
    if (selftest) {
        bool passed = selftest_run(arg);
        kprintf("selftest %s: %s\n", arg, passed ? "passed" : "FAILED");
        ok &= passed;
    }

    kprintf("NewSys: boot %s\n", ok ? "complete" : "FAILED");
    if (!ok || selftest || !have_init || cmdline_has(platform.bootargs, "noinit"))
        machine_shutdown(ok ? SHUTDOWN_OK : SHUTDOWN_FAILURE);

    /* Hand the machine to user mode: the kernel's own boot is over, and
     * from here on it only runs on behalf of traps. */
    thread_types_init();
    aspace_types_init();
    cspace_types_init();
    frame_types_init();
    pin_types_init();
    bank_types_init();
    ipc_types_init();
    memobj_types_init();
    objframe_types_init();
    syscall_set_timebase(platform.timebase_hz);
    memobj_set_timebase(platform.timebase_hz); /* deadlines: 1 MHz on sifive_u, not 10 */
    pin_set_timebase(platform.timebase_hz);
    sched_init(&boot_sched);
    h->sched = &boot_sched;
    kprintf("asid: %u bits\n", asid_bits());
    char ad[8];
    if (cmdline_get(platform.bootargs, "ad", ad, sizeof(ad))) {
        if (!strcmp(ad, "fault")) {
            aspace_set_ad_emulation(true);
            kprintf("vm: accessed bits by fault (emulating hardware that does not set them)\n");
        } else if (strcmp(ad, "hw")) {
            kprintf("vm: ad=%s: unknown, want ad=hw or ad=fault; keeping hw\n", ad);
        }
    }
    /* Let user mode read cycle, time and instret: benchmarks count
     * instructions with rdinstret (exact under QEMU -icount). */
    csr_write(scounteren, 7);
    if (!rootproc_start(h, &platform, &rd, init_name))
        machine_shutdown(SHUTDOWN_FAILURE);
    sched_go_smp(h);
    sched_run(h);
}
