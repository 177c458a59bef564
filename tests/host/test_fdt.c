/* FDT parser tests: libfdt as the oracle on every real blob, the API on a
 * hand-written fixture, and one malformed variant of a real blob per error
 * the parser must report. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/lib/fdt.h"

#include "fdt_blobs.h"
#include "fdt_oracle.h"
#include "fdt_testlib.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { TOK_BEGIN_NODE = 1, TOK_END_NODE = 2, TOK_PROP = 3, TOK_NOP = 4, TOK_END = 9 };

static uint8_t *load(const char *name, size_t *size)
{
    uint8_t *b = fdt_test_load(name, size, 1);
    if (!b)
        fail_msg("cannot load %s (build the fdt_test_data target)", name);
    return b;
}

/* ---------------------------------------------------------------------- */
/* Oracle                                                                 */

static uint64_t cells(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 32 | fdt_test_get32(p, 4 * (size_t)i);
    return v;
}

/* Our view of one node against libfdt's. */
static void compare_node(const struct fdt *f, const uint8_t *blob, int n)
{
    assert_string_equal(fdt_node_name(f, n), oracle_node_name(blob, n));

    int op = oracle_parent(blob, n);
    assert_int_equal(fdt_parent(f, n), op < 0 ? -1 : op);
    int oc = oracle_first_subnode(blob, n);
    assert_int_equal(fdt_first_child(f, n), oc < 0 ? -1 : oc);
    if (n != fdt_root(f)) {
        int os = oracle_next_subnode(blob, n);
        assert_int_equal(fdt_next_sibling(f, n), os < 0 ? -1 : os);
    }

    uint32_t ph = oracle_phandle(blob, n);
    assert_int_equal(fdt_node_phandle(f, n), ph);
    if (ph != 0) {
        int on = oracle_node_by_phandle(blob, ph);
        assert_int_equal(fdt_node_by_phandle(f, ph), on < 0 ? -1 : on);
    }

    char path[1024];
    assert_int_equal(oracle_get_path(blob, n, path, sizeof path), 0);
    /* usually n, but "/x/unit" may find "unit@1" before "unit" (as in libfdt) */
    assert_int_equal(fdt_path_offset(f, path), oracle_path_offset(blob, path));
    /* The same path with unit addresses dropped: first match, like libfdt. */
    char short_path[1024];
    size_t j = 0;
    for (const char *p = path; *p;) {
        if (*p == '@') {
            while (*p && *p != '/')
                p++;
        } else {
            short_path[j++] = *p++;
        }
    }
    short_path[j] = '\0';
    int os = oracle_path_offset(blob, short_path);
    assert_int_equal(fdt_path_offset(f, short_path), os < 0 ? -1 : os);

    int p1 = fdt_first_prop(f, n), p2 = oracle_first_prop(blob, n);
    for (; p2 >= 0; p1 = fdt_next_prop(f, p1), p2 = oracle_next_prop(blob, p2)) {
        assert_int_equal(p1, p2);
        const char *name1, *name2;
        uint32_t len1;
        int len2;
        const void *v1 = fdt_prop_at(f, p1, &name1, &len1);
        const void *v2 = oracle_prop_at(blob, p2, &name2, &len2);
        assert_non_null(v1);
        assert_ptr_equal(v1, v2);
        assert_ptr_equal(name1, name2);
        assert_int_equal(len1, len2);

        uint32_t len3;
        int len4;
        assert_ptr_equal(fdt_prop(f, n, name1, &len3), oracle_getprop(blob, n, name1, &len4));
        assert_int_equal(len3, len4);

        int oc = oracle_stringlist_count(blob, n, name1);
        if (oc >= 0) {
            assert_int_equal(fdt_strlist_count(f, n, name1), oc);
            for (int i = 0; i < oc; i++) {
                const char *s;
                assert_int_equal(fdt_strlist_get(f, n, name1, (unsigned)i, &s), FDT_OK);
                assert_ptr_equal(s, oracle_stringlist_get(blob, n, name1, i));
                assert_int_equal(fdt_strlist_find(f, n, name1, s) <= i, 1);
                if (strcmp(name1, "compatible") == 0) {
                    assert_true(fdt_node_is_compatible(f, n, s));
                    assert_true(oracle_is_compatible(blob, n, s));
                }
            }
        }
        if (len1 == 4) {
            uint32_t v;
            assert_int_equal(fdt_prop_u32(f, n, name1, &v), FDT_OK);
            assert_int_equal(v, fdt_test_get32(v2, 0));
        }
    }
    assert_int_equal(p1, -1);
    assert_false(fdt_node_is_compatible(f, n, "no,such-device"));
    assert_int_equal(oracle_is_compatible(blob, n, "no,such-device"), 0);

    int ac = oracle_address_cells(blob, n), sc = oracle_size_cells(blob, n);
    if (ac >= 0)
        assert_int_equal(fdt_address_cells(f, n), ac);
    if (sc >= 0)
        assert_int_equal(fdt_size_cells(f, n), sc);

    /* reg decoded by hand from libfdt's view of the parent's cells */
    int rlen;
    const uint8_t *reg = oracle_getprop(blob, n, "reg", &rlen);
    unsigned count;
    if (!reg) {
        assert_int_equal(fdt_reg_count(f, n, &count), FDT_OK);
        assert_int_equal(count, 0);
        return;
    }
    if (op < 0) {
        assert_int_equal(fdt_reg_count(f, n, &count), FDT_ERR_NOT_FOUND);
        return;
    }
    int pac = oracle_address_cells(blob, op), psc = oracle_size_cells(blob, op);
    if (pac < 1 || pac > 2 || psc < 0 || psc > 2 || rlen % ((pac + psc) * 4) != 0) {
        assert_int_equal(fdt_reg_count(f, n, &count), FDT_ERR_BAD_VALUE);
        return;
    }
    assert_int_equal(fdt_reg_count(f, n, &count), FDT_OK);
    assert_int_equal(count, rlen / ((pac + psc) * 4));
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *e = reg + i * (pac + psc) * 4;
        uint64_t a, s, ta, ts;
        assert_int_equal(fdt_reg_raw(f, n, i, &a, &s), FDT_OK);
        assert_int_equal(a, cells(e, pac));
        assert_int_equal(s, cells(e + pac * 4, psc));
        enum fdt_err e2 = fdt_reg(f, n, i, &ta, &ts);
        assert_true(e2 == FDT_OK || e2 == FDT_ERR_NOT_FOUND || e2 == FDT_ERR_BAD_VALUE);
        if (e2 == FDT_OK)
            assert_int_equal(ts, s);
        /* Buses with empty `ranges` all the way up: identity. */
        bool identity = true;
        for (int b = op; b >= 0 && oracle_parent(blob, b) >= 0; b = oracle_parent(blob, b)) {
            int l;
            if (!oracle_getprop(blob, b, "ranges", &l) || l != 0)
                identity = false;
        }
        if (identity) {
            assert_int_equal(e2, FDT_OK);
            assert_int_equal(ta, a);
        }
    }
    uint64_t a, s;
    assert_int_equal(fdt_reg_raw(f, n, count, &a, &s), FDT_ERR_NOT_FOUND);
}

