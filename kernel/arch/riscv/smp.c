/* Secondary harts (see smp.h). */
#include "kernel/arch/riscv/smp.h"
#include "kernel/core/klock.h"

#include <string.h>

#include "frames/frame_alloc.h"
#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/arch/riscv/layout.h"
#include "kernel/arch/riscv/vm.h"
#include "kernel/boot/platform.h"
#include "kernel/console/console.h"
#include "kernel/core/kmem.h"
#include "kernel/core/sched.h"
#include "sbi/sbi.h"

#define SECONDARY_STACK_PAGES   4 /* as the boot stack: 16 KiB */
#define SECONDARY_EMERG_PAGES   2
#define SECONDARY_START_TIMEOUT 1 /* seconds, for HSM start and for the IPI answer */

/* Read by secondary_start with paging off (entry.S): the final kernel
 * table, ASID 0. */
uint64_t smp_boot_satp;

static struct hart harts[PLATFORM_MAX_HARTS];
static uint64_t smp_timebase_hz;
static struct hart *online[PLATFORM_MAX_HARTS];
static unsigned online_count;

/* Set by each secondary, read by the boot hart: plain words, ordered by
 * fences (the only shared state until there is a kernel lock). */
static volatile uint32_t hart_up[PLATFORM_MAX_HARTS];
static volatile uint32_t ipis_seen[PLATFORM_MAX_HARTS];

/* A call for a waiting secondary to run (smp_call): posted with seq, done
 * when done catches up. */
static struct {
    void (*fn)(struct hart *h, void *arg);
    void *arg;
    volatile uint32_t seq, done;
} calls[PLATFORM_MAX_HARTS];

_Noreturn void secondary_main(struct hart *h);

static volatile uint32_t go; /* smp_release: the scheduler may start */
static struct sched scheds[PLATFORM_MAX_HARTS];

/* Past the boot: this hart's own run queues and tick, then the scheduler
 * (idle until a thread is placed here). */
static _Noreturn void secondary_run(struct hart *h)
{
    sched_init(&scheds[h->index]);
    h->sched = &scheds[h->index];
    timer_init(h, smp_timebase_hz);
    csr_set(sie, SIE_SSIE);
    kernel_lock(h);
    sched_run(h);
}

_Noreturn void secondary_main(struct hart *h)
{
    asm volatile("fence rw, rw" ::: "memory");
    hart_up[h->index] = 1;
    /* Only the software interrupt: with SIE clear, wfi still wakes for it,
     * and we look at sip ourselves instead of taking a trap. */
    csr_write(sie, SIE_SSIE);
    for (;;) {
        if (go) {
            asm volatile("fence rw, rw" ::: "memory");
            secondary_run(h);
        }
        asm volatile("wfi");
        if (csr_read(sip) & SIE_SSIE) {
            csr_clear(sip, SIP_SSIP);
            asm volatile("fence rw, rw" ::: "memory");
            ipis_seen[h->index]++;
            uint32_t seq = calls[h->index].seq;
            if (seq != calls[h->index].done) {
                calls[h->index].fn(h, calls[h->index].arg);
                asm volatile("fence rw, rw" ::: "memory");
                calls[h->index].done = seq;
            }
        }
    }
}

static void *alloc_stack(unsigned pages)
{
    uint64_t pa;
    if (frame_alloc_contig(kmem_frames(), pages, 1, &pa) != FRAME_OK)
        return NULL;
    return pa_to_va(pa);
}

static bool wait_for(volatile uint32_t *word, uint32_t value, uint64_t timebase_hz)
{
    uint64_t start = timer_now();
    while (*word != value)
        if (timer_now() - start > SECONDARY_START_TIMEOUT * timebase_hz)
            return false;
    asm volatile("fence rw, rw" ::: "memory");
    return true;
}

