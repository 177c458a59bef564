/* The console UART drivers against a fake register file: the NS16550
 * driver must honour reg-shift and reg-io-width (the JH7110's DesignWare
 * UART: registers 4 bytes apart, accessed 32 bits wide), never touching
 * bytes between registers, and give up waiting on a wedged transmitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/boot/platform.h"
#include "kernel/console/console.h"

enum { THR = 0, IER = 1, IIR = 2, LSR = 5 };

static union {
    uint8_t b[64];
    uint32_t w[16];
} regs;

static struct platform_uart uart(uint32_t shift, uint32_t width)
{
    return (struct platform_uart){.base = 0x10000000,
                                  .size = 0x10000,
                                  .kind = UART_DW_APB,
                                  .reg_shift = shift,
                                  .reg_io_width = width};
}

static void test_dw_apb_stride_and_width(void **state)
{
    (void)state;
    struct platform_uart u = uart(2, 4);
    memset(&regs, 0xee, sizeof(regs));
    assert_true(uart_ns16550.init(&u, (uintptr_t)&regs));
    assert_int_equal(regs.w[IER], 0); /* a whole 32-bit register written */
    regs.w[LSR] = 0x60;               /* transmitter empty */
    uart_ns16550.putc((uintptr_t)&regs, &u, 'N');
    assert_int_equal(regs.w[THR], 'N');
    /* Nothing between the registers was written. */
    assert_int_equal(regs.w[3], 0xeeeeeeee);
    assert_int_equal(regs.w[4], 0xeeeeeeee);
    uart_ns16550.irq_tx_enable((uintptr_t)&regs, &u, true);
    assert_int_equal(regs.w[IER], 0x02);
    regs.w[IIR] = 0x02; /* THR empty pending */
    assert_true(uart_ns16550.irq_ack((uintptr_t)&regs, &u));
    regs.w[IIR] = 0x01; /* none */
    assert_false(uart_ns16550.irq_ack((uintptr_t)&regs, &u));
}

static void test_ns16550_bytes(void **state)
{
    (void)state;
    struct platform_uart u = uart(0, 1);
    u.kind = UART_NS16550A;
    memset(&regs, 0xee, sizeof(regs));
    assert_true(uart_ns16550.init(&u, (uintptr_t)&regs));
    assert_int_equal(regs.b[IER], 0);
    assert_int_equal(regs.b[IER + 1], 0xee); /* a byte access only */
    regs.b[LSR] = 0x20;
    uart_ns16550.putc((uintptr_t)&regs, &u, 'S');
    assert_int_equal(regs.b[THR], 'S');
    assert_int_equal(regs.b[1], 0);
}

static void test_wedged_transmitter_and_bad_shapes(void **state)
{
    (void)state;
    struct platform_uart u = uart(2, 4);
    memset(&regs, 0, sizeof(regs)); /* LSR never says empty */
    assert_true(uart_ns16550.init(&u, (uintptr_t)&regs));
    uart_ns16550.putc((uintptr_t)&regs, &u, 'x'); /* returns: bounded wait */
    assert_int_equal(regs.w[THR], 'x');
    struct platform_uart odd = uart(2, 2);
    assert_false(uart_ns16550.init(&odd, (uintptr_t)&regs)); /* 16-bit: not supported */
    struct platform_uart far = uart(4, 4);
    assert_false(uart_ns16550.init(&far, (uintptr_t)&regs)); /* stride 16: refused */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dw_apb_stride_and_width),
        cmocka_unit_test(test_ns16550_bytes),
        cmocka_unit_test(test_wedged_transmitter_and_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