static void compare_blob(const uint8_t *blob, size_t size)
{
    struct fdt f;
    assert_int_equal(oracle_check_full(blob, size), 0);
    assert_int_equal(fdt_open(&f, blob, size), FDT_OK);
    assert_int_equal(fdt_total_size(&f), oracle_total_size(blob));
    assert_int_equal(fdt_boot_cpuid(&f), fdt_test_hdr(blob, HDR_BOOT_CPUID));

    assert_int_equal(fdt_rsv_count(&f), oracle_num_rsv(blob));
    for (unsigned i = 0; i < fdt_rsv_count(&f); i++) {
        uint64_t a1, s1, a2, s2;
        assert_int_equal(fdt_rsv_get(&f, i, &a1, &s1), FDT_OK);
        assert_int_equal(oracle_get_rsv(blob, (int)i, &a2, &s2), 0);
        assert_int_equal(a1, a2);
        assert_int_equal(s1, s2);
    }
    uint64_t a, s;
    assert_int_equal(fdt_rsv_get(&f, fdt_rsv_count(&f), &a, &s), FDT_ERR_NOT_FOUND);

    int d1 = 0, d2 = 0, nodes = 0;
    int n1 = fdt_next_node(&f, -1, &d1), n2 = oracle_next_node(blob, -1, &d2);
    assert_int_equal(n1, fdt_root(&f));
    for (; n2 >= 0; n1 = fdt_next_node(&f, n1, &d1), n2 = oracle_next_node(blob, n2, &d2)) {
        assert_int_equal(n1, n2);
        assert_int_equal(d1, d2);
        compare_node(&f, blob, n1);
        nodes++;
    }
    assert_int_equal(n1, -1);
    assert_true(nodes > 0);

    /* every alias resolves the same way */
    int al = fdt_path_offset(&f, "/aliases");
    for (int p = fdt_first_prop(&f, al); p >= 0; p = fdt_next_prop(&f, p)) {
        const char *name;
        fdt_prop_at(&f, p, &name, NULL);
        int o = oracle_path_offset(blob, name);
        assert_int_equal(fdt_path_offset(&f, name), o < 0 ? -1 : o);
    }
}

static void test_oracle_all_blobs(void **state)
{
    (void)state;
    assert_true(ARRAY_LEN(fdt_test_blobs) >= 5);
    for (size_t i = 0; i < ARRAY_LEN(fdt_test_blobs); i++) {
        size_t size;
        uint8_t *b = load(fdt_test_blobs[i], &size);
        print_message("oracle: %s (%zu bytes)\n", fdt_test_blobs[i], size);
        compare_blob(b, size);
        free(b);
        /* the uncompacted QEMU dump, with its free space, too */
        b = fdt_test_load(fdt_test_blobs[i], &size, 0);
        struct fdt f;
        assert_int_equal(fdt_open(&f, b, size), FDT_OK);
        free(b);
    }
}

/* The blob at an odd address parses the same (byte loads only). */
static void test_unaligned_blob(void **state)
{
    (void)state;
    size_t size;
    uint8_t *b = load("qemu-virt.dtb", &size);
    uint8_t *u = malloc(size + 1);
    memcpy(u + 1, b, size);
    struct fdt fa, fu;
    assert_int_equal(fdt_open(&fa, b, size), FDT_OK);
    assert_int_equal(fdt_open(&fu, u + 1, size), FDT_OK);
    int na = fdt_next_node(&fa, -1, NULL), nu = fdt_next_node(&fu, -1, NULL);
    for (; na >= 0; na = fdt_next_node(&fa, na, NULL), nu = fdt_next_node(&fu, nu, NULL)) {
        assert_int_equal(na, nu);
        assert_string_equal(fdt_node_name(&fa, na), fdt_node_name(&fu, nu));
        int pa = fdt_first_prop(&fa, na), pu = fdt_first_prop(&fu, nu);
        for (; pa >= 0; pa = fdt_next_prop(&fa, pa), pu = fdt_next_prop(&fu, pu)) {
            const char *sa, *su;
            uint32_t la, lu;
            const void *va = fdt_prop_at(&fa, pa, &sa, &la);
            const void *vu = fdt_prop_at(&fu, pu, &su, &lu);
            assert_string_equal(sa, su);
            assert_int_equal(la, lu);
            assert_memory_equal(va, vu, la);
        }
        assert_int_equal(pu, -1);
        uint64_t a1, s1, a2, s2;
        enum fdt_err e1 = fdt_reg(&fa, na, 0, &a1, &s1);
        assert_int_equal(fdt_reg(&fu, nu, 0, &a2, &s2), e1);
        if (e1 == FDT_OK) {
            assert_int_equal(a1, a2);
            assert_int_equal(s1, s2);
        }
    }
    assert_int_equal(nu, -1);
    free(u);
    free(b);
}

/* ---------------------------------------------------------------------- */
/* Malformed blobs                                                        */

struct blob {
    uint8_t *b;
    size_t size;
};

static struct blob virt(void)
{
    struct blob x;
    x.b = load("qemu-virt.dtb", &x.size);
    return x;
}

static enum fdt_err open_exact(const uint8_t *b, size_t size)
{
    /* An exactly sized copy, so an overread is an ASan report. */
    uint8_t *c = fdt_test_dup(b, size);
    struct fdt f;
    enum fdt_err e = fdt_open(&f, c, size);
    if (e != FDT_OK) {
        /* a refused blob leaves nothing to walk */
        assert_int_equal(fdt_root(&f), -1);
        assert_int_equal(fdt_next_node(&f, -1, NULL), -1);
        assert_int_equal(fdt_path_offset(&f, "/"), -1);
        assert_int_equal(fdt_rsv_count(&f), 0);
    }
    free(c);
    return e;
}

