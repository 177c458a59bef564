/* Sv39 page-table code against a fake physical memory: page tables are
 * allocated from a malloc'ed arena that plays physical RAM at FAKE_BASE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/arch/riscv/sv39.h"

#define FAKE_BASE  0x80000000ull
#define FAKE_PAGES 256

struct fake_ram {
    uint8_t *mem;
    unsigned used;
    unsigned limit; /* allocations allowed before "out of memory" */
};

static void *p2v(uint64_t pa, void *ctx)
{
    struct fake_ram *r = ctx;
    assert_true(pa >= FAKE_BASE && pa < FAKE_BASE + FAKE_PAGES * 4096ull);
    assert_int_equal(pa & 4095, 0);
    return r->mem + (pa - FAKE_BASE);
}

static bool alloc(uint64_t *pa, void *ctx)
{
    struct fake_ram *r = ctx;
    if (r->used >= r->limit)
        return false;
    *pa = FAKE_BASE + 4096ull * r->used++;
    memset(r->mem + (*pa - FAKE_BASE), 0, 4096);
    return true;
}

struct fixture {
    struct fake_ram ram;
    struct sv39_ops ops;
    uint64_t root;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->ram.mem = aligned_alloc(4096, FAKE_PAGES * 4096);
    f->ram.limit = FAKE_PAGES;
    f->ops = (struct sv39_ops){.phys_to_virt = p2v, .alloc_table = alloc, .ctx = &f->ram};
    assert_true(alloc(&f->root, &f->ram));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->ram.mem);
    free(f);
    return 0;
}

static void expect_map(struct fixture *f, uint64_t va, uint64_t pa, uint64_t fl, int lvl)
{
    uint64_t got_pa, got_fl;
    int got_lvl;
    assert_true(sv39_lookup(&f->ops, f->root, va, &got_pa, &got_fl, &got_lvl));
    assert_int_equal(got_pa, pa);
    assert_int_equal(got_fl & (PTE_R | PTE_W | PTE_X | PTE_U), fl);
    assert_int_equal(got_lvl, lvl);
}

static void test_4k_map_and_lookup(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sv39_map(&f->ops, f->root, 0x10000, 0x90001000, 0x3000, PTE_R | PTE_X, true),
                     SV39_OK);
    expect_map(f, 0x10000, 0x90001000, PTE_R | PTE_X, 0);
    expect_map(f, 0x12ff8, 0x90003ff8, PTE_R | PTE_X, 0);
    uint64_t pa, fl;
    int lvl;
    assert_false(sv39_lookup(&f->ops, f->root, 0x13000, &pa, &fl, &lvl));
    assert_false(sv39_lookup(&f->ops, f->root, 0xf000, &pa, &fl, &lvl));
    assert_int_equal(f->ram.used, 3); /* root + one level-1 + one level-0 table */
}

static void test_large_pages_when_aligned(void **state)
{
    struct fixture *f = *state;
    /* 1 GiB + 2 MiB + 4 KiB, all aligned: one of each leaf size. */
    uint64_t va = 0xffffffc000000000ull, pa = 0x40000000ull;
    uint64_t size = (1ull << 30) + (2ull << 20) + 4096;
    assert_int_equal(sv39_map(&f->ops, f->root, va, pa, size, PTE_R | PTE_W, true), SV39_OK);
    expect_map(f, va + 123, pa + 123, PTE_R | PTE_W, 2);
    expect_map(f, va + (1ull << 30) + 5, pa + (1ull << 30) + 5, PTE_R | PTE_W, 1);
    expect_map(f, va + (1ull << 30) + (2ull << 20), pa + (1ull << 30) + (2ull << 20), PTE_R | PTE_W,
               0);
}

static void test_no_large_pages_when_misaligned_or_disabled(void **state)
{
    struct fixture *f = *state;
    /* va 2 MiB aligned but pa only 4 KiB aligned: must use 4 KiB pages. */
    assert_int_equal(sv39_map(&f->ops, f->root, 0x200000, 0x80201000, 2ull << 20, PTE_R, true),
                     SV39_OK);
    expect_map(f, 0x200000, 0x80201000, PTE_R, 0);
    expect_map(f, 0x3ff000, 0x80400000, PTE_R, 0);
    assert_int_equal(sv39_map(&f->ops, f->root, 0x40000000, 0x40000000, 2ull << 20, PTE_R, false),
                     SV39_OK);
    expect_map(f, 0x40000000, 0x40000000, PTE_R, 0);
}

static void test_errors(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sv39_map(&f->ops, f->root, 0x1001, 0x1000, 4096, PTE_R, true),
                     SV39_ERR_MISALIGNED);
    assert_int_equal(sv39_map(&f->ops, f->root, 0x1000, 0x1000, 100, PTE_R, true),
                     SV39_ERR_MISALIGNED);
    /* Non-canonical, and a range running off the top of the user half. */
    assert_int_equal(sv39_map(&f->ops, f->root, 0x4000000000ull, 0, 4096, PTE_R, true),
                     SV39_ERR_RANGE);
    assert_int_equal(sv39_map(&f->ops, f->root, 0x3ffffff000ull, 0, 8192, PTE_R, true),
                     SV39_ERR_RANGE);
    assert_int_equal(sv39_map(&f->ops, f->root, 0x1000, 0x1000, 4096, 0, true), SV39_ERR_BAD_FLAGS);
    assert_int_equal(sv39_map(&f->ops, f->root, 0x1000, 0x1000, 4096, PTE_W, true),
                     SV39_ERR_BAD_FLAGS);
    assert_int_equal(sv39_map(&f->ops, f->root, 0x1000, 0x1000, 0, PTE_R, true), SV39_OK);
    assert_int_equal(f->ram.used, 1); /* nothing allocated by the failures */
}

