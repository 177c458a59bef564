/* platform_parse() on QEMU's own device trees, on the hand-written fixture,
 * and on variants of the fixture edited with libfdt to hit each error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/boot/platform.h"
#include "kernel/lib/fdt.h"

#include "fdt_blobs.h"
#include "fdt_oracle.h"
#include "fdt_testlib.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MiB          (1024ull * 1024)

/* A blob with room to grow, for libfdt edits. */
struct blob {
    uint8_t *b;
    struct fdt f;
};

static struct blob load(const char *name)
{
    size_t size;
    uint8_t *src = fdt_test_load(name, &size, 1);
    if (!src)
        fail_msg("cannot load %s (build the fdt_test_data target)", name);
    size_t cap = size + 16384;
    struct blob x = {.b = malloc(cap)};
    assert_int_equal(oracle_open_into(src, x.b, (int)cap), 0);
    free(src);
    return x;
}

static enum platform_err parse(struct blob *x, struct platform *p, enum fdt_err *detail)
{
    assert_int_equal(fdt_open(&x->f, x->b, oracle_total_size(x->b)), FDT_OK);
    return platform_parse(&x->f, p, detail);
}

static void parse_ok(struct blob *x, struct platform *p)
{
    enum fdt_err d = FDT_ERR_COUNT;
    enum platform_err e = parse(x, p, &d);
    if (e != PLATFORM_OK)
        fail_msg("platform_parse: %s (%s)", platform_strerror(e), fdt_strerror(d));
    assert_int_equal(d, FDT_OK);
}

static void expect_err(struct blob *x, enum platform_err err, enum fdt_err detail)
{
    struct platform p;
    enum fdt_err d = FDT_ERR_COUNT;
    enum platform_err e = parse(x, &p, &d);
    if (e != err || d != detail)
        fail_msg("platform_parse: %s (%s), expected %s (%s)", platform_strerror(e), fdt_strerror(d),
                 platform_strerror(err), fdt_strerror(detail));
}

static void set_u32(struct blob *x, const char *path, const char *name, uint32_t v)
{
    assert_int_equal(oracle_setprop_u32(x->b, path, name, v), 0);
}

static void set_str(struct blob *x, const char *path, const char *name, const char *v)
{
    assert_int_equal(oracle_setprop_string(x->b, path, name, v), 0);
}

static void set_raw(struct blob *x, const char *path, const char *name, const void *v, int len)
{
    assert_int_equal(oracle_setprop(x->b, path, name, v, len), 0);
}

static void set_cells(struct blob *x, const char *path, const char *name, const uint32_t *c, int n)
{
    uint8_t buf[64];
    assert_true(n * 4 <= (int)sizeof buf);
    for (int i = 0; i < n; i++)
        fdt_test_put32(buf, 4 * (size_t)i, c[i]);
    set_raw(x, path, name, buf, 4 * n);
}

static void del_prop(struct blob *x, const char *path, const char *name)
{
    assert_int_equal(oracle_delprop(x->b, path, name), 0);
}

/* ---------------------------------------------------------------------- */
/* QEMU                                                                   */