static void splice(struct blob *x, uint32_t at, const void *bytes, size_t n)
{
    x->b = fdt_test_splice(x->b, &x->size, at, bytes, n);
}

static uint32_t struct_size(const struct blob *x)
{
    return fdt_test_hdr(x->b, HDR_SIZE_STRUCT);
}
static uint32_t struct_off(const struct blob *x)
{
    return fdt_test_hdr(x->b, HDR_OFF_STRUCT);
}

/* Offset (in the struct block) just inside the root, after its BEGIN_NODE. */
static uint32_t root_body(const struct blob *x)
{
    assert_int_equal(fdt_test_get32(x->b, struct_off(x)), TOK_BEGIN_NODE);
    assert_int_equal(x->b[struct_off(x) + 4], 0); /* root name "" */
    return 8;
}

static void be32s(uint8_t *out, const uint32_t *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fdt_test_put32(out, 4 * i, words[i]);
}

static void test_truncated_prefixes(void **state)
{
    (void)state;
    struct blob x = virt();
    assert_int_equal(open_exact(x.b, x.size), FDT_OK);
    for (size_t len = 0; len < x.size; len++)
        assert_int_equal(open_exact(x.b, len), FDT_ERR_TRUNCATED);
    /* Same prefixes with a header that claims they are whole: refused too. */
    for (size_t len = 40; len < x.size; len++) {
        uint8_t *c = fdt_test_dup(x.b, len);
        fdt_test_set_hdr(c, HDR_TOTALSIZE, (uint32_t)len);
        assert_int_not_equal(open_exact(c, len), FDT_OK);
        free(c);
    }
    free(x.b);
}

static void test_bad_magic(void **state)
{
    (void)state;
    struct blob x = virt();
    x.b[0] ^= 0x01;
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_MAGIC);
    assert_int_equal(open_exact((const uint8_t *)"\xd0\x0d\xfe\xed", 4), FDT_ERR_TRUNCATED);
    struct fdt f;
    assert_int_equal(fdt_open(&f, NULL, 100), FDT_ERR_TRUNCATED);
    free(x.b);
}

static void test_bad_version(void **state)
{
    (void)state;
    struct blob x = virt();
    fdt_test_set_hdr(x.b, HDR_VERSION, 15);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_VERSION);
    fdt_test_set_hdr(x.b, HDR_VERSION, 17);
    fdt_test_set_hdr(x.b, HDR_LAST_COMP, 18);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_VERSION);
    /* a newer version that stays backward compatible is fine */
    fdt_test_set_hdr(x.b, HDR_VERSION, 18);
    fdt_test_set_hdr(x.b, HDR_LAST_COMP, 16);
    assert_int_equal(open_exact(x.b, x.size), FDT_OK);
    free(x.b);
}

static void test_totalsize_beyond_avail(void **state)
{
    (void)state;
    struct blob x = virt();
    assert_int_equal(open_exact(x.b, x.size - 1), FDT_ERR_TRUNCATED);
    fdt_test_set_hdr(x.b, HDR_TOTALSIZE, (uint32_t)x.size + 1);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_TRUNCATED);
    fdt_test_set_hdr(x.b, HDR_TOTALSIZE, 0xffffffffu);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_TRUNCATED);
    fdt_test_set_hdr(x.b, HDR_TOTALSIZE, 20); /* smaller than the header */
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_HEADER);
    free(x.b);
}

static void test_offsets_past_end(void **state)
{
    (void)state;
    static const struct {
        unsigned field;
        uint32_t value; /* 0: totalsize */
    } cases[] = {
        {HDR_OFF_STRINGS, 0},
        {HDR_OFF_STRUCT, 0},
        {HDR_OFF_RSVMAP, 0},
        {HDR_SIZE_STRUCT, 0xfffffff0u},
        {HDR_SIZE_STRINGS, 0xffffffffu},
        {HDR_OFF_STRINGS, 0xffffff00u},
        {HDR_OFF_STRUCT, 0xfffffff0u},
        {HDR_OFF_RSVMAP, 0xfffffff8u},
        {HDR_OFF_RSVMAP, 8},
        {HDR_OFF_STRUCT, 4},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct blob x = virt();
        uint32_t v = cases[i].value ? cases[i].value : (uint32_t)x.size;
        fdt_test_set_hdr(x.b, cases[i].field, v);
        assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_HEADER);
        free(x.b);
    }
}

static void test_overlapping_blocks(void **state)
{
    (void)state;
    struct blob x = virt();
    uint32_t st = struct_off(&x);
    /* strings on top of the struct block */
    fdt_test_set_hdr(x.b, HDR_OFF_STRINGS, st + 16);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_HEADER);
    free(x.b);

    /* rsvmap on top of the struct block (0x38 is 8-aligned) */
    x = virt();
    assert_int_equal(st % 8, 0);
    fdt_test_set_hdr(x.b, HDR_OFF_RSVMAP, st);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_HEADER);
    free(x.b);

    /* rsvmap whose terminator is gone runs into the struct block */
    x = virt();
    uint32_t rsv = fdt_test_hdr(x.b, HDR_OFF_RSVMAP);
    fdt_test_put32(x.b, rsv + 4, 0x80000000u);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_HEADER);
    free(x.b);

    /* struct block grown over the strings block */
    x = virt();
    fdt_test_set_hdr(x.b, HDR_SIZE_STRUCT, struct_size(&x) + 8);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_HEADER);
    free(x.b);
}

static void test_misaligned_blocks(void **state)
{
    (void)state;
    struct blob x = virt();
    fdt_test_set_hdr(x.b, HDR_OFF_STRUCT, struct_off(&x) + 2);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_ALIGN);
    free(x.b);

    x = virt();
    fdt_test_set_hdr(x.b, HDR_OFF_RSVMAP, fdt_test_hdr(x.b, HDR_OFF_RSVMAP) + 4);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_ALIGN);
    free(x.b);

    x = virt();
    fdt_test_set_hdr(x.b, HDR_SIZE_STRUCT, struct_size(&x) - 2);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_ALIGN);
    free(x.b);
}