static void test_overlap_is_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sv39_map(&f->ops, f->root, 0x200000, 0x80200000, 2ull << 20, PTE_R, true),
                     SV39_OK);
    /* A 4 KiB page inside the 2 MiB leaf, and the same page again. */
    assert_int_equal(sv39_map(&f->ops, f->root, 0x201000, 0x1000, 4096, PTE_R, true),
                     SV39_ERR_EXISTS);
    assert_int_equal(sv39_map(&f->ops, f->root, 0x10000, 0x1000, 4096, PTE_R, true), SV39_OK);
    assert_int_equal(sv39_map(&f->ops, f->root, 0x10000, 0x2000, 4096, PTE_R, true),
                     SV39_ERR_EXISTS);
    expect_map(f, 0x10000, 0x1000, PTE_R, 0);
}

static void test_out_of_memory(void **state)
{
    struct fixture *f = *state;
    f->ram.limit = f->ram.used + 1; /* room for one more table only */
    assert_int_equal(sv39_map(&f->ops, f->root, 0x10000, 0x1000, 4096, PTE_R, true),
                     SV39_ERR_NO_MEMORY);
    f->ram.limit = FAKE_PAGES;
    assert_int_equal(sv39_map(&f->ops, f->root, 0x10000, 0x1000, 4096, PTE_R, true), SV39_OK);
    expect_map(f, 0x10000, 0x1000, PTE_R, 0);
}

static void test_canonical(void **state)
{
    (void)state;
    assert_true(sv39_va_canonical(0));
    assert_true(sv39_va_canonical(0x3fffffffffull));
    assert_false(sv39_va_canonical(0x4000000000ull));
    assert_true(sv39_va_canonical(0xffffffc000000000ull));
    assert_false(sv39_va_canonical(0xffffff8000000000ull));
    assert_true(sv39_va_canonical(0xffffffffffffffffull));
}

/* The level-0 entry for va, walking the way the hardware does. */
static pte_t *leaf_of(struct fixture *f, uint64_t va)
{
    uint64_t pa = f->root;
    for (int level = 2; level > 0; level--) {
        pte_t e = ((pte_t *)p2v(pa, &f->ram))[PTE_INDEX(va, level)];
        assert_true((e & PTE_V) && !pte_is_leaf(e));
        pa = pte_pa(e);
    }
    return &((pte_t *)p2v(pa, &f->ram))[PTE_INDEX(va, 0)];
}

/* Accessed-bit ageing (pte.h) on a real table: on hardware that faults for
 * A, an aged entry is present with A clear; under the kernel's emulation of
 * that hardware it is also invisible to the walker; either way the kernel
 * reads the same logical entry and gives the bit back the same way. */
static void test_accessed_bit_ageing(void **state)
{
    struct fixture *f = *state;
    const uint64_t rw = PTE_R | PTE_W | PTE_U | PTE_A | PTE_D;
    assert_int_equal(sv39_map(&f->ops, f->root, 0x10000, 0x90000000, 0x2000, rw, false), SV39_OK);
    for (int emulate = 0; emulate < 2; emulate++) {
        uint64_t va = 0x10000 + 0x1000ull * (uint64_t)emulate;
        pte_t *e = leaf_of(f, va), fresh = *e;
        assert_true(pte_present(fresh));
        assert_false(pte_faults_for_ad(fresh, 0));
        assert_false(pte_faults_for_ad(fresh, 1));

        *e = pte_age(fresh, emulate);
        assert_true(pte_present(*e));
        assert_int_equal(pte_logical(*e), fresh & ~(pte_t)PTE_A);
        uint64_t pa, fl;
        int lvl;
        /* What the hardware walker sees: the emulated kind must fault. */
        assert_int_equal(sv39_lookup(&f->ops, f->root, va, &pa, &fl, &lvl), !emulate);
        assert_true(pte_faults_for_ad(*e, 0));
        assert_true(pte_faults_for_ad(*e, 1));

        *e = pte_mark_accessed(*e, 0);
        assert_int_equal(*e, fresh);
        assert_true(sv39_lookup(&f->ops, f->root, va, &pa, &fl, &lvl));
        assert_int_equal(pa, 0x90000000 + 0x1000ull * (uint64_t)emulate);
        assert_true(fl & PTE_A);
    }

    /* Rights are never widened: a store to a read-only aged entry, or any
     * access to a supervisor entry, is a real fault. */
    pte_t ro = pte_age(pte_make(0x90002000, PTE_V | PTE_R | PTE_U | PTE_A | PTE_D), 1);
    assert_true(pte_faults_for_ad(ro, 0));
    assert_false(pte_faults_for_ad(ro, 1));
    pte_t kernel = pte_age(pte_make(0x90002000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D), 0);
    assert_false(pte_faults_for_ad(kernel, 0));
    assert_false(pte_present(0));
    assert_false(pte_faults_for_ad(0, 0));
    /* Hardware that faults for D: a store to a writable entry without D. */
    pte_t clean = pte_make(0x90003000, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A);
    assert_false(pte_faults_for_ad(clean, 0));
    assert_true(pte_faults_for_ad(clean, 1));
    assert_true(pte_mark_accessed(clean, 1) & PTE_D);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_4k_map_and_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_pages_when_aligned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_large_pages_when_misaligned_or_disabled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accessed_bit_ageing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
        cmocka_unit_test(test_canonical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