static void test_qemu_virt(void **state)
{
    (void)state;
    struct blob x = load("qemu-virt.dtb");
    struct platform p;
    parse_ok(&x, &p);

    assert_string_equal(p.model, "riscv-virtio,qemu");
    assert_int_equal(p.mem_count, 1);
    assert_int_equal(p.mem[0].base, 0x80000000);
    assert_int_equal(p.mem[0].size, 128 * MiB);
    assert_int_equal(p.reserved_count, 0);
    assert_int_equal(p.timebase_hz, 10000000);

    assert_int_equal(p.hart_count, 1);
    assert_int_equal(p.harts[0].hartid, 0);
    assert_true(p.harts[0].enabled);
    assert_true(p.harts[0].sv39);
    assert_memory_equal(p.harts[0].isa, "rv64imafdc", 10);
    assert_int_not_equal(p.harts[0].intc_phandle, 0);

    assert_true(p.plic.present);
    assert_int_equal(p.plic.base, 0xc000000);
    assert_int_equal(p.plic.size, 0x600000);
    assert_int_equal(p.plic.ndev, 96);
    assert_int_not_equal(p.plic.phandle, 0);
    assert_int_equal(p.plic.s_context[0], 1);
    assert_int_equal(p.plic.s_context[1], -1);

    assert_int_equal(p.uart_count, 1);
    assert_int_equal(p.uarts[0].kind, UART_NS16550A);
    assert_int_equal(p.uarts[0].base, 0x10000000);
    assert_int_equal(p.uarts[0].size, 0x100);
    assert_int_equal(p.uarts[0].irq, 10);
    assert_int_equal(p.uarts[0].reg_shift, 0);
    assert_int_equal(p.uarts[0].reg_io_width, 1);
    assert_int_equal(p.uarts[0].clock_hz, 3686400);
    assert_int_equal(p.stdout_uart, 0);

    assert_int_equal(p.virtio_count, 8);
    for (unsigned slot = 0; slot < 8; slot++) {
        unsigned found = 0;
        for (unsigned i = 0; i < p.virtio_count; i++) {
            if (p.virtio[i].base == 0x10001000 + 0x1000ull * slot) {
                found++;
                assert_int_equal(p.virtio[i].size, 0x1000);
                assert_int_equal(p.virtio[i].irq, slot + 1);
            }
        }
        assert_int_equal(found, 1);
    }

    assert_true(p.test_finisher.present);
    assert_int_equal(p.test_finisher.base, 0x100000);
    assert_int_equal(p.test_finisher.size, 0x1000);
    assert_string_equal(p.bootargs, "");
    assert_int_equal(p.initrd_start, 0);
    assert_int_equal(p.initrd_end, 0);
    assert_int_equal(p.dropped, 0);
    free(x.b);
}

static void test_qemu_virt_smp4_2g(void **state)
{
    (void)state;
    struct blob x = load("qemu-virt-smp4-2g.dtb");
    struct platform p;
    parse_ok(&x, &p);
    assert_int_equal(p.mem_count, 1);
    assert_int_equal(p.mem[0].base, 0x80000000);
    assert_int_equal(p.mem[0].size, 2048 * MiB);
    assert_int_equal(p.hart_count, 4);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(p.harts[i].hartid, i);
        assert_true(p.harts[i].enabled);
        assert_true(p.harts[i].sv39);
        /* QEMU lists an M and an S context per hart, in hart order */
        assert_int_equal(p.plic.s_context[i], 2 * i + 1);
        for (unsigned j = 0; j < i; j++)
            assert_int_not_equal(p.harts[i].intc_phandle, p.harts[j].intc_phandle);
    }
    assert_int_equal(p.plic.s_context[4], -1);
    assert_int_equal(p.virtio_count, 8);
    assert_int_equal(p.uart_count, 1);
    assert_int_equal(p.stdout_uart, 0);
    assert_int_equal(p.dropped, 0);
    free(x.b);
}

static void test_qemu_sifive_u(void **state)
{
    (void)state;
    struct blob x = load("qemu-sifive_u.dtb");
    struct platform p;
    parse_ok(&x, &p);
    assert_string_equal(p.model, "SiFive HiFive Unleashed A00");
    assert_int_equal(p.mem_count, 1);
    assert_int_equal(p.mem[0].base, 0x80000000);
    assert_int_equal(p.mem[0].size, 128 * MiB);
    assert_int_equal(p.timebase_hz, 1000000);

    assert_int_equal(p.hart_count, 2);
    assert_int_equal(p.harts[0].hartid, 0);
    assert_false(p.harts[0].sv39); /* the E51 monitor core */
    assert_string_equal(p.harts[0].isa, "rv64imac_zicsr_zifencei");
    assert_int_equal(p.harts[1].hartid, 1);
    assert_true(p.harts[1].sv39);

    assert_true(p.plic.present);
    assert_int_equal(p.plic.base, 0xc000000);
    assert_int_equal(p.plic.size, 0x4000000);
    assert_int_equal(p.plic.ndev, 53);
    assert_int_equal(p.plic.s_context[0], -1);
    assert_int_equal(p.plic.s_context[1], 2);

    assert_int_equal(p.uart_count, 2);
    assert_int_equal(p.uarts[0].kind, UART_SIFIVE);
    assert_int_equal(p.uarts[0].base, 0x10010000);
    assert_int_equal(p.uarts[0].size, 0x1000);
    assert_int_equal(p.uarts[0].irq, 4);
    assert_int_equal(p.uarts[0].clock_hz, 0);
    assert_int_equal(p.uarts[1].kind, UART_SIFIVE);
    assert_int_equal(p.uarts[1].base, 0x10011000);
    assert_int_equal(p.uarts[1].irq, 5);
    assert_int_equal(p.stdout_uart, 0);

    assert_int_equal(p.virtio_count, 0);
    assert_false(p.test_finisher.present);
    assert_int_equal(p.dropped, 0);
    free(x.b);
}

