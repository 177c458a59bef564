/* NS16550A-compatible UARTs, including the Synopsys DesignWare APB UART
 * (snps,dw-apb-uart) of the JH7110. Registers are 1 byte apart shifted by
 * reg-shift, accessed reg-io-width bytes wide. The firmware has already set
 * the line up (baud, 8n1); we only transmit and use the THR-empty
 * interrupt. */
#include "kernel/boot/platform.h"
#include "kernel/console/console.h"

enum { THR = 0, IER = 1, IIR = 2, LSR = 5 };
#define LSR_THRE   0x20
#define IER_ETBEI  0x02
#define IIR_NO_INT 0x01

static uint32_t rd(uintptr_t va, const struct platform_uart *u, unsigned reg)
{
    uintptr_t a = va + ((uintptr_t)reg << u->reg_shift);
    if (u->reg_io_width == 4)
        return *(volatile uint32_t *)a;
    return *(volatile uint8_t *)a;
}

static void wr(uintptr_t va, const struct platform_uart *u, unsigned reg, uint32_t v)
{
    uintptr_t a = va + ((uintptr_t)reg << u->reg_shift);
    if (u->reg_io_width == 4)
        *(volatile uint32_t *)a = v;
    else
        *(volatile uint8_t *)a = (uint8_t)v;
}

static bool ns16550_init(const struct platform_uart *u, uintptr_t va)
{
    if (u->reg_io_width != 1 && u->reg_io_width != 4)
        return false;
    if (u->reg_shift > 3)
        return false;
    wr(va, u, IER, 0);
    return true;
}

static void ns16550_putc(uintptr_t va, const struct platform_uart *u, char c)
{
    /* Bounded wait: a wedged UART must not hang a panic forever. */
    for (unsigned i = 0; i < 1000000 && !(rd(va, u, LSR) & LSR_THRE); i++)
        ;
    wr(va, u, THR, (unsigned char)c);
}

static void ns16550_irq_tx(uintptr_t va, const struct platform_uart *u, bool on)
{
    wr(va, u, IER, on ? IER_ETBEI : 0);
}

static bool ns16550_irq_ack(uintptr_t va, const struct platform_uart *u)
{
    /* Reading IIR clears a THR-empty interrupt. */
    return !(rd(va, u, IIR) & IIR_NO_INT);
}

const struct uart_driver uart_ns16550 = {
    .name = "ns16550a",
    .init = ns16550_init,
    .putc = ns16550_putc,
    .irq_tx_enable = ns16550_irq_tx,
    .irq_ack = ns16550_irq_ack,
};
