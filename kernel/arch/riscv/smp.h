/* The other harts. The boot hart runs the whole boot; then smp_start()
 * brings every other hart the device tree offers (enabled, with Sv39) up
 * through SBI HSM into the kernel, each with its own struct hart, kernel
 * stack and emergency stack, and checks that each one answers an
 * inter-processor interrupt. Hart ids need not be contiguous, and the boot
 * hart can be any of them.
 *
 * What a secondary hart does once up is this module's to say and, today,
 * little: it waits in wfi and acknowledges IPIs. Scheduling threads on it
 * (per-hart run queues under a kernel lock, remote TLB shootdown) is the
 * next step, and will start from here. */
#ifndef NEWSYS_ARCH_RISCV_SMP_H
#define NEWSYS_ARCH_RISCV_SMP_H

#include <stdbool.h>
#include <stdint.h>

struct hart;
struct platform;

/* Start the other harts; `boot` is the boot hart, `load_pa` where the
 * image was loaded. Returns how many came up and answered an IPI; reports
 * each failure on the console (a hart that does not come up is left
 * alone: the boot goes on without it). */
unsigned smp_start(struct hart *boot, const struct platform *p, uint64_t load_pa);

/* Have waiting secondary `h` run fn(h, arg) and wait until it has (true),
 * or a second went by (false). For boot self-tests, before threads run
 * there. */
bool smp_call(struct hart *h, void (*fn)(struct hart *h, void *arg), void *arg);

/* selftest=tlb: a translation another hart holds goes when tlb.c says. */
bool smp_selftest_tlb(void);

/* The boot is over (the caller holds the kernel lock): the other harts
 * start their schedulers. */
void smp_release(void);

/* Harts running the kernel now (the boot hart included). */
unsigned smp_online(void);
struct hart *smp_hart(unsigned i);

#endif