static void test_misaligned_token(void **state)
{
    (void)state;
    /* BEGIN_NODE "ab" written without its padding byte, END_NODE right
     * after the NUL: the token that should be at +8 sits at +7. */
    struct blob x = virt();
    uint8_t bytes[12] = {0, 0, 0, TOK_BEGIN_NODE, 'a', 'b', 0, 0, 0, 0, TOK_END_NODE, 0};
    splice(&x, root_body(&x), bytes, sizeof bytes);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_ALIGN);
    free(x.b);

    /* A property value one byte short of its padding. */
    x = virt();
    uint8_t prop[20];
    uint32_t w[] = {TOK_PROP, 3, 0, 0x61626300, TOK_NOP};
    be32s(prop, w, ARRAY_LEN(w));
    memmove(prop + 15, prop + 16, 4); /* NOP moved up to offset 15 */
    prop[19] = 0;
    splice(&x, root_body(&x), prop, sizeof prop);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_ALIGN);
    free(x.b);
}

static void test_unknown_token(void **state)
{
    (void)state;
    /* (0x01000000 would read as a BEGIN_NODE left unpadded after the root's
     * name: that is reported as BAD_ALIGN) */
    static const uint32_t bad[] = {0, 5, 8, 10, 0x100, 0xffffffffu};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct blob x = virt();
        uint8_t w[4];
        fdt_test_put32(w, 0, bad[i]);
        splice(&x, root_body(&x), w, 4);
        assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_TOKEN);
        free(x.b);
    }
    /* NOPs are allowed anywhere between tokens, before and after the root */
    struct blob x = virt();
    uint8_t nop[4] = {0, 0, 0, TOK_NOP};
    splice(&x, struct_size(&x) - 12, nop, 4);
    splice(&x, root_body(&x), nop, 4);
    splice(&x, 0, nop, 4);
    assert_int_equal(open_exact(x.b, x.size), FDT_OK);
    struct fdt f;
    assert_int_equal(fdt_open(&f, x.b, x.size), FDT_OK);
    assert_int_equal(fdt_root(&f), 4);
    assert_int_equal(fdt_path_offset(&f, "/"), 4);
    assert_true(fdt_path_offset(&f, "/soc/serial@10000000") > 0);
    assert_int_equal(oracle_check_full(x.b, x.size), 0);
    /* libfdt's fdt_check_full() refuses a NOP between the root's END_NODE
     * and FDT_END; the spec lets a parser skip NOPs anywhere, and so do we. */
    splice(&x, struct_size(&x) - 4, nop, 4);
    assert_int_equal(open_exact(x.b, x.size), FDT_OK);
    free(x.b);
}

static void test_prop_name_outside_strings(void **state)
{
    (void)state;
    struct blob x = virt();
    uint32_t strings = fdt_test_hdr(x.b, HDR_SIZE_STRINGS);
    const uint32_t offs[] = {strings, strings + 1, 0x7fffffffu, 0xffffffffu};
    for (size_t i = 0; i < ARRAY_LEN(offs); i++) {
        struct blob y = {fdt_test_dup(x.b, x.size), x.size};
        uint32_t w[] = {TOK_PROP, 0, offs[i]};
        uint8_t bytes[12];
        be32s(bytes, w, 3);
        splice(&y, root_body(&y), bytes, sizeof bytes);
        assert_int_equal(open_exact(y.b, y.size), FDT_ERR_BAD_STRING);
        free(y.b);
    }
    free(x.b);
}

static void test_unterminated_node_name(void **state)
{
    (void)state;
    /* Cut the struct block in the middle of a long node name. */
    struct blob x = virt();
    struct fdt f;
    assert_int_equal(fdt_open(&f, x.b, x.size), FDT_OK);
    int n = fdt_path_offset(&f, "/soc/virtio_mmio@10008000");
    assert_true(n > 0);
    uint32_t cut = (uint32_t)n + 12;
    memset(x.b + struct_off(&x) + cut, 0, struct_size(&x) - cut); /* keep it canonical */
    fdt_test_set_hdr(x.b, HDR_SIZE_STRUCT, cut);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRING);
    free(x.b);

    /* The very last bytes of the block are a name without NUL. */
    x = virt();
    uint8_t bytes[12] = {0, 0, 0, TOK_BEGIN_NODE, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
    uint32_t end = struct_size(&x);
    splice(&x, end, bytes, sizeof bytes);
    /* the old END is now followed by more data, so replace it with a NOP */
    fdt_test_put32(x.b, struct_off(&x) + end - 4, TOK_NOP);
    /* and close the root later: turn its END_NODE into a NOP too */
    fdt_test_put32(x.b, struct_off(&x) + end - 8, TOK_NOP);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRING);
    free(x.b);
}

static void test_unterminated_strings_block(void **state)
{
    (void)state;
    struct blob x = virt();
    uint32_t str = fdt_test_hdr(x.b, HDR_OFF_STRINGS);
    uint32_t len = fdt_test_hdr(x.b, HDR_SIZE_STRINGS);
    assert_int_equal(x.b[str + len - 1], 0);
    x.b[str + len - 1] = 'x';
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRING);
    free(x.b);

    /* or a strings block shrunk so the last name loses its NUL */
    x = virt();
    fdt_test_set_hdr(x.b, HDR_SIZE_STRINGS, len - 1);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRING);
    free(x.b);
}

static void nest(struct blob *x, unsigned levels)
{
    size_t n = levels * 12;
    uint8_t *bytes = calloc(1, n);
    for (unsigned i = 0; i < levels; i++) {
        fdt_test_put32(bytes, 8 * i, TOK_BEGIN_NODE);
        bytes[8 * i + 4] = 'n';
        fdt_test_put32(bytes, 8 * levels + 4 * i, TOK_END_NODE);
    }
    /* just before the root's END_NODE: after its props and children */
    splice(x, struct_size(x) - 8, bytes, n);
    free(bytes);
}

static void test_too_deep(void **state)
{
    (void)state;
    struct blob x = virt();
    nest(&x, FDT_MAX_DEPTH - 1); /* with the root: exactly the limit */
    assert_int_equal(open_exact(x.b, x.size), FDT_OK);
    struct fdt f;
    assert_int_equal(fdt_open(&f, x.b, x.size), FDT_OK);
    char path[2 * FDT_MAX_DEPTH + 1] = "";
    for (int i = 0; i < FDT_MAX_DEPTH - 1; i++)
        strcat(path, "/n");
    int deepest = fdt_path_offset(&f, path);
    assert_true(deepest > 0);
    assert_int_equal(fdt_first_child(&f, deepest), -1);
    uint64_t a, s;
    assert_int_equal(fdt_reg(&f, deepest, 0, &a, &s), FDT_ERR_NOT_FOUND);
    int depth = 0;
    int n = fdt_next_node(&f, -1, &depth);
    while (n != deepest)
        n = fdt_next_node(&f, n, &depth);
    assert_int_equal(depth, FDT_MAX_DEPTH);
    free(x.b);

    x = virt();
    nest(&x, FDT_MAX_DEPTH);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_TOO_DEEP);
    free(x.b);

    x = virt();
    nest(&x, 1000);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_TOO_DEEP);
    free(x.b);
}