/* The VisionFive 2 tree we ship: RAM at 0x4000_0000, a DesignWare UART at
 * 4-byte register stride with 32-bit accesses, a 4 MHz timebase, the S7
 * monitor core unusable. No QEMU machine runs it, so this is its check. */
static void test_dts_visionfive2(void **state)
{
    (void)state;
    struct blob x = load("dts-visionfive2.dtb");
    struct platform p;
    parse_ok(&x, &p);
    assert_string_equal(p.model, "StarFive VisionFive 2 v1.3B");
    assert_int_equal(p.mem_count, 1);
    assert_int_equal(p.mem[0].base, 0x40000000);
    assert_int_equal(p.mem[0].size, 4096 * MiB);
    assert_int_equal(p.timebase_hz, 4000000);
    assert_int_equal(p.hart_count, 5);
    assert_false(p.harts[0].enabled && p.harts[0].sv39);
    for (unsigned i = 1; i < 5; i++) {
        assert_int_equal(p.harts[i].hartid, i);
        assert_true(p.harts[i].sv39);
    }
    assert_true(p.stdout_uart >= 0);
    const struct platform_uart *u = &p.uarts[p.stdout_uart];
    assert_int_equal(u->kind, UART_DW_APB);
    assert_int_equal(u->base, 0x10000000);
    assert_int_equal(u->reg_shift, 2);
    assert_int_equal(u->reg_io_width, 4);
    assert_true(p.plic.present);
    assert_false(p.test_finisher.present);
    assert_int_equal(p.virtio_count, 0);
    free(x.b);
}

/* Every tree we build (QEMU's, the fixtures, the shipped boards) must give
 * the kernel a platform. */
static void test_all_blobs_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(fdt_test_blobs); i++) {
        print_message("platform: %s\n", fdt_test_blobs[i]);
        struct blob x = load(fdt_test_blobs[i]);
        struct platform p;
        parse_ok(&x, &p);
        assert_true(p.mem_count > 0);
        assert_true(p.hart_count > 0);
        free(x.b);
    }
}

/* ---------------------------------------------------------------------- */
/* The fixture                                                            */

