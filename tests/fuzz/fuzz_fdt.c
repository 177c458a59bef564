/* libFuzzer harness for kernel/lib/fdt.c and kernel/boot/platform.c: open the
 * input as a devicetree and, if it is accepted, use every accessor the way
 * the kernel would (walk all nodes and properties, decode every reg, look
 * paths and phandles up, build the platform description). Everything handed
 * back must lie inside the input; the sanitizers catch the rest. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/boot/platform.h"
#include "kernel/lib/fdt.h"

static const uint8_t *lo, *hi;

static void inside(const void *p, size_t len)
{
    const uint8_t *b = p;
    if (b < lo || b > hi || len > (size_t)(hi - b))
        abort();
}

static void check_string(const char *s)
{
    inside(s, 1);
    inside(s, strnlen(s, (size_t)(hi - (const uint8_t *)s)) + 1);
}

static void use_node(const struct fdt *f, int n)
{
    const char *name = fdt_node_name(f, n);
    if (!name)
        abort(); /* every node from the walk has a name */
    check_string(name);

    for (int p = fdt_first_prop(f, n); p >= 0; p = fdt_next_prop(f, p)) {
        const char *pname;
        uint32_t len;
        const void *v = fdt_prop_at(f, p, &pname, &len);
        if (!v)
            abort();
        check_string(pname);
        inside(v, len);
        uint32_t len2;
        const void *v2 = fdt_prop(f, n, pname, &len2);
        if (!v2)
            abort();
        inside(v2, len2);
        const char *s;
        if (fdt_prop_string(f, n, pname, &s) == FDT_OK)
            check_string(s);
        int count = fdt_strlist_count(f, n, pname);
        for (int i = 0; i < count && i < 8; i++)
            if (fdt_strlist_get(f, n, pname, (unsigned)i, &s) == FDT_OK)
                check_string(s);
        uint64_t u;
        (void)fdt_prop_u64(f, n, pname, &u);
    }

    (void)fdt_node_is_enabled(f, n);
    (void)fdt_node_is_compatible(f, n, "ns16550a");
    (void)fdt_address_cells(f, n);
    (void)fdt_size_cells(f, n);
    uint32_t ph = fdt_node_phandle(f, n);
    if (ph != 0 && ph != UINT32_MAX && fdt_node_by_phandle(f, ph) < 0)
        abort();

    unsigned count;
    if (fdt_reg_count(f, n, &count) == FDT_OK) {
        for (unsigned i = 0; i < count && i < 4; i++) {
            uint64_t a, s;
            if (fdt_reg_raw(f, n, i, &a, &s) != FDT_OK)
                abort();
            (void)fdt_reg(f, n, i, &a, &s);
        }
    }
    int parent = fdt_parent(f, n);
    if ((parent < 0) != (n == fdt_root(f)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly sized copy, so reading one byte past the input is a report. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    lo = copy;
    hi = copy + size;

    struct fdt f;
    if (fdt_open(&f, copy, size) != FDT_OK) {
        if (fdt_root(&f) != -1 || fdt_next_node(&f, -1, NULL) != -1)
            abort();
        free(copy);
        return 0;
    }
    if (fdt_total_size(&f) > size)
        abort();

    unsigned nodes = 0;
    int depth = 0;
    for (int n = fdt_next_node(&f, -1, &depth); n >= 0; n = fdt_next_node(&f, n, &depth)) {
        if (depth < 1 || depth > FDT_MAX_DEPTH)
            abort();
        if (nodes++ < 512)
            use_node(&f, n);
    }
    if (nodes == 0 || depth != 0)
        abort();

    /* sibling links agree with the document-order walk on the root's children */
    for (int c = fdt_first_child(&f, fdt_root(&f)); c >= 0; c = fdt_next_sibling(&f, c))
        if (fdt_parent(&f, c) != fdt_root(&f))
            abort();

    static const char *const paths[] = {"/",         "/cpus",  "/chosen",      "/soc/serial",
                                        "serial0",   "/soc/",  "/a/b/c/d/e/f", "console",
                                        "/aliases/", "//cpus", "x:115200"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        (void)fdt_path_offset(&f, paths[i]);

    for (unsigned i = 0; i < fdt_rsv_count(&f) && i < 64; i++) {
        uint64_t a, s;
        if (fdt_rsv_get(&f, i, &a, &s) != FDT_OK)
            abort();
    }

    struct platform p;
    enum fdt_err detail;
    enum platform_err err = platform_parse(&f, &p, &detail);
    if ((unsigned)err >= PLATFORM_ERR_COUNT || (err != PLATFORM_ERR_FDT && detail != FDT_OK))
        abort();
    if (err == PLATFORM_OK) {
        if (p.bootargs[0]) /* "" may be a literal of ours */
            check_string(p.bootargs);
        if (p.mem_count == 0 || p.mem_count > PLATFORM_MAX_MEM ||
            p.uart_count > PLATFORM_MAX_UARTS || p.hart_count > PLATFORM_MAX_HARTS ||
            p.virtio_count > PLATFORM_MAX_VIRTIO || p.reserved_count > PLATFORM_MAX_RESERVED ||
            p.stdout_uart >= (int)p.uart_count || p.initrd_end < p.initrd_start)
            abort();
        if (strnlen(p.model, sizeof p.model) == sizeof p.model)
            abort();
    }
    free(copy);
    return 0;
}