static void test_unbalanced(void **state)
{
    (void)state;
    uint8_t end_node[4] = {0, 0, 0, TOK_END_NODE};
    uint8_t begin_root[8] = {0, 0, 0, TOK_BEGIN_NODE, 0, 0, 0, 0};

    /* END_NODE with no node open (after the root closed) */
    struct blob x = virt();
    splice(&x, struct_size(&x) - 4, end_node, 4);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRUCTURE);
    free(x.b);

    /* END_NODE as the very first token */
    x = virt();
    splice(&x, 0, end_node, 4);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRUCTURE);
    free(x.b);

    /* root closed early: the properties that follow are outside any node */
    x = virt();
    splice(&x, root_body(&x), end_node, 4);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRUCTURE);
    free(x.b);

    /* a second root */
    x = virt();
    uint8_t two[12];
    memcpy(two, begin_root, 8);
    memcpy(two + 8, end_node, 4);
    splice(&x, struct_size(&x) - 4, two, sizeof two);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRUCTURE);
    free(x.b);

    /* FDT_END with a node still open */
    x = virt();
    fdt_test_put32(x.b, struct_off(&x) + struct_size(&x) - 8, TOK_NOP);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRUCTURE);
    free(x.b);

    /* an empty structure block: FDT_END only */
    x = virt();
    uint32_t w = TOK_END;
    uint8_t endtok[4];
    be32s(endtok, &w, 1);
    memcpy(x.b + struct_off(&x), endtok, 4);
    memset(x.b + struct_off(&x) + 4, 0, struct_size(&x) - 4);
    fdt_test_set_hdr(x.b, HDR_SIZE_STRUCT, 4);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRUCTURE);
    free(x.b);
}

static void test_missing_end(void **state)
{
    (void)state;
    struct blob x = virt();
    fdt_test_put32(x.b, struct_off(&x) + struct_size(&x) - 4, TOK_NOP);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRUCTURE);
    free(x.b);

    x = virt();
    fdt_test_set_hdr(x.b, HDR_SIZE_STRUCT, struct_size(&x) - 4);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRUCTURE);
    free(x.b);
}

static void test_data_after_end(void **state)
{
    (void)state;
    struct blob x = virt();
    uint8_t nop[4] = {0, 0, 0, TOK_NOP};
    splice(&x, struct_size(&x), nop, 4);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRUCTURE);
    free(x.b);
}

static void test_prop_len_past_block(void **state)
{
    (void)state;
    static const uint32_t lens[] = {0x1000, 0x7ffffff0u, 0xfffffff9u, 0xffffffffu};
    for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
        struct blob x = virt();
        struct fdt f;
        assert_int_equal(fdt_open(&f, x.b, x.size), FDT_OK);
        /* the last property of the last node */
        int last = -1;
        for (int n = fdt_next_node(&f, -1, NULL); n >= 0; n = fdt_next_node(&f, n, NULL))
            for (int p = fdt_first_prop(&f, n); p >= 0; p = fdt_next_prop(&f, p))
                last = p;
        assert_true(last > 0);
        fdt_test_put32(x.b, struct_off(&x) + (uint32_t)last + 4, lens[i]);
        assert_int_equal(open_exact(x.b, x.size), FDT_ERR_TRUNCATED);
        free(x.b);

        /* or the block ends inside that property's header */
        x = virt();
        fdt_test_set_hdr(x.b, HDR_SIZE_STRUCT, (uint32_t)last + 8);
        assert_int_equal(open_exact(x.b, x.size), FDT_ERR_TRUNCATED);
        free(x.b);
    }
}

static void test_props_after_child(void **state)
{
    (void)state;
    /* a property of the root after its last child */
    struct blob x = virt();
    uint32_t w[] = {TOK_PROP, 0, 0};
    uint8_t bytes[12];
    be32s(bytes, w, 3);
    splice(&x, struct_size(&x) - 8, bytes, sizeof bytes);
    assert_int_equal(open_exact(x.b, x.size), FDT_ERR_BAD_STRUCTURE);
    free(x.b);

    /* the same property before the first child is fine */
    x = virt();
    splice(&x, root_body(&x), bytes, sizeof bytes);
    assert_int_equal(open_exact(x.b, x.size), FDT_OK);
    free(x.b);
}

static void test_v16_header(void **state)
{
    (void)state;
    size_t size;
    uint8_t *b = load("qemu-virt-v16.dtb", &size);
    assert_int_equal(fdt_test_hdr(b, HDR_VERSION), 16);
    struct fdt f;
    assert_int_equal(open_exact(b, size), FDT_OK);
    assert_int_equal(fdt_open(&f, b, size), FDT_OK);
    assert_true(fdt_path_offset(&f, "/soc/plic") > 0);
    /* v16 blobs learn their struct size from FDT_END: cut it */
    uint32_t st = fdt_test_hdr(b, HDR_OFF_STRUCT);
    uint32_t str = fdt_test_hdr(b, HDR_OFF_STRINGS);
    assert_true(str > st);
    fdt_test_put32(b, str - 4, TOK_NOP);
    assert_int_not_equal(open_exact(b, size), FDT_OK);
    free(b);
}

/* ---------------------------------------------------------------------- */
/* API on the fixture                                                     */

struct fixture {
    uint8_t *b;
    size_t size;
    struct fdt f;
};

static int fixture_setup(void **state)
{
    struct fixture *x = calloc(1, sizeof *x);
    x->b = fdt_test_load("fdt-fixture.dtb", &x->size, 1);
    if (!x->b || fdt_open(&x->f, x->b, x->size) != FDT_OK)
        return -1;
    *state = x;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *x = *state;
    free(x->b);
    free(x);
    return 0;
}

static int node(const struct fixture *x, const char *path)
{
    int n = fdt_path_offset(&x->f, path);
    if (n < 0)
        fail_msg("no node %s", path);
    return n;
}

