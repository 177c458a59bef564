/* Platform description: the few facts the kernel needs from the devicetree.
 *
 * Everything about the board comes from the blob at run time (no address in
 * kernel C), so this is where its vocabulary is decided: which compatible
 * strings mean a console UART, how PLIC contexts map to harts, which regions
 * must not be touched. One walk over the tree in document order classifies
 * the nodes; /cpus, /chosen and /reserved-memory are looked up by path.
 *
 * Policy: a node we use that cannot be decoded fails the parse with a typed
 * error rather than being skipped, because a guessed memory map or a missing
 * reservation corrupts memory silently while a refused boot says why. A node
 * counts as enabled only if it and all its ancestors are (a disabled bus
 * takes its devices with it). Tables that fill up keep the first entries in
 * document order and count the rest in `dropped`.
 */
#include "kernel/boot/platform.h"

#include <string.h>

struct parse {
    const struct fdt *f;
    struct platform *p;
    enum fdt_err detail;
};

/* Records an fdt error and makes the caller return PLATFORM_ERR_FDT. */
#define TRY_FDT(ps, expr)                                                                          \
    do {                                                                                           \
        enum fdt_err e_ = (expr);                                                                  \
        if (e_ != FDT_OK) {                                                                        \
            (ps)->detail = e_;                                                                     \
            return PLATFORM_ERR_FDT;                                                               \
        }                                                                                          \
    } while (0)

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        enum platform_err pe_ = (expr);                                                            \
        if (pe_ != PLATFORM_OK)                                                                    \
            return pe_;                                                                            \
    } while (0)

