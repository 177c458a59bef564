/* The platform-level interrupt controller (riscv,plic0 / sifive,plic-1.0.0).
 *
 * Each hart's S-mode context has an enable bitmap, a priority threshold and a
 * claim/complete register; the context number comes from the device tree's
 * interrupts-extended (see platform.c). Sources get priority 1 and the
 * threshold is 0, so every enabled source interrupts. */
#include "kernel/arch/riscv/csr.h"
#include "kernel/arch/riscv/hart.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/boot/platform.h"

#define PLIC_MAX_IRQ 1024

#define PRIORITY(irq)    (4u * (irq))
#define ENABLE(ctx, irq) (0x2000u + 0x80u * (ctx) + 4u * ((irq) / 32))
#define THRESHOLD(ctx)   (0x200000u + 0x1000u * (ctx))
#define CLAIM(ctx)       (0x200004u + 0x1000u * (ctx))

static struct {
    uintptr_t va;
    uint32_t ndev;
    struct {
        irq_handler_t fn;
        void *ctx;
        uint64_t count;
    } irq[PLIC_MAX_IRQ];
} plic;

static volatile uint32_t *reg(uint32_t off)
{
    return (volatile uint32_t *)(plic.va + off);
}

enum irq_err plic_init(struct hart *h, const struct platform *p, uintptr_t va)
{
    if (!p->plic.present)
        return IRQ_ERR_NO_PLIC;
    int ctx = p->plic.s_context[h->index];
    if (ctx < 0)
        return IRQ_ERR_NO_CONTEXT;
    plic.va = va;
    plic.ndev = p->plic.ndev < PLIC_MAX_IRQ ? p->plic.ndev : PLIC_MAX_IRQ - 1;
    h->plic_context = ctx;
    for (uint32_t w = 0; w <= plic.ndev / 32; w++)
        *reg(ENABLE(ctx, w * 32)) = 0;
    *reg(THRESHOLD(ctx)) = 0;
    csr_set(sie, SIE_SEIE);
    return IRQ_OK;
}

enum irq_err irq_register(struct hart *h, uint32_t irq, irq_handler_t fn, void *ctx)
{
    if (!plic.va)
        return IRQ_ERR_NO_PLIC;
    if (irq == 0 || irq > plic.ndev)
        return IRQ_ERR_BAD_IRQ;
    if (plic.irq[irq].fn)
        return IRQ_ERR_BUSY;
    plic.irq[irq].fn = fn;
    plic.irq[irq].ctx = ctx;
    *reg(PRIORITY(irq)) = 1;
    *reg(ENABLE(h->plic_context, irq)) |= 1u << (irq % 32);
    return IRQ_OK;
}

void irq_unregister(struct hart *h, uint32_t irq)
{
    if (!plic.va || irq == 0 || irq > plic.ndev)
        return;
    *reg(ENABLE(h->plic_context, irq)) &= ~(1u << (irq % 32));
    plic.irq[irq].fn = NULL;
}

void plic_dispatch(struct hart *h)
{
    uint32_t irq;
    while ((irq = *reg(CLAIM(h->plic_context))) != 0) {
        if (irq <= plic.ndev) {
            plic.irq[irq].count++;
            if (plic.irq[irq].fn)
                plic.irq[irq].fn(irq, plic.irq[irq].ctx);
            else /* nobody wants it: mask it rather than take it forever */
                *reg(ENABLE(h->plic_context, irq)) &= ~(1u << (irq % 32));
        }
        *reg(CLAIM(h->plic_context)) = irq;
    }
}

uint64_t irq_count(uint32_t irq)
{
    return irq < PLIC_MAX_IRQ ? plic.irq[irq].count : 0;
}
