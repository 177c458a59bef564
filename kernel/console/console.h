/* The kernel console: kprintf and friends over whichever output device is
 * current. Boot starts on the SBI console; once the device tree is read,
 * console_use_uart() switches to the UART named by /chosen stdout-path. */
#ifndef NEWSYS_CONSOLE_H
#define NEWSYS_CONSOLE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

struct platform_uart;

/* A UART driver: matched to a device by its platform kind. */
struct uart_driver {
    const char *name;
    bool (*init)(const struct platform_uart *u, uintptr_t va);
    void (*putc)(uintptr_t va, const struct platform_uart *u, char c);
    /* Arm the "transmitter ready" interrupt, used as a PLIC self-test. */
    void (*irq_tx_enable)(uintptr_t va, const struct platform_uart *u, bool on);
    /* Acknowledge; true if the interrupt came from this UART. */
    bool (*irq_ack)(uintptr_t va, const struct platform_uart *u);
};

extern const struct uart_driver uart_ns16550;
extern const struct uart_driver uart_sifive;

void console_init_sbi(void);
/* Switch output to `u`, mapped at `va`. False (console unchanged) if no
 * driver fits. */
bool console_use_uart(const struct platform_uart *u, uintptr_t va);
const char *console_name(void);
const struct uart_driver *console_uart(uintptr_t *va, const struct platform_uart **u);

void console_putc(char c);
void console_write(const char *s, unsigned long len);

int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kvprintf(const char *fmt, va_list ap);

#endif