static void test_fixture(void **state)
{
    (void)state;
    struct blob x = load("fdt-fixture.dtb");
    struct platform p;
    parse_ok(&x, &p);
    const struct fdt *f = &x.f;

    assert_string_equal(p.model, "NewSys FDT fixture");
    assert_int_equal(p.mem_count, 2); /* memory@c0000000 is disabled */
    assert_int_equal(p.mem[0].base, 0x80000000);
    assert_int_equal(p.mem[0].size, 128 * MiB);
    assert_int_equal(p.mem[1].base, 0x100000000);
    assert_int_equal(p.mem[1].size, 256 * MiB);

    static const struct platform_reserved rsv[] = {
        {0x80000000, 0x20000, false, "memreserve"},
        {0x87f00000, 0x1000, false, "memreserve"},
        {0x80000000, 0x40000, true, "mmode_resv0@80000000"},
        {0x86000000, 0x800000, false, "framebuffer@86000000"},
    };
    assert_int_equal(p.reserved_count, ARRAY_LEN(rsv));
    for (size_t i = 0; i < ARRAY_LEN(rsv); i++) {
        assert_int_equal(p.reserved[i].base, rsv[i].base);
        assert_int_equal(p.reserved[i].size, rsv[i].size);
        assert_int_equal(p.reserved[i].no_map, rsv[i].no_map);
        assert_string_equal(p.reserved[i].name, rsv[i].name);
    }

    assert_int_equal(p.timebase_hz, 4000000);
    static const struct {
        uint64_t id;
        bool enabled, sv39;
        const char *isa;
        int32_t s_context;
    } harts[] = {
        {0, true, true, "rv64imafdc_zicsr_zifencei", 2},
        {1, true, true, "rv64imac", 4},
        {2, false, true, "rv64gc", 6},
        {7, true, false, "rv64imac", -1},
    };
    assert_int_equal(p.hart_count, ARRAY_LEN(harts));
    for (size_t i = 0; i < ARRAY_LEN(harts); i++) {
        assert_int_equal(p.harts[i].hartid, harts[i].id);
        assert_int_equal(p.harts[i].enabled, harts[i].enabled);
        assert_int_equal(p.harts[i].sv39, harts[i].sv39);
        assert_string_equal(p.harts[i].isa, harts[i].isa);
        assert_int_equal(p.plic.s_context[i], harts[i].s_context);
        int intc = fdt_node_by_phandle(f, p.harts[i].intc_phandle);
        assert_int_equal(fdt_parent(f, intc), p.harts[i].node);
        assert_true(fdt_node_is_compatible(f, intc, "riscv,cpu-intc"));
    }

    assert_true(p.plic.present);
    assert_int_equal(p.plic.base, 0xc000000);
    assert_int_equal(p.plic.size, 0x4000000);
    assert_int_equal(p.plic.ndev, 53);
    assert_int_equal(p.plic.phandle,
                     fdt_node_phandle(f, fdt_path_offset(f, "/soc/interrupt-controller")));

    assert_int_equal(p.uart_count, 3); /* two disabled ones skipped */
    assert_int_equal(p.uarts[0].kind, UART_DW_APB);
    assert_int_equal(p.uarts[0].base, 0x10000000);
    assert_int_equal(p.uarts[0].size, 0x10000);
    assert_int_equal(p.uarts[0].reg_shift, 2);
    assert_int_equal(p.uarts[0].reg_io_width, 4);
    assert_int_equal(p.uarts[0].clock_hz, 24000000);
    assert_int_equal(p.uarts[0].irq, 32);
    assert_int_equal(p.uarts[0].node, fdt_path_offset(f, "serial0"));
    assert_int_equal(p.uarts[1].kind, UART_SIFIVE);
    assert_int_equal(p.uarts[1].base, 0x10010000);
    assert_int_equal(p.uarts[1].irq, 39);
    assert_int_equal(p.uarts[1].reg_shift, 0);
    assert_int_equal(p.uarts[1].reg_io_width, 1);
    assert_int_equal(p.uarts[2].kind, UART_NS16550A);
    assert_int_equal(p.uarts[2].base, 0x40001000); /* through the bus's ranges */
    assert_int_equal(p.uarts[2].size, 0x100);
    assert_int_equal(p.uarts[2].irq, 10);
    assert_int_equal(p.uarts[2].clock_hz, 3686400);
    assert_int_equal(p.stdout_uart, 1); /* "console:115200n8" -> uart1 */

    assert_int_equal(p.virtio_count, 2);
    assert_int_equal(p.virtio[0].base, 0x100000000);
    assert_int_equal(p.virtio[0].size, 0x1000);
    assert_int_equal(p.virtio[0].irq, 5);
    assert_int_equal(p.virtio[1].base, 0x40010100);
    assert_int_equal(p.virtio[1].size, 0x100);
    assert_int_equal(p.virtio[1].irq, 6);

    assert_true(p.test_finisher.present);
    assert_int_equal(p.test_finisher.base, 0x100000);
    assert_string_equal(p.bootargs, "console=hvc0 init=/init");
    assert_int_equal(p.initrd_start, 0x88000000); /* one cell */
    assert_int_equal(p.initrd_end, 0x88100000);   /* two cells */
    assert_int_equal(p.dropped, 0);
    free(x.b);
}

static void test_stdout_path(void **state)
{
    (void)state;
    static const struct {
        const char *prop, *path;
        int uart;
    } cases[] = {
        {"stdout-path", "/soc/serial@10000000", 0},
        {"stdout-path", "serial0", 0},
        {"stdout-path", "serial0:115200n8", 0},
        {"stdout-path", "/soc/serial@10010000:9600", 1},
        {"stdout-path", "/soc/bus@40000000/serial@1000", 2},
        {"stdout-path", "/soc/bus@40000000/serial", 2},
        {"linux,stdout-path", "/soc/bus@40000000/serial@1000:115200", 2},
        {"stdout-path", "/soc/serial@10020000", -1}, /* disabled */
        {"stdout-path", "/soc/test@100000", -1},     /* not a UART */
        {"stdout-path", "/no/such/node", -1},
        {"stdout-path", "bogus", -1},
        {"stdout-path", "", -1},
        {"stdout-path", ":", -1},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct blob x = load("fdt-fixture.dtb");
        del_prop(&x, "/chosen", "stdout-path");
        set_str(&x, "/chosen", cases[i].prop, cases[i].path);
        struct platform p;
        parse_ok(&x, &p);
        if (p.stdout_uart != cases[i].uart)
            fail_msg("%s = \"%s\": uart %d, expected %d", cases[i].prop, cases[i].path,
                     p.stdout_uart, cases[i].uart);
        free(x.b);
    }
    /* stdout-path wins over linux,stdout-path */
    struct blob x = load("fdt-fixture.dtb");
    set_str(&x, "/chosen", "linux,stdout-path", "serial0");
    struct platform p;
    parse_ok(&x, &p);
    assert_int_equal(p.stdout_uart, 1);
    free(x.b);
}