static void test_paths(void **state)
{
    struct fixture *x = *state;
    const struct fdt *f = &x->f;
    assert_int_equal(fdt_path_offset(f, "/"), fdt_root(f));
    assert_int_equal(fdt_path_offset(f, "//"), fdt_root(f));
    assert_string_equal(fdt_node_name(f, fdt_root(f)), "");
    int uart = node(x, "/soc/serial@10010000");
    assert_string_equal(fdt_node_name(f, uart), "serial@10010000");
    assert_int_equal(fdt_path_offset(f, "/soc/serial"), node(x, "/soc/serial@10000000"));
    assert_int_equal(fdt_path_offset(f, "/soc//serial@10010000/"), uart);
    assert_int_equal(fdt_path_offset(f, "/soc/serial@1001"), -1);
    assert_int_equal(fdt_path_offset(f, "/soc/seria"), -1);
    assert_int_equal(fdt_path_offset(f, "/soc/serial@10010000x"), -1);
    assert_int_equal(fdt_path_offset(f, "/nope"), -1);
    assert_int_equal(fdt_path_offset(f, ""), -1);
    /* "unit" matches the exact name or, failing that, the first "unit@..." */
    assert_int_equal(fdt_path_offset(f, "/misc/unit"), node(x, "/misc/unit@1"));
    assert_int_equal(fdt_path_offset(f, "/misc/unit/leaf"), -1);
    assert_true(fdt_path_offset(f, "/misc/unit@2/leaf") > 0);
    /* aliases */
    assert_int_equal(fdt_path_offset(f, "console"), uart);
    assert_int_equal(fdt_path_offset(f, "serial0"), node(x, "/soc/serial@10000000"));
    assert_int_equal(fdt_path_offset(f, "bogus"), -1);
    assert_int_equal(fdt_path_offset(f, "nothing"), -1);
    assert_int_equal(fdt_path_offset_n(f, "console:115200n8", 7), uart);
    assert_int_equal(fdt_path_offset_n(f, "/soc/serial@10010000:9600", 20), uart);
    assert_int_equal(fdt_path_offset(f, "serial0/"), node(x, "/soc/serial@10000000"));
}

static void test_navigation(void **state)
{
    struct fixture *x = *state;
    const struct fdt *f = &x->f;
    static const char *const top[] = {
        "aliases",         "chosen",          "cpus", "memory@80000000",
        "memory@c0000000", "reserved-memory", "soc",  "misc"};
    int c = fdt_first_child(f, fdt_root(f));
    for (size_t i = 0; i < ARRAY_LEN(top); i++, c = fdt_next_sibling(f, c)) {
        assert_true(c > 0);
        assert_string_equal(fdt_node_name(f, c), top[i]);
        assert_int_equal(fdt_parent(f, c), fdt_root(f));
    }
    assert_int_equal(c, -1);
    assert_int_equal(fdt_parent(f, fdt_root(f)), -1);
    assert_int_equal(fdt_next_sibling(f, fdt_root(f)), -1);
    int v = node(x, "/soc/bus@40000000/subbus@10000/virtio@100");
    assert_int_equal(fdt_parent(f, v), node(x, "/soc/bus@40000000/subbus@10000"));
    assert_int_equal(fdt_first_child(f, v), -1);

    /* the subtree of /cpus, by depth */
    int cpus = node(x, "/cpus");
    int depth = 0, count = 0, maxdepth = 0;
    for (int n = fdt_next_node(f, cpus, &depth); n >= 0 && depth > 0;
         n = fdt_next_node(f, n, &depth)) {
        count++;
        if (depth > maxdepth)
            maxdepth = depth;
    }
    assert_int_equal(count, 11); /* 4 cpus + 4 intcs + cpu-map/cluster0/core0 */
    assert_int_equal(maxdepth, 3);
}

static void test_props(void **state)
{
    struct fixture *x = *state;
    const struct fdt *f = &x->f;
    int m = node(x, "/misc");
    uint32_t u32 = 7;
    uint64_t u64 = 7;
    const char *s = NULL;
    uint32_t len = 99;

    assert_int_equal(fdt_prop_u32(f, m, "u32", &u32), FDT_OK);
    assert_int_equal(u32, 0xdeadbeef);
    assert_int_equal(fdt_prop_u64(f, m, "u32", &u64), FDT_OK);
    assert_int_equal(u64, 0xdeadbeef);
    assert_int_equal(fdt_prop_u64(f, m, "u64", &u64), FDT_OK);
    assert_int_equal(u64, 0x123456789abcdef0ull);
    u32 = 7;
    assert_int_equal(fdt_prop_u32(f, m, "u64", &u32), FDT_ERR_BAD_VALUE);
    assert_int_equal(fdt_prop_u32(f, m, "odd", &u32), FDT_ERR_BAD_VALUE);
    assert_int_equal(fdt_prop_u32(f, m, "missing", &u32), FDT_ERR_NOT_FOUND);
    assert_int_equal(u32, 7);
    u64 = 7;
    assert_int_equal(fdt_prop_u64(f, m, "odd", &u64), FDT_ERR_BAD_VALUE);
    assert_int_equal(fdt_prop_u64(f, m, "empty", &u64), FDT_ERR_BAD_VALUE);
    assert_int_equal(u64, 7);

    assert_non_null(fdt_prop(f, m, "empty", &len));
    assert_int_equal(len, 0);
    assert_non_null(fdt_prop(f, m, "odd", NULL));
    assert_null(fdt_prop(f, m, "od", NULL));
    assert_null(fdt_prop(f, m, "oddd", NULL));

    assert_int_equal(fdt_prop_string(f, m, "strs", &s), FDT_OK);
    assert_string_equal(s, "a");
    s = NULL;
    assert_int_equal(fdt_prop_string(f, m, "bytes", &s), FDT_ERR_BAD_VALUE);
    assert_int_equal(fdt_prop_string(f, m, "empty", &s), FDT_ERR_BAD_VALUE);
    assert_int_equal(fdt_prop_string(f, m, "missing", &s), FDT_ERR_NOT_FOUND);
    assert_null(s);

    assert_int_equal(fdt_strlist_count(f, m, "strs"), 3);
    assert_int_equal(fdt_strlist_get(f, m, "strs", 1, &s), FDT_OK);
    assert_string_equal(s, "bc");
    assert_int_equal(fdt_strlist_get(f, m, "strs", 2, &s), FDT_OK);
    assert_string_equal(s, "");
    assert_int_equal(fdt_strlist_get(f, m, "strs", 3, &s), FDT_ERR_NOT_FOUND);
    assert_int_equal(fdt_strlist_find(f, m, "strs", "bc"), 1);
    assert_int_equal(fdt_strlist_find(f, m, "strs", ""), 2);
    assert_int_equal(fdt_strlist_find(f, m, "strs", "b"), -1);
    assert_int_equal(fdt_strlist_count(f, m, "bytes"), 0);
    assert_int_equal(fdt_strlist_get(f, m, "bytes", 0, &s), FDT_ERR_BAD_VALUE);
    assert_int_equal(fdt_strlist_find(f, m, "bytes", "ab"), -1);
    assert_int_equal(fdt_strlist_count(f, m, "empty"), 0);
    assert_int_equal(fdt_strlist_count(f, m, "missing"), -1);
    assert_int_equal(fdt_strlist_get(f, m, "missing", 0, &s), FDT_ERR_NOT_FOUND);

    assert_true(fdt_node_is_compatible(f, fdt_root(f), "newsys,test"));
    assert_true(fdt_node_is_compatible(f, fdt_root(f), "newsys,fixture"));
    assert_false(fdt_node_is_compatible(f, fdt_root(f), "newsys"));
    assert_false(fdt_node_is_compatible(f, m, "newsys,test"));

    assert_int_equal(fdt_address_cells(f, m), FDT_CELLS_INVALID);
    assert_int_equal(fdt_size_cells(f, m), 1);
    assert_int_equal(fdt_address_cells(f, node(x, "/cpus")), 1);
    assert_int_equal(fdt_size_cells(f, node(x, "/cpus")), 0);
    assert_int_equal(fdt_address_cells(f, node(x, "/chosen")), 2);

    int legacy = node(x, "/misc/legacy");
    assert_int_equal(fdt_node_phandle(f, legacy), 0x4242);
    assert_int_equal(fdt_node_by_phandle(f, 0x4242), legacy);
    assert_int_equal(fdt_node_by_phandle(f, 0), -1);
    assert_int_equal(fdt_node_by_phandle(f, 0xffffffffu), -1);
    assert_int_equal(fdt_node_by_phandle(f, 12345), -1);
    assert_int_equal(fdt_node_phandle(f, m), 0);
}