const char *platform_strerror(enum platform_err err)
{
    switch (err) {
    case PLATFORM_OK:
        return "ok";
    case PLATFORM_ERR_FDT:
        return "malformed devicetree node";
    case PLATFORM_ERR_NO_MEMORY:
        return "no usable memory node";
    case PLATFORM_ERR_NO_TIMEBASE:
        return "no timebase-frequency";
    case PLATFORM_ERR_BAD_INITRD:
        return "bad initrd range";
    case PLATFORM_ERR_BAD_REGION:
        return "region wraps around the address space";
    case PLATFORM_ERR_COUNT:
        break;
    }
    return "unknown error";
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* An optional string property: NOT_FOUND leaves *out alone. */
static enum fdt_err opt_string(const struct fdt *f, int node, const char *name, const char **out)
{
    enum fdt_err e = fdt_prop_string(f, node, name, out);
    return e == FDT_ERR_NOT_FOUND ? FDT_OK : e;
}

static enum fdt_err opt_u32(const struct fdt *f, int node, const char *name, uint32_t *out)
{
    enum fdt_err e = fdt_prop_u32(f, node, name, out);
    return e == FDT_ERR_NOT_FOUND ? FDT_OK : e;
}

static bool string_is(const struct fdt *f, int node, const char *name, const char *value)
{
    const char *s;
    return fdt_prop_string(f, node, name, &s) == FDT_OK && strcmp(s, value) == 0;
}

static bool region_wraps(uint64_t base, uint64_t size)
{
    return size > UINT64_MAX - base;
}

/* First cell of `interrupts`, 0 if absent: we only wire devices to the PLIC,
 * whose interrupt specifiers are one cell. */
static enum fdt_err first_irq(const struct fdt *f, int node, uint32_t *irq)
{
    uint32_t len;
    const void *v = fdt_prop(f, node, "interrupts", &len);
    *irq = 0;
    if (!v)
        return FDT_OK;
    if (len < 4)
        return FDT_ERR_BAD_VALUE;
    *irq = (uint32_t)fdt_read_cells(v, 1);
    return FDT_OK;
}

static enum platform_err add_memory(struct parse *ps, int node)
{
    unsigned n;
    TRY_FDT(ps, fdt_reg_count(ps->f, node, &n));
    for (unsigned i = 0; i < n; i++) {
        uint64_t base, size;
        TRY_FDT(ps, fdt_reg(ps->f, node, i, &base, &size));
        if (region_wraps(base, size))
            return PLATFORM_ERR_BAD_REGION;
        if (size == 0)
            continue;
        if (ps->p->mem_count == PLATFORM_MAX_MEM) {
            ps->p->dropped++;
            continue;
        }
        ps->p->mem[ps->p->mem_count++] = (struct phys_region){base, size};
    }
    return PLATFORM_OK;
}

static enum platform_err add_reserved(struct parse *ps, uint64_t base, uint64_t size, bool no_map,
                                      const char *name)
{
    if (region_wraps(base, size))
        return PLATFORM_ERR_BAD_REGION;
    if (size == 0)
        return PLATFORM_OK;
    if (ps->p->reserved_count == PLATFORM_MAX_RESERVED) {
        ps->p->dropped++;
        return PLATFORM_OK;
    }
    struct platform_reserved *r = &ps->p->reserved[ps->p->reserved_count++];
    r->base = base;
    r->size = size;
    r->no_map = no_map;
    copy_str(r->name, sizeof r->name, name);
    return PLATFORM_OK;
}

static enum platform_err parse_reserved(struct parse *ps)
{
    const struct fdt *f = ps->f;
    for (unsigned i = 0; i < fdt_rsv_count(f); i++) {
        uint64_t base, size;
        TRY_FDT(ps, fdt_rsv_get(f, i, &base, &size));
        TRY(add_reserved(ps, base, size, false, "memreserve"));
    }
    int rm = fdt_path_offset(f, "/reserved-memory");
    if (rm < 0 || !fdt_node_is_enabled(f, rm))
        return PLATFORM_OK;
    /* The binding requires `ranges` here; a blob that forgets it still means
     * its regions literally, and skipping them would let the kernel hand
     * firmware memory out. /reserved-memory is a child of the root, so the
     * untranslated address is the CPU address. */
    bool translate = fdt_prop(f, rm, "ranges", NULL) != NULL;
    for (int c = fdt_first_child(f, rm); c >= 0; c = fdt_next_sibling(f, c)) {
        if (!fdt_node_is_enabled(f, c))
            continue;
        unsigned n;
        TRY_FDT(ps, fdt_reg_count(f, c, &n));
        bool no_map = fdt_prop(f, c, "no-map", NULL) != NULL;
        for (unsigned i = 0; i < n; i++) {
            uint64_t base, size;
            TRY_FDT(ps, translate ? fdt_reg(f, c, i, &base, &size)
                                  : fdt_reg_raw(f, c, i, &base, &size));
            TRY(add_reserved(ps, base, size, no_map, fdt_node_name(f, c)));
        }
    }
    return PLATFORM_OK;
}

static enum platform_err add_hart(struct parse *ps, int cpu)
{
    const struct fdt *f = ps->f;
    if (ps->p->hart_count == PLATFORM_MAX_HARTS) {
        ps->p->dropped++;
        return PLATFORM_OK;
    }
    struct platform_hart h = {.node = cpu, .enabled = fdt_node_is_enabled(f, cpu)};
    uint64_t size;
    TRY_FDT(ps, fdt_reg_raw(f, cpu, 0, &h.hartid, &size));
    const char *isa = "";
    TRY_FDT(ps, opt_string(f, cpu, "riscv,isa", &isa));
    copy_str(h.isa, sizeof h.isa, isa);
    const char *mmu = "";
    TRY_FDT(ps, opt_string(f, cpu, "mmu-type", &mmu));
    h.sv39 = strcmp(mmu, "riscv,sv39") == 0 || strcmp(mmu, "riscv,sv48") == 0 ||
             strcmp(mmu, "riscv,sv57") == 0;
    for (int c = fdt_first_child(f, cpu); c >= 0; c = fdt_next_sibling(f, c)) {
        if (fdt_node_is_compatible(f, c, "riscv,cpu-intc")) {
            h.intc_phandle = fdt_node_phandle(f, c);
            break;
        }
    }
    ps->p->harts[ps->p->hart_count++] = h;
    return PLATFORM_OK;
}

static enum platform_err parse_cpus(struct parse *ps)
{
    const struct fdt *f = ps->f;
    int cpus = fdt_path_offset(f, "/cpus");
    if (cpus < 0)
        return PLATFORM_ERR_NO_TIMEBASE;
    uint64_t tb = 0;
    enum fdt_err e = fdt_prop_u64(f, cpus, "timebase-frequency", &tb);
    if (e != FDT_OK && e != FDT_ERR_NOT_FOUND)
        TRY_FDT(ps, e);
    for (int c = fdt_first_child(f, cpus); c >= 0; c = fdt_next_sibling(f, c)) {
        if (!string_is(f, c, "device_type", "cpu"))
            continue;
        TRY(add_hart(ps, c));
        if (tb == 0) {
            /* Older trees put the timebase on each cpu node. */
            e = fdt_prop_u64(f, c, "timebase-frequency", &tb);
            if (e != FDT_OK && e != FDT_ERR_NOT_FOUND)
                TRY_FDT(ps, e);
        }
    }
    if (tb == 0)
        return PLATFORM_ERR_NO_TIMEBASE;
    ps->p->timebase_hz = tb;
    return PLATFORM_OK;
}

/* interrupts-extended of the PLIC: one <phandle specifier...> entry per
 * context, in context order. An entry aimed at a hart's cpu-intc with irq 9
 * (supervisor external interrupt) is that hart's S-mode context. */
static enum platform_err plic_contexts(struct parse *ps, int plic)
{
    const struct fdt *f = ps->f;
    uint32_t len;
    const uint8_t *v = fdt_prop(f, plic, "interrupts-extended", &len);
    if (!v)
        return PLATFORM_OK;
    if (len % 4 != 0)
        TRY_FDT(ps, FDT_ERR_BAD_VALUE);
    uint32_t ncells = len / 4;
    int32_t ctx = 0;
    for (uint32_t pos = 0; pos < ncells; ctx++) {
        uint32_t ph = (uint32_t)fdt_read_cells(v + pos * 4, 1);
        int target = fdt_node_by_phandle(f, ph);
        if (target < 0)
            TRY_FDT(ps, FDT_ERR_NOT_FOUND);
        uint32_t icells;
        TRY_FDT(ps, fdt_prop_u32(f, target, "#interrupt-cells", &icells));
        if (icells == 0 || icells > ncells - pos - 1)
            TRY_FDT(ps, FDT_ERR_BAD_VALUE);
        uint32_t irq = (uint32_t)fdt_read_cells(v + (pos + 1) * 4, 1);
        pos += 1 + icells;
        if (irq != 9)
            continue;
        for (unsigned i = 0; i < ps->p->hart_count; i++)
            if (ps->p->harts[i].intc_phandle == ph && ps->p->plic.s_context[i] < 0)
                ps->p->plic.s_context[i] = ctx;
    }
    return PLATFORM_OK;
}

static enum platform_err add_plic(struct parse *ps, int node)
{
    struct platform_plic *plic = &ps->p->plic;
    if (plic->present) {
        ps->p->dropped++; /* one PLIC per system is all we drive */
        return PLATFORM_OK;
    }
    TRY_FDT(ps, fdt_reg(ps->f, node, 0, &plic->base, &plic->size));
    if (region_wraps(plic->base, plic->size))
        return PLATFORM_ERR_BAD_REGION;
    TRY_FDT(ps, opt_u32(ps->f, node, "riscv,ndev", &plic->ndev));
    plic->phandle = fdt_node_phandle(ps->f, node);
    plic->present = true;
    return plic_contexts(ps, node);
}

static enum platform_err add_uart(struct parse *ps, int node, enum uart_kind kind)
{
    if (ps->p->uart_count == PLATFORM_MAX_UARTS) {
        ps->p->dropped++;
        return PLATFORM_OK;
    }
    const struct fdt *f = ps->f;
    struct platform_uart u = {.kind = kind, .reg_io_width = 1, .node = node};
    TRY_FDT(ps, fdt_reg(f, node, 0, &u.base, &u.size));
    if (region_wraps(u.base, u.size))
        return PLATFORM_ERR_BAD_REGION;
    TRY_FDT(ps, opt_u32(f, node, "reg-shift", &u.reg_shift));
    TRY_FDT(ps, opt_u32(f, node, "reg-io-width", &u.reg_io_width));
    /* some trees write clock-frequency as a 64-bit value */
    uint64_t clk = 0;
    enum fdt_err e = fdt_prop_u64(f, node, "clock-frequency", &clk);
    if (e != FDT_OK && e != FDT_ERR_NOT_FOUND)
        TRY_FDT(ps, e);
    if (clk > UINT32_MAX)
        TRY_FDT(ps, FDT_ERR_BAD_VALUE);
    u.clock_hz = (uint32_t)clk;
    TRY_FDT(ps, first_irq(f, node, &u.irq));
    ps->p->uarts[ps->p->uart_count++] = u;
    return PLATFORM_OK;
}

static enum platform_err add_virtio(struct parse *ps, int node)
{
    if (ps->p->virtio_count == PLATFORM_MAX_VIRTIO) {
        ps->p->dropped++;
        return PLATFORM_OK;
    }
    struct platform_virtio v;
    TRY_FDT(ps, fdt_reg(ps->f, node, 0, &v.base, &v.size));
    if (region_wraps(v.base, v.size))
        return PLATFORM_ERR_BAD_REGION;
    TRY_FDT(ps, first_irq(ps->f, node, &v.irq));
    ps->p->virtio[ps->p->virtio_count++] = v;
    return PLATFORM_OK;
}

static enum platform_err add_test_finisher(struct parse *ps, int node)
{
    if (ps->p->test_finisher.present) {
        ps->p->dropped++;
        return PLATFORM_OK;
    }
    uint64_t base, size;
    TRY_FDT(ps, fdt_reg(ps->f, node, 0, &base, &size));
    if (region_wraps(base, size))
        return PLATFORM_ERR_BAD_REGION;
    ps->p->test_finisher.present = true;
    ps->p->test_finisher.base = base;
    ps->p->test_finisher.size = size;
    return PLATFORM_OK;
}

static enum platform_err classify(struct parse *ps, int node, int *plic)
{
    const struct fdt *f = ps->f;
    if (string_is(f, node, "device_type", "memory"))
        return add_memory(ps, node);
    if (fdt_node_is_compatible(f, node, "riscv,plic0") ||
        fdt_node_is_compatible(f, node, "sifive,plic-1.0.0")) {
        if (*plic < 0)
            *plic = node;
        else
            ps->p->dropped++;
        return PLATFORM_OK;
    }
    /* DesignWare first: its nodes may also claim ns16550a compatibility. */
    if (fdt_node_is_compatible(f, node, "snps,dw-apb-uart"))
        return add_uart(ps, node, UART_DW_APB);
    if (fdt_node_is_compatible(f, node, "sifive,uart0"))
        return add_uart(ps, node, UART_SIFIVE);
    if (fdt_node_is_compatible(f, node, "ns16550a") || fdt_node_is_compatible(f, node, "ns16550"))
        return add_uart(ps, node, UART_NS16550A);
    if (fdt_node_is_compatible(f, node, "virtio,mmio"))
        return add_virtio(ps, node);
    if (fdt_node_is_compatible(f, node, "sifive,test1") ||
        fdt_node_is_compatible(f, node, "sifive,test0"))
        return add_test_finisher(ps, node);
    return PLATFORM_OK;
}

static enum platform_err walk_devices(struct parse *ps)
{
    const struct fdt *f = ps->f;
    /* enabled[d]: the node at depth d and all its ancestors are enabled */
    bool enabled[FDT_MAX_DEPTH + 1];
    int plic = -1;
    int depth = 0;
    for (int n = fdt_next_node(f, -1, &depth); n >= 0; n = fdt_next_node(f, n, &depth)) {
        if (depth < 1 || depth > FDT_MAX_DEPTH)
            break; /* fdt_open() guarantees 1..FDT_MAX_DEPTH */
        enabled[depth] = (depth == 1 || enabled[depth - 1]) && fdt_node_is_enabled(f, n);
        if (enabled[depth])
            TRY(classify(ps, n, &plic));
    }
    if (plic >= 0)
        TRY(add_plic(ps, plic));
    return PLATFORM_OK;
}

static enum platform_err parse_chosen(struct parse *ps)
{
    const struct fdt *f = ps->f;
    struct platform *p = ps->p;
    int chosen = fdt_path_offset(f, "/chosen");
    if (chosen < 0)
        return PLATFORM_OK;

    TRY_FDT(ps, opt_string(f, chosen, "bootargs", &p->bootargs));

    const char *path = NULL;
    TRY_FDT(ps, opt_string(f, chosen, "stdout-path", &path));
    if (!path)
        TRY_FDT(ps, opt_string(f, chosen, "linux,stdout-path", &path));
    if (path) {
        /* "serial0:115200n8": the options after ':' are the UART's business */
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        int node = fdt_path_offset_n(f, path, len);
        for (unsigned i = 0; node >= 0 && i < p->uart_count; i++)
            if (p->uarts[i].node == node)
                p->stdout_uart = (int)i;
    }

    uint64_t start = 0, end = 0;
    enum fdt_err es = fdt_prop_u64(f, chosen, "linux,initrd-start", &start);
    enum fdt_err ee = fdt_prop_u64(f, chosen, "linux,initrd-end", &end);
    if (es == FDT_ERR_NOT_FOUND && ee == FDT_ERR_NOT_FOUND)
        return PLATFORM_OK;
    if (es != FDT_OK && es != FDT_ERR_NOT_FOUND)
        TRY_FDT(ps, es);
    if (ee != FDT_OK && ee != FDT_ERR_NOT_FOUND)
        TRY_FDT(ps, ee);
    if (es != FDT_OK || ee != FDT_OK || end < start)
        return PLATFORM_ERR_BAD_INITRD;
    p->initrd_start = start;
    p->initrd_end = end;
    return PLATFORM_OK;
}

enum platform_err platform_parse(const struct fdt *fdt, struct platform *out,
                                 enum fdt_err *fdt_detail)
{
    struct parse ps = {.f = fdt, .p = out, .detail = FDT_OK};
    memset(out, 0, sizeof *out);
    out->stdout_uart = -1;
    out->bootargs = "";
    for (unsigned i = 0; i < PLATFORM_MAX_HARTS; i++)
        out->plic.s_context[i] = -1;

    enum platform_err err = PLATFORM_OK;
    const char *model = "";
    enum fdt_err e = opt_string(fdt, fdt_root(fdt), "model", &model);
    if (e != FDT_OK) {
        ps.detail = e;
        err = PLATFORM_ERR_FDT;
    }
    copy_str(out->model, sizeof out->model, model);

    if (err == PLATFORM_OK)
        err = parse_cpus(&ps);
    if (err == PLATFORM_OK)
        err = walk_devices(&ps);
    if (err == PLATFORM_OK)
        err = parse_reserved(&ps);
    if (err == PLATFORM_OK)
        err = parse_chosen(&ps);
    if (err == PLATFORM_OK && out->mem_count == 0)
        err = PLATFORM_ERR_NO_MEMORY;
    if (fdt_detail)
        *fdt_detail = err == PLATFORM_ERR_FDT ? ps.detail : FDT_OK;
    return err;
}
