/* Interrupt sources of a RISC-V hart: the supervisor timer and the PLIC's
 * external interrupts. Handlers run with interrupts off, on the kernel
 * stack of whatever was interrupted. */
#ifndef NEWSYS_ARCH_RISCV_IRQ_H
#define NEWSYS_ARCH_RISCV_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct hart;
struct platform;

#define TIMER_HZ 100

void timer_init(struct hart *h, uint64_t timebase_hz);
void timer_interrupt(struct hart *h);
uint64_t timer_ticks(const struct hart *h);
/* The time counter now (the device tree's timebase-frequency). */
uint64_t timer_now(void);

enum irq_err { IRQ_OK = 0, IRQ_ERR_NO_PLIC, IRQ_ERR_BAD_IRQ, IRQ_ERR_BUSY, IRQ_ERR_NO_CONTEXT };
typedef void (*irq_handler_t)(uint32_t irq, void *ctx);

/* Map the PLIC's registers at `va` and set up this hart's S-mode context. */
enum irq_err plic_init(struct hart *h, const struct platform *p, uintptr_t va);
enum irq_err irq_register(struct hart *h, uint32_t irq, irq_handler_t fn, void *ctx);
void irq_unregister(struct hart *h, uint32_t irq);
void plic_dispatch(struct hart *h);
uint64_t irq_count(uint32_t irq);

static inline void irq_enable_local(void)
{
    asm volatile("csrs sstatus, 2" ::: "memory");
}
static inline void irq_disable_local(void)
{
    asm volatile("csrc sstatus, 2" ::: "memory");
}

/* Interrupts off, returning whether they were on, for a section that may
 * itself run with them off already. */
static inline unsigned long irq_save_local(void)
{
    unsigned long s;
    asm volatile("csrrci %0, sstatus, 2" : "=r"(s)::"memory");
    return s & 2;
}
static inline void irq_restore_local(unsigned long s)
{
    if (s)
        irq_enable_local();
}

#endif