static void test_enabled(void **state)
{
    struct fixture *x = *state;
    const struct fdt *f = &x->f;
    assert_true(fdt_node_is_enabled(f, node(x, "/misc")));
    assert_true(fdt_node_is_enabled(f, node(x, "/misc/node-ok")));
    assert_true(fdt_node_is_enabled(f, node(x, "/misc/node-okay")));
    assert_false(fdt_node_is_enabled(f, node(x, "/misc/node-disabled")));
    assert_false(fdt_node_is_enabled(f, node(x, "/misc/node-unterminated")));
    assert_false(fdt_node_is_enabled(f, node(x, "/cpus/cpu@2")));
}

static void expect_reg(const struct fixture *x, const char *path, unsigned i, enum fdt_err err,
                       uint64_t addr, uint64_t size)
{
    uint64_t a = 0, s = 0;
    enum fdt_err e = fdt_reg(&x->f, node(x, path), i, &a, &s);
    if (e != err)
        fail_msg("fdt_reg(%s, %u) = %s, expected %s", path, i, fdt_strerror(e), fdt_strerror(err));
    if (err == FDT_OK) {
        assert_int_equal(a, addr);
        assert_int_equal(s, size);
    }
}

static void test_reg_translation(void **state)
{
    struct fixture *x = *state;
    const struct fdt *f = &x->f;
    expect_reg(x, "/soc/serial@10000000", 0, FDT_OK, 0x10000000, 0x10000);
    expect_reg(x, "/soc/serial@10000000", 1, FDT_ERR_NOT_FOUND, 0, 0);
    expect_reg(x, "/memory@80000000", 0, FDT_OK, 0x80000000, 0x8000000);
    expect_reg(x, "/memory@80000000", 1, FDT_OK, 0x100000000, 0x10000000);
    expect_reg(x, "/reserved-memory/mmode_resv0@80000000", 0, FDT_OK, 0x80000000, 0x40000);
    expect_reg(x, "/soc/bus@40000000/serial@1000", 0, FDT_OK, 0x40001000, 0x100);
    expect_reg(x, "/soc/bus@40000000/virtio@2000000", 0, FDT_OK, 0x100000000, 0x1000);
    expect_reg(x, "/soc/bus@40000000/subbus@10000/virtio@100", 0, FDT_OK, 0x40010100, 0x100);
    expect_reg(x, "/soc/bus@40000000/subbus@10000/virtio@100", 1, FDT_OK, 0x40010200, 0x100);
    expect_reg(x, "/soc/bus@40000000/subbus@10000/virtio@100", 2, FDT_ERR_NOT_FOUND, 0, 0);
    expect_reg(x, "/soc/bus@40000000/nomap@20000/dev@0", 0, FDT_ERR_NOT_FOUND, 0, 0);
    expect_reg(x, "/soc/bus@40000000/outside@3000000", 0, FDT_ERR_NOT_FOUND, 0, 0);
    expect_reg(x, "/soc/bus@40000000/straddle@ff0000", 0, FDT_ERR_NOT_FOUND, 0, 0);
    expect_reg(x, "/soc/disabled-bus@50000000/serial@0", 0, FDT_OK, 0x50000000, 0x100);
    expect_reg(x, "/soc/pci@30000000", 0, FDT_OK, 0x30000000, 0x10000000);
    expect_reg(x, "/soc/pci@30000000/dev@0", 0, FDT_ERR_BAD_VALUE, 0, 0);
    expect_reg(x, "/cpus/cpu@7", 0, FDT_ERR_NOT_FOUND, 0, 0); /* /cpus is no bus */
    expect_reg(x, "/misc", 0, FDT_ERR_NOT_FOUND, 0, 0);

    uint64_t a, s;
    unsigned n = 99;
    int dev = node(x, "/soc/bus@40000000/nomap@20000/dev@0");
    assert_int_equal(fdt_reg_raw(f, dev, 0, &a, &s), FDT_OK);
    assert_int_equal(a, 0);
    assert_int_equal(s, 0x10);
    int cpu = node(x, "/cpus/cpu@7");
    assert_int_equal(fdt_reg_raw(f, cpu, 0, &a, &s), FDT_OK);
    assert_int_equal(a, 7);
    assert_int_equal(s, 0);
    assert_int_equal(fdt_reg_count(f, node(x, "/soc/bus@40000000/subbus@10000/virtio@100"), &n),
                     FDT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(fdt_reg_count(f, fdt_root(f), &n), FDT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(fdt_reg_count(f, node(x, "/soc/pci@30000000/dev@0"), &n), FDT_ERR_BAD_VALUE);
}

static void test_rsvmap(void **state)
{
    struct fixture *x = *state;
    const struct fdt *f = &x->f;
    uint64_t a, s;
    assert_int_equal(fdt_rsv_count(f), 2);
    assert_int_equal(fdt_rsv_get(f, 0, &a, &s), FDT_OK);
    assert_int_equal(a, 0x80000000);
    assert_int_equal(s, 0x20000);
    assert_int_equal(fdt_rsv_get(f, 1, &a, &s), FDT_OK);
    assert_int_equal(a, 0x87f00000);
    assert_int_equal(s, 0x1000);
    assert_int_equal(fdt_rsv_get(f, 2, &a, &s), FDT_ERR_NOT_FOUND);
}

/* Offsets that are no node (a property, a value, the middle of a token,
 * outside the block) give -1/NULL/errors and never an out-of-bounds read. */
static void test_bogus_offsets(void **state)
{
    struct fixture *x = *state;
    /* an exactly sized copy so ASan sees every byte past the end */
    uint8_t *b = fdt_test_dup(x->b, x->size);
    struct fdt f;
    assert_int_equal(fdt_open(&f, b, x->size), FDT_OK);
    const int prop = fdt_first_prop(&f, fdt_root(&f));
    assert_true(prop > 0);
    assert_null(fdt_node_name(&f, prop));
    assert_int_equal(fdt_first_child(&f, prop), -1);
    assert_null(fdt_prop(&f, prop, "model", NULL));
    assert_null(fdt_prop_at(&f, fdt_root(&f), NULL, NULL));
    assert_int_equal(fdt_next_prop(&f, fdt_root(&f)), -1);
    static const int fixed[] = {-4, -1, 1, 2, 3, 6, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < ARRAY_LEN(fixed); i++) {
        int o = fixed[i];
        assert_null(fdt_node_name(&f, o));
        assert_int_equal(fdt_first_child(&f, o), -1);
        assert_int_equal(fdt_next_sibling(&f, o), -1);
        assert_int_equal(fdt_parent(&f, o), -1);
        assert_int_equal(fdt_first_prop(&f, o), -1);
        assert_int_equal(fdt_next_prop(&f, o), -1);
        assert_null(fdt_prop_at(&f, o, NULL, NULL));
        assert_null(fdt_prop(&f, o, "reg", NULL));
        uint64_t a, s;
        assert_int_equal(fdt_reg(&f, o, 0, &a, &s), FDT_ERR_NOT_FOUND);
        if (o >= 0)
            assert_int_equal(fdt_next_node(&f, o, NULL), -1);
    }
    /* every aligned offset, for the sanitizers */
    for (int o = 0; o <= (int)f.struct_size + 8; o += 4) {
        int depth = 0;
        uint32_t len;
        const char *name;
        uint64_t a, s;
        unsigned n;
        (void)fdt_node_name(&f, o);
        (void)fdt_first_child(&f, o);
        (void)fdt_next_sibling(&f, o);
        (void)fdt_next_node(&f, o, &depth);
        (void)fdt_first_prop(&f, o);
        (void)fdt_next_prop(&f, o);
        (void)fdt_prop_at(&f, o, &name, &len);
        (void)fdt_prop(&f, o, "compatible", &len);
        (void)fdt_node_is_compatible(&f, o, "ns16550a");
        (void)fdt_node_is_enabled(&f, o);
        (void)fdt_reg_count(&f, o, &n);
        (void)fdt_reg(&f, o, 0, &a, &s);
        (void)fdt_address_cells(&f, o);
    }
    free(b);
}

static void test_read_cells(void **state)
{
    (void)state;
    static const uint8_t b[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert_int_equal(fdt_read_cells(b, 1), 0x01020304);
    assert_int_equal(fdt_read_cells(b + 1, 1), 0x02030405);
    assert_int_equal(fdt_read_cells(b, 2), 0x0102030405060708ull);
    assert_int_equal(fdt_read_cells(b + 1, 2), 0x0203040506070809ull);
    assert_int_equal(fdt_read_cells(b, 0), 0);
    assert_int_equal(fdt_read_cells(b, 3), 0);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = 0; e < FDT_ERR_COUNT; e++) {
        assert_non_null(fdt_strerror(e));
        for (int g = 0; g < e; g++)
            assert_string_not_equal(fdt_strerror(e), fdt_strerror(g));
    }
    assert_string_equal(fdt_strerror(FDT_ERR_COUNT), "unknown error");
    assert_string_equal(fdt_strerror((enum fdt_err) - 1), "unknown error");
}

#define FIXTURE_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_all_blobs),
        cmocka_unit_test(test_unaligned_blob),
        cmocka_unit_test(test_truncated_prefixes),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_totalsize_beyond_avail),
        cmocka_unit_test(test_offsets_past_end),
        cmocka_unit_test(test_overlapping_blocks),
        cmocka_unit_test(test_misaligned_blocks),
        cmocka_unit_test(test_misaligned_token),
        cmocka_unit_test(test_unknown_token),
        cmocka_unit_test(test_prop_name_outside_strings),
        cmocka_unit_test(test_unterminated_node_name),
        cmocka_unit_test(test_unterminated_strings_block),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_unbalanced),
        cmocka_unit_test(test_missing_end),
        cmocka_unit_test(test_data_after_end),
        cmocka_unit_test(test_prop_len_past_block),
        cmocka_unit_test(test_props_after_child),
        cmocka_unit_test(test_v16_header),
        FIXTURE_TEST(test_paths),
        FIXTURE_TEST(test_navigation),
        FIXTURE_TEST(test_props),
        FIXTURE_TEST(test_enabled),
        FIXTURE_TEST(test_reg_translation),
        FIXTURE_TEST(test_rsvmap),
        FIXTURE_TEST(test_bogus_offsets),
        cmocka_unit_test(test_read_cells),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