static void test_timebase(void **state)
{
    (void)state;
    struct blob x = load("fdt-fixture.dtb");
    del_prop(&x, "/cpus", "timebase-frequency");
    expect_err(&x, PLATFORM_ERR_NO_TIMEBASE, FDT_OK);
    /* the per-cpu fallback */
    set_u32(&x, "/cpus/cpu@1", "timebase-frequency", 24000000);
    struct platform p;
    parse_ok(&x, &p);
    assert_int_equal(p.timebase_hz, 24000000);
    /* 64-bit */
    uint32_t tb64[] = {1, 0};
    set_cells(&x, "/cpus", "timebase-frequency", tb64, 2);
    parse_ok(&x, &p);
    assert_int_equal(p.timebase_hz, 0x100000000);
    set_raw(&x, "/cpus", "timebase-frequency", "abc", 3);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_BAD_VALUE);
    free(x.b);

    x = load("fdt-fixture.dtb");
    assert_int_equal(oracle_del_node(x.b, "/cpus"), 0);
    expect_err(&x, PLATFORM_ERR_NO_TIMEBASE, FDT_OK);
    free(x.b);
}

static void test_memory_errors(void **state)
{
    (void)state;
    struct blob x = load("fdt-fixture.dtb");
    set_str(&x, "/memory@80000000", "status", "disabled");
    expect_err(&x, PLATFORM_ERR_NO_MEMORY, FDT_OK);
    del_prop(&x, "/memory@c0000000", "status");
    struct platform p;
    parse_ok(&x, &p);
    assert_int_equal(p.mem_count, 1);
    assert_int_equal(p.mem[0].base, 0xc0000000);
    free(x.b);

    x = load("fdt-fixture.dtb");
    assert_int_equal(oracle_del_node(x.b, "/memory@80000000"), 0);
    assert_int_equal(oracle_del_node(x.b, "/memory@c0000000"), 0);
    expect_err(&x, PLATFORM_ERR_NO_MEMORY, FDT_OK);
    free(x.b);

    /* a region running off the top of the address space */
    x = load("fdt-fixture.dtb");
    uint32_t wrap[] = {0xffffffff, 0xfffff000, 0, 0x2000};
    set_cells(&x, "/memory@80000000", "reg", wrap, 4);
    expect_err(&x, PLATFORM_ERR_BAD_REGION, FDT_OK);
    /* ending exactly at 2^64 - 1 is fine */
    uint32_t top[] = {0xffffffff, 0xfffff000, 0, 0xfff};
    set_cells(&x, "/memory@80000000", "reg", top, 4);
    parse_ok(&x, &p);
    /* and a reg that is not whole entries is an FDT error */
    set_cells(&x, "/memory@80000000", "reg", top, 3);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_BAD_VALUE);
    free(x.b);

    x = load("fdt-fixture.dtb");
    set_cells(&x, "/reserved-memory/framebuffer@86000000", "reg", wrap, 4);
    expect_err(&x, PLATFORM_ERR_BAD_REGION, FDT_OK);
    free(x.b);
}

