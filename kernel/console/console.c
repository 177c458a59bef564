/* Console output: SBI first, then the stdout-path UART. Output is polled and
 * unbuffered so that a panic always reaches the wire. */
#include "kernel/console/console.h"

#include "kernel/boot/platform.h"
#include "kernel/lib/fmt.h"
#include "sbi/sbi.h"

static struct {
    const struct uart_driver *drv;
    const struct platform_uart *uart;
    uintptr_t va;
} console;

void console_init_sbi(void)
{
    console.drv = NULL;
}

bool console_use_uart(const struct platform_uart *u, uintptr_t va)
{
    const struct uart_driver *drv = NULL;
    switch (u->kind) {
    case UART_NS16550A:
    case UART_DW_APB:
        drv = &uart_ns16550;
        break;
    case UART_SIFIVE:
        drv = &uart_sifive;
        break;
    }
    if (!drv || !drv->init(u, va))
        return false;
    console.drv = drv;
    console.uart = u;
    console.va = va;
    return true;
}

const char *console_name(void)
{
    return console.drv ? console.drv->name : "sbi";
}

const struct uart_driver *console_uart(uintptr_t *va, const struct platform_uart **u)
{
    *va = console.va;
    *u = console.uart;
    return console.drv;
}

void console_putc(char c)
{
    if (c == '\n')
        console_putc('\r');
    if (console.drv)
        console.drv->putc(console.va, console.uart, c);
    else
        sbi_console_putc(c);
}

void console_write(const char *s, unsigned long len)
{
    for (unsigned long i = 0; i < len; i++)
        console_putc(s[i]);
}

static void put(char c, void *ctx)
{
    (void)ctx;
    console_putc(c);
}

int kvprintf(const char *fmt, va_list ap)
{
    return fmt_vformat(put, NULL, fmt, ap);
}

int kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvprintf(fmt, ap);
    va_end(ap);
    return n;
}
