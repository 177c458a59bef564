/* SiFive UART (sifive,uart0): 32-bit registers, a transmit FIFO whose full
 * flag is bit 31 of txdata, and a transmit-watermark interrupt that is
 * pending while the FIFO holds fewer entries than txctrl.txcnt. */
#include "kernel/boot/platform.h"
#include "kernel/console/console.h"

enum { TXDATA = 0x00, TXCTRL = 0x08, IE = 0x10, IP = 0x14 };
#define TXDATA_FULL (1u << 31)
#define TXCTRL_TXEN 1u
#define IE_TXWM     1u

static volatile uint32_t *reg(uintptr_t va, unsigned off)
{
    return (volatile uint32_t *)(va + off);
}

static bool sifive_init(const struct platform_uart *u, uintptr_t va)
{
    (void)u;
    *reg(va, IE) = 0;
    *reg(va, TXCTRL) |= TXCTRL_TXEN;
    return true;
}

static void sifive_putc(uintptr_t va, const struct platform_uart *u, char c)
{
    (void)u;
    for (unsigned i = 0; i < 1000000 && (*reg(va, TXDATA) & TXDATA_FULL); i++)
        ;
    *reg(va, TXDATA) = (unsigned char)c;
}

static void sifive_irq_tx(uintptr_t va, const struct platform_uart *u, bool on)
{
    (void)u;
    if (on)
        *reg(va, TXCTRL) = (*reg(va, TXCTRL) & ~(7u << 16)) | (1u << 16) | TXCTRL_TXEN;
    *reg(va, IE) = on ? IE_TXWM : 0;
}

static bool sifive_irq_ack(uintptr_t va, const struct platform_uart *u)
{
    (void)u;
    /* TXWM is level-triggered: it clears when we mask it (done by the
     * caller through irq_tx_enable). */
    return (*reg(va, IP) & IE_TXWM) != 0;
}

const struct uart_driver uart_sifive = {
    .name = "sifive,uart0",
    .init = sifive_init,
    .putc = sifive_putc,
    .irq_tx_enable = sifive_irq_tx,
    .irq_ack = sifive_irq_ack,
};