static void test_initrd(void **state)
{
    (void)state;
    struct blob x = load("fdt-fixture.dtb");
    uint32_t start64[] = {0x1, 0x0}, end64[] = {0x1, 0x400000};
    set_cells(&x, "/chosen", "linux,initrd-start", start64, 2);
    set_cells(&x, "/chosen", "linux,initrd-end", end64, 2);
    struct platform p;
    parse_ok(&x, &p);
    assert_int_equal(p.initrd_start, 0x100000000);
    assert_int_equal(p.initrd_end, 0x100400000);

    set_u32(&x, "/chosen", "linux,initrd-end", 0x1000); /* end < start */
    expect_err(&x, PLATFORM_ERR_BAD_INITRD, FDT_OK);
    del_prop(&x, "/chosen", "linux,initrd-end");
    expect_err(&x, PLATFORM_ERR_BAD_INITRD, FDT_OK);
    set_raw(&x, "/chosen", "linux,initrd-end", "abcdef", 6);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_BAD_VALUE);
    del_prop(&x, "/chosen", "linux,initrd-end");
    del_prop(&x, "/chosen", "linux,initrd-start");
    parse_ok(&x, &p);
    assert_int_equal(p.initrd_start, 0);
    assert_int_equal(p.initrd_end, 0);
    /* an empty initrd is not an error */
    set_u32(&x, "/chosen", "linux,initrd-start", 0x90000000);
    set_u32(&x, "/chosen", "linux,initrd-end", 0x90000000);
    parse_ok(&x, &p);
    assert_int_equal(p.initrd_start, p.initrd_end);
    free(x.b);
}

static void test_malformed_nodes(void **state)
{
    (void)state;
    struct blob x = load("fdt-fixture.dtb");
    set_raw(&x, "/soc/serial@10000000", "reg-shift", "\0\0", 2);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_BAD_VALUE);
    free(x.b);

    /* clock-frequency in one or two cells, but it must fit the u32 field */
    x = load("fdt-fixture.dtb");
    uint32_t clk64[] = {0, 48000000}, clk_huge[] = {1, 0};
    set_cells(&x, "/soc/serial@10000000", "clock-frequency", clk64, 2);
    struct platform p;
    parse_ok(&x, &p);
    assert_int_equal(p.uarts[0].clock_hz, 48000000);
    set_cells(&x, "/soc/serial@10000000", "clock-frequency", clk_huge, 2);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_BAD_VALUE);
    free(x.b);

    x = load("fdt-fixture.dtb");
    set_raw(&x, "/chosen", "bootargs", "no-nul", 6);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_BAD_VALUE);
    free(x.b);

    x = load("fdt-fixture.dtb");
    del_prop(&x, "/soc/bus@40000000", "ranges"); /* its UART is not reachable */
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_NOT_FOUND);
    free(x.b);

    x = load("fdt-fixture.dtb");
    uint32_t dangling[] = {0x7777, 9};
    set_cells(&x, "/soc/interrupt-controller", "interrupts-extended", dangling, 2);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_NOT_FOUND);
    set_raw(&x, "/soc/interrupt-controller", "interrupts-extended", "abcdef", 6);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_BAD_VALUE);
    free(x.b);
}

/* interrupts-extended entries are as long as the target's #interrupt-cells. */
static void test_plic_contexts(void **state)
{
    (void)state;
    struct blob x = load("fdt-fixture.dtb");
    struct platform p;
    parse_ok(&x, &p);
    uint32_t ph0 = p.harts[0].intc_phandle, ph1 = p.harts[1].intc_phandle;
    uint32_t plic = p.plic.phandle;
    /* context 0: the PLIC itself (1 cell), 1: hart 1 S, 2: hart 0 S */
    uint32_t ie[] = {plic, 3, ph1, 9, ph0, 9};
    set_cells(&x, "/soc/interrupt-controller", "interrupts-extended", ie, 6);
    parse_ok(&x, &p);
    assert_int_equal(p.plic.s_context[0], 2);
    assert_int_equal(p.plic.s_context[1], 1);
    assert_int_equal(p.plic.s_context[2], -1);
    /* a 2-cell controller takes two cells after its phandle */
    uint32_t ie2[] = {plic, 3, 0, ph1, 9};
    set_u32(&x, "/soc/interrupt-controller", "#interrupt-cells", 2);
    set_cells(&x, "/soc/interrupt-controller", "interrupts-extended", ie2, 5);
    parse_ok(&x, &p);
    assert_int_equal(p.plic.s_context[0], -1);
    assert_int_equal(p.plic.s_context[1], 1);
    /* cut off in the middle of a specifier */
    uint32_t cut[] = {ph1, 9, plic, 3};
    set_cells(&x, "/soc/interrupt-controller", "interrupts-extended", cut, 4);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_BAD_VALUE);
    /* no interrupts-extended: no contexts */
    del_prop(&x, "/soc/interrupt-controller", "interrupts-extended");
    parse_ok(&x, &p);
    assert_true(p.plic.present);
    for (unsigned i = 0; i < PLATFORM_MAX_HARTS; i++)
        assert_int_equal(p.plic.s_context[i], -1);
    free(x.b);
}