/* Start hart `i` of the platform and see it answer an IPI. */
static bool start_one(const struct platform *p, unsigned i, uint64_t entry_pa)
{
    const struct platform_hart *ph = &p->harts[i];
    struct hart *h = &harts[i];
    char *stack = alloc_stack(SECONDARY_STACK_PAGES);
    char *emerg = alloc_stack(SECONDARY_EMERG_PAGES);
    if (!stack || !emerg) {
        kprintf("smp: hart %lu: no memory for its stacks\n", (unsigned long)ph->hartid);
        return false;
    }
    memset(h, 0, sizeof(*h));
    h->hartid = ph->hartid;
    h->index = i;
    h->plic_context = -1;
    h->stack_limit = (unsigned long)stack;
    h->stack_top = h->kstack_top = (unsigned long)stack + SECONDARY_STACK_PAGES * PAGE_SIZE;
    h->emergency_sp = (unsigned long)emerg + SECONDARY_EMERG_PAGES * PAGE_SIZE;
    asm volatile("fence rw, rw" ::: "memory");
    long e = sbi_hart_start(ph->hartid, entry_pa, (unsigned long)h);
    if (e) {
        kprintf("smp: hart %lu: HSM start failed: %s\n", (unsigned long)ph->hartid,
                sbi_strerror(e));
        return false;
    }
    if (!wait_for(&hart_up[i], 1, p->timebase_hz)) {
        kprintf("smp: hart %lu: started, never reached the kernel\n", (unsigned long)ph->hartid);
        return false;
    }
    uint32_t before = ipis_seen[i];
    e = sbi_send_ipi(1, ph->hartid);
    if (e || !wait_for(&ipis_seen[i], before + 1, p->timebase_hz)) {
        kprintf("smp: hart %lu: in the kernel but did not answer an IPI (%s)\n",
                (unsigned long)ph->hartid, e ? sbi_strerror(e) : "timeout");
        return false;
    }
    return true;
}

unsigned smp_start(struct hart *boot, const struct platform *p, uint64_t load_pa)
{
    extern char secondary_start[];
    online[0] = boot;
    online_count = 1;
    if (!sbi_features.hsm || !sbi_features.ipi) {
        kprintf("smp: no SBI %s: the other harts stay in the firmware\n",
                sbi_features.hsm ? "IPI" : "HSM");
        return 1;
    }
    smp_timebase_hz = p->timebase_hz;
    smp_boot_satp = SATP_MODE_SV39 | (vm_kernel_root() >> PAGE_SHIFT);
    asm volatile("fence rw, rw" ::: "memory");
    uint64_t entry_pa = load_pa + (uint64_t)(secondary_start - _start);
    unsigned tried = 0;
    for (unsigned i = 0; i < p->hart_count; i++) {
        const struct platform_hart *ph = &p->harts[i];
        if (i == boot->index || !ph->enabled || !ph->sv39)
            continue;
        tried++;
        if (start_one(p, i, entry_pa))
            online[online_count++] = &harts[i];
    }
    kprintf("smp: %u of %u harts online (boot hart %lu", online_count, tried + 1,
            (unsigned long)boot->hartid);
    if (online_count > 1) {
        kprintf("; started by HSM, answering IPIs:");
        for (unsigned i = 1; i < online_count; i++)
            kprintf(" %lu", (unsigned long)online[i]->hartid);
    }
    kprintf(")\n");
    return online_count;
}

bool smp_call(struct hart *h, void (*fn)(struct hart *h, void *arg), void *arg)
{
    unsigned i = h->index;
    calls[i].fn = fn;
    calls[i].arg = arg;
    asm volatile("fence rw, rw" ::: "memory");
    uint32_t seq = calls[i].seq + 1;
    calls[i].seq = seq;
    asm volatile("fence rw, rw" ::: "memory");
    return sbi_send_ipi(1, h->hartid) == 0 && wait_for(&calls[i].done, seq, smp_timebase_hz);
}

void smp_release(void)
{
    asm volatile("fence rw, rw" ::: "memory");
    go = 1;
    for (unsigned i = 1; i < online_count; i++)
        sbi_send_ipi(1, online[i]->hartid);
}

unsigned smp_online(void)
{
    return online_count;
}

struct hart *smp_hart(unsigned i)
{
    return i < online_count ? online[i] : NULL;
}

/* The kernel lock's sleep and wake-up (klock.h): an IPI, and wfi with only
 * the software interrupt enabled. A trap waiting for the lock very often
 * has an interrupt pending - its own cause (the timer, an IPI) is cleared
 * only by its handler, under the lock - and wfi would return at once.
 * Dropping a pending IPI here loses nothing: an IPI asks a hart to enter
 * the kernel and look at its run queue, which this hart, waiting for the
 * lock, is doing; the timer and the PLIC stay pending until sie is back. */
void klock_park_prepare(int who)
{
    (void)who;
    csr_clear(sip, SIP_SSIP);
}

void klock_park(int who)
{
    (void)who;
    unsigned long enabled = csr_read(sie);
    csr_write(sie, SIE_SSIE);
    asm volatile("wfi" ::: "memory");
    csr_write(sie, enabled);
    /* The wake-up is spent: left pending it would trap as soon as the
     * hart enabled interrupts, and take the lock once more for nothing. */
    csr_clear(sip, SIP_SSIP);
}

void klock_unpark(int who)
{
    for (unsigned i = 0; i < online_count; i++)
        if ((int)online[i]->index == who) {
            sbi_send_ipi(1, online[i]->hartid);
            return;
        }
}
