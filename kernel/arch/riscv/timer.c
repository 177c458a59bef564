/* The periodic tick: the SBI timer programmed TIMER_HZ times a second from
 * the device tree's timebase-frequency. A late tick is not "caught up"
 * (time goes on from now), so a long stall costs ticks rather than a storm
 * of back-to-back interrupts. */
#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/arch/riscv/smp.h"
#include "kernel/arch/riscv/tlb.h"
#include "kernel/core/pin_obj.h"
#include "kernel/core/sched.h"
#include "memobj/memobj.h"
#include "sbi/sbi.h"

static uint64_t tick_interval;

void timer_init(struct hart *h, uint64_t timebase_hz)
{
    tick_interval = timebase_hz / TIMER_HZ;
    if (tick_interval == 0)
        tick_interval = 1;
    h->next_tick = read_time() + tick_interval;
    sbi_set_timer(h->next_tick);
    csr_set(sie, SIE_STIE);
}

void timer_interrupt(struct hart *h)
{
    uint64_t now = read_time();
    h->ticks++;
    h->next_tick += tick_interval;
    if (h->next_tick <= now)
        h->next_tick = now + tick_interval;
    sbi_set_timer(h->next_tick);
    tlb_tick(h);
    if (h->sched) {
        sched_tick(h->sched, now);
        if (h->index == smp_hart(0)->index) { /* pageout's clock, leases: one hart is enough */
            memobj_tick(h, now);
            pin_tick(now);
        }
    }
}

uint64_t timer_now(void)
{
    return read_time();
}

uint64_t timer_ticks(const struct hart *h)
{
    return h->ticks;
}