static void test_reserved_memory_without_ranges(void **state)
{
    (void)state;
    struct blob x = load("fdt-fixture.dtb");
    del_prop(&x, "/reserved-memory", "ranges");
    struct platform p;
    parse_ok(&x, &p);
    assert_int_equal(p.reserved_count, 4);
    assert_int_equal(p.reserved[3].base, 0x86000000);
    free(x.b);
}

static void test_tables_full(void **state)
{
    (void)state;
    struct blob x = load("fdt-fixture.dtb");
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof name, "virtio@%x", 0x20000000 + 0x1000 * i);
        assert_true(oracle_add_node(x.b, "/soc", name) >= 0);
        char path[64];
        snprintf(path, sizeof path, "/soc/%s", name);
        set_str(&x, path, "compatible", "virtio,mmio");
        uint32_t reg[] = {0, 0x20000000 + 0x1000 * (uint32_t)i, 0, 0x1000};
        set_cells(&x, path, "reg", reg, 4);
    }
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "serial@%x", 0x30000000 + 0x100 * i);
        assert_true(oracle_add_node(x.b, "/soc", name) >= 0);
        char path[64];
        snprintf(path, sizeof path, "/soc/%s", name);
        set_str(&x, path, "compatible", "ns16550a");
        uint32_t reg[] = {0, 0x30000000 + 0x100 * (uint32_t)i, 0, 0x100};
        set_cells(&x, path, "reg", reg, 4);
    }
    struct platform p;
    parse_ok(&x, &p);
    assert_int_equal(p.virtio_count, PLATFORM_MAX_VIRTIO);
    assert_int_equal(p.uart_count, PLATFORM_MAX_UARTS);
    assert_int_equal(p.dropped, (2 + 20 - PLATFORM_MAX_VIRTIO) + (3 + 3 - PLATFORM_MAX_UARTS));
    free(x.b);
}

static void add_node(struct blob *x, const char *parent, const char *name)
{
    assert_true(oracle_add_node(x->b, parent, name) >= 0);
}

static void test_more_tables_full(void **state)
{
    (void)state;
    struct blob x = load("fdt-fixture.dtb");
    /* 17 memory ranges in one node, 31 reserved ones in one child */
    uint32_t mem[17 * 4], rsv[31 * 4];
    for (uint32_t i = 0; i < 17; i++) {
        uint32_t e[] = {0x10 + i, 0, 0, 0x1000};
        memcpy(mem + 4 * i, e, sizeof e);
    }
    for (uint32_t i = 0; i < 31; i++) {
        uint32_t e[] = {0x20 + i, 0, 0, 0x1000};
        memcpy(rsv + 4 * i, e, sizeof e);
    }
    uint8_t buf[31 * 16];
    for (size_t i = 0; i < 17 * 4; i++)
        fdt_test_put32(buf, 4 * i, mem[i]);
    set_raw(&x, "/memory@80000000", "reg", buf, 17 * 16);
    for (size_t i = 0; i < 31 * 4; i++)
        fdt_test_put32(buf, 4 * i, rsv[i]);
    set_raw(&x, "/reserved-memory/framebuffer@86000000", "reg", buf, 31 * 16);
    /* 13 more harts (17 in all) */
    for (int i = 0; i < 13; i++) {
        char name[16], path[32];
        snprintf(name, sizeof name, "cpu@%d", 100 + i);
        snprintf(path, sizeof path, "/cpus/%s", name);
        add_node(&x, "/cpus", name);
        set_str(&x, path, "device_type", "cpu");
        set_u32(&x, path, "reg", 100 + (uint32_t)i);
    }
    /* a second PLIC and a second test device (libfdt puts new nodes before
     * their siblings, so these come first in document order) */
    add_node(&x, "/soc", "plic@d000000");
    set_str(&x, "/soc/plic@d000000", "compatible", "riscv,plic0");
    uint32_t plic_reg[] = {0, 0xd000000, 0, 0x4000000};
    set_cells(&x, "/soc/plic@d000000", "reg", plic_reg, 4);
    add_node(&x, "/soc", "test@200000");
    set_str(&x, "/soc/test@200000", "compatible", "sifive,test0");
    uint32_t reg[] = {0, 0x200000, 0, 0x1000};
    set_cells(&x, "/soc/test@200000", "reg", reg, 4);

    struct platform p;
    parse_ok(&x, &p);
    assert_int_equal(p.mem_count, PLATFORM_MAX_MEM);
    assert_int_equal(p.mem[0].base, 0x1000000000);
    assert_int_equal(p.reserved_count, PLATFORM_MAX_RESERVED);
    assert_int_equal(p.hart_count, PLATFORM_MAX_HARTS);
    assert_int_equal(p.harts[0].hartid, 112);
    assert_int_equal(p.harts[PLATFORM_MAX_HARTS - 1].hartid, 2); /* cpu@7 dropped */
    assert_int_equal(p.plic.base, 0xd000000);
    assert_int_equal(p.plic.s_context[0], -1);
    assert_int_equal(p.test_finisher.base, 0x200000);
    /* 1 memory + (2 + 1 + 31 - 32) reserved + 1 hart + 1 PLIC + 1 finisher */
    assert_int_equal(p.dropped, 1 + 2 + 1 + 1 + 1);
    free(x.b);

    /* regions of PLIC, UART, virtio and test device must not wrap either */
    static const char *const devs[] = {"/soc/interrupt-controller", "/soc/serial@10000000",
                                       "/soc/test@100000", "/soc/virtio@9000"};
    for (size_t i = 0; i < ARRAY_LEN(devs); i++) {
        x = load("fdt-fixture.dtb");
        add_node(&x, "/soc", "virtio@9000");
        set_str(&x, "/soc/virtio@9000", "compatible", "virtio,mmio");
        uint32_t ok[] = {0, 0x9000, 0, 0x1000};
        set_cells(&x, "/soc/virtio@9000", "reg", ok, 4);
        uint32_t wrap[] = {0xffffffff, 0xfffff000, 0, 0x2000};
        set_cells(&x, devs[i], "reg", wrap, 4);
        expect_err(&x, PLATFORM_ERR_BAD_REGION, FDT_OK);
        free(x.b);
    }
    /* a translation that overflows is the tree's fault */
    x = load("fdt-fixture.dtb");
    uint32_t ranges[] = {0, 0xffffffff, 0xffffff00, 0xffffffff};
    set_cells(&x, "/soc/bus@40000000", "ranges", ranges, 4);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_BAD_VALUE);
    free(x.b);

    x = load("fdt-fixture.dtb");
    set_raw(&x, "/", "model", "abc", 3);
    expect_err(&x, PLATFORM_ERR_FDT, FDT_ERR_BAD_VALUE);
    free(x.b);
}

static void test_long_strings_truncated(void **state)
{
    (void)state;
    struct blob x = load("fdt-fixture.dtb");
    char longs[200];
    memset(longs, 'm', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    set_str(&x, "/", "model", longs);
    set_str(&x, "/cpus/cpu@0", "riscv,isa", longs);
    struct platform p;
    parse_ok(&x, &p);
    assert_int_equal(strlen(p.model), sizeof p.model - 1);
    assert_int_equal(strlen(p.harts[0].isa), sizeof p.harts[0].isa - 1);
    del_prop(&x, "/", "model");
    parse_ok(&x, &p);
    assert_string_equal(p.model, "");
    /* fdt_detail may be NULL */
    assert_int_equal(platform_parse(&x.f, &p, NULL), PLATFORM_OK);
    free(x.b);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = 0; e < PLATFORM_ERR_COUNT; e++) {
        assert_non_null(platform_strerror(e));
        for (int g = 0; g < e; g++)
            assert_string_not_equal(platform_strerror(e), platform_strerror(g));
    }
    assert_string_equal(platform_strerror(PLATFORM_ERR_COUNT), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qemu_virt),
        cmocka_unit_test(test_qemu_virt_smp4_2g),
        cmocka_unit_test(test_qemu_sifive_u),
        cmocka_unit_test(test_dts_visionfive2),
        cmocka_unit_test(test_all_blobs_parse),
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_stdout_path),
        cmocka_unit_test(test_timebase),
        cmocka_unit_test(test_memory_errors),
        cmocka_unit_test(test_initrd),
        cmocka_unit_test(test_malformed_nodes),
        cmocka_unit_test(test_plic_contexts),
        cmocka_unit_test(test_reserved_memory_without_ranges),
        cmocka_unit_test(test_tables_full),
        cmocka_unit_test(test_more_tables_full),
        cmocka_unit_test(test_long_strings_truncated),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
