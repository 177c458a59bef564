/* Host tests for frames/frame_alloc.c. Physical memory is a page-aligned
 * malloc'ed block standing at a fake physical base; the phys_to_virt hook
 * fails the test on any address outside it. The allocator must only ever
 * write its bitmaps, so the rest of the block keeps a fill pattern the tests
 * check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "frames/frame_alloc.h"

#define PG       FRAME_SIZE
#define RAM_BASE 0x80000000ull
#define FILL     0xa5

struct fake_ram {
    uint64_t base;
    size_t size;
    uint8_t *mem;
    unsigned long calls;
};

static void *fake_p2v(uint64_t pa, void *ctx)
{
    struct fake_ram *r = ctx;
    r->calls++;
    if (pa < r->base || pa - r->base >= r->size)
        fail_msg("phys_to_virt(%#llx) outside fake RAM", (unsigned long long)pa);
    return r->mem + (pa - r->base);
}

static void *no_p2v(uint64_t pa, void *ctx)
{
    (void)ctx;
    fail_msg("phys_to_virt(%#llx) called unexpectedly", (unsigned long long)pa);
    return NULL;
}

static void *null_p2v(uint64_t pa, void *ctx)
{
    (void)pa;
    (void)ctx;
    return NULL;
}

static struct fake_ram *ram_new_at(uint64_t base, uint64_t npages, bool fill)
{
    struct fake_ram *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->base = base;
    r->size = (size_t)(npages * PG);
    r->mem = aligned_alloc(PG, r->size);
    assert_non_null(r->mem);
    if (fill)
        memset(r->mem, FILL, r->size);
    return r;
}

static struct fake_ram *ram_new(uint64_t npages, bool fill)
{
    return ram_new_at(RAM_BASE, npages, fill);
}

static void ram_free(struct fake_ram *r)
{
    free(r->mem);
    free(r);
}

static uint64_t pg(uint64_t n)
{
    return RAM_BASE + n * PG;
}

/* Is pfn inside some zone's bitmap? (Peeks at the allocator's zones.) */
static bool is_meta(const struct frame_allocator *fa, uint64_t pa)
{
    for (unsigned i = 0; i < fa->nzones; i++) {
        const struct frame_zone *z = &fa->zones[i];
        if (z->meta_pages && pa >= z->meta_pa && pa - z->meta_pa < z->meta_pages * PG)
            return true;
    }
    return false;
}

static bool in_ranges(const struct frame_range *r, unsigned n, uint64_t pa, bool outward)
{
    for (unsigned i = 0; i < n; i++) {
        if (r[i].base >= r[i].end)
            continue;
        uint64_t lo = r[i].base, hi = r[i].end;
        if (outward) {
            lo &= ~(PG - 1);
            hi = (hi + PG - 1) & ~(PG - 1);
        } else {
            lo = (lo + PG - 1) & ~(PG - 1);
            hi &= ~(PG - 1);
        }
        if (pa >= lo && pa < hi)
            return true;
    }
    return false;
}

/* After init: every frame of the fake block is in the state the inputs
 * imply, bitmaps sit in free RAM and are disjoint, and nothing but the
 * bitmaps was written. */
static void check_init_state(const struct frame_allocator *fa, const struct fake_ram *r,
                             const struct frame_range *ram, unsigned n_ram,
                             const struct frame_range *res, unsigned n_res)
{
    uint64_t free_count = 0;
    for (uint64_t pa = r->base; pa < r->base + r->size; pa += PG) {
        enum frame_state st = frame_state(fa, pa);
        bool is_ram = in_ranges(ram, n_ram, pa, false);
        if (!is_ram) {
            assert_int_equal(st, FRAME_STATE_UNMANAGED);
            assert_false(is_meta(fa, pa));
        } else if (in_ranges(res, n_res, pa, true)) {
            assert_int_equal(st, FRAME_STATE_RESERVED);
            assert_false(is_meta(fa, pa));
        } else if (is_meta(fa, pa)) {
            assert_int_equal(st, FRAME_STATE_RESERVED);
        } else {
            assert_int_equal(st, FRAME_STATE_FREE);
            free_count++;
        }
        if (!is_meta(fa, pa)) {
            const uint8_t *p = r->mem + (pa - r->base);
            for (size_t i = 0; i < PG; i++) {
                if (p[i] != FILL)
                    fail_msg("byte %#llx written outside the bitmaps",
                             (unsigned long long)(pa + i));
            }
        }
        assert_false(frame_is_allocated(fa, pa));
    }
    assert_int_equal(frame_count_free(fa), free_count);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = 0; e < FRAME_ERR_COUNT; e++) {
        assert_non_null(frame_strerror(e));
        for (int f = 0; f < e; f++)
            assert_string_not_equal(frame_strerror(e), frame_strerror(f));
    }
    assert_string_equal(frame_strerror(FRAME_ERR_COUNT), "unknown frame error");
    assert_string_equal(frame_strerror((enum frame_err) - 1), "unknown frame error");
}

static void test_single_zone_basic(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new(64, true);
    struct frame_range ram[] = {{pg(0), pg(64)}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 1, NULL, 0, fake_p2v, r), FRAME_OK);
    check_init_state(&fa, r, ram, 1, NULL, 0);
    assert_int_equal(frame_count_total(&fa), 64);
    /* 64 frames need 16 bytes of bitmap: one page, the lowest. */
    assert_int_equal(frame_count_free(&fa), 63);
    assert_int_equal(frame_state(&fa, pg(0)), FRAME_STATE_RESERVED);
    assert_int_equal(frame_zone_count(&fa), 1);
    uint64_t b, e, f;
    assert_int_equal(frame_zone_info(&fa, 0, &b, &e, &f), FRAME_OK);
    assert_int_equal(b, pg(0));
    assert_int_equal(e, pg(64));
    assert_int_equal(f, 63);
    assert_int_equal(frame_zone_info(&fa, 1, &b, &e, &f), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_zone_info(&fa, 0, NULL, NULL, NULL), FRAME_OK);

    /* Lowest address first. */
    uint64_t pa;
    for (uint64_t i = 1; i < 64; i++) {
        assert_int_equal(frame_alloc(&fa, &pa), FRAME_OK);
        assert_int_equal(pa, pg(i));
        assert_true(frame_is_allocated(&fa, pa));
        assert_true(frame_is_allocated(&fa, pa + 123)); /* any byte of the frame */
    }
    assert_int_equal(frame_alloc(&fa, &pa), FRAME_ERR_NO_MEMORY);
    assert_int_equal(frame_count_free(&fa), 0);
    assert_int_equal(frame_alloc(&fa, NULL), FRAME_ERR_BAD_RANGE);

    /* A freed frame is the next one handed out. */
    assert_int_equal(frame_free(&fa, pg(17)), FRAME_OK);
    assert_int_equal(frame_free(&fa, pg(40)), FRAME_OK);
    assert_int_equal(frame_alloc(&fa, &pa), FRAME_OK);
    assert_int_equal(pa, pg(17));
    assert_int_equal(frame_alloc(&fa, &pa), FRAME_OK);
    assert_int_equal(pa, pg(40));
    ram_free(r);
}

static void test_unaligned_ram(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new(16, true);
    struct frame_range ram[] = {{pg(0) + 0x123, pg(10) + 0x456}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 1, NULL, 0, fake_p2v, r), FRAME_OK);
    check_init_state(&fa, r, ram, 1, NULL, 0);
    uint64_t b, e, f;
    assert_int_equal(frame_zone_info(&fa, 0, &b, &e, &f), FRAME_OK);
    assert_int_equal(b, pg(1));
    assert_int_equal(e, pg(10));
    assert_int_equal(frame_count_total(&fa), 9);
    assert_int_equal(f, 8);
    assert_int_equal(frame_state(&fa, pg(0)), FRAME_STATE_UNMANAGED);
    assert_int_equal(frame_state(&fa, pg(10)), FRAME_STATE_UNMANAGED);
    uint64_t pa, n = 0;
    while (frame_alloc(&fa, &pa) == FRAME_OK) {
        assert_true(pa >= pg(1) && pa < pg(10) && (pa & (PG - 1)) == 0);
        n++;
    }
    assert_int_equal(n, 8);
    ram_free(r);
}

static void test_reserved_overlapping_unsorted(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new(200, true);
    struct frame_range ram[] = {{pg(2), pg(190)}};
    struct frame_range res[] = {
        {pg(100) + 5, pg(103) - 7}, /* unaligned: rounds out to 100..103 */
        {pg(0), pg(5) + 1},         /* starts outside RAM, rounds to 6 */
        {pg(101), pg(120)},         /* overlaps the first */
        {pg(50), pg(50)},           /* empty */
        {pg(110), pg(111)},         /* inside the third */
        {pg(185), pg(400)},         /* runs off the end of RAM */
        {pg(7) - 1, pg(7)},         /* one byte: reserves frame 6 */
        {pg(300), pg(310)},         /* no RAM at all */
        {pg(20), pg(21)},
    };
    unsigned nres = sizeof res / sizeof res[0];
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 1, res, nres, fake_p2v, r), FRAME_OK);
    check_init_state(&fa, r, ram, 1, res, nres);
    /* The bitmap goes to the lowest free frame: 7. */
    assert_int_equal(fa.zones[0].meta_pa, pg(7));
    assert_int_equal(frame_state(&fa, pg(6)), FRAME_STATE_RESERVED);
    assert_int_equal(frame_state(&fa, pg(184)), FRAME_STATE_FREE);
    assert_int_equal(frame_state(&fa, pg(185)), FRAME_STATE_RESERVED);
    uint64_t pa, n = 0;
    while (frame_alloc(&fa, &pa) == FRAME_OK) {
        assert_false(in_ranges(res, nres, pa, true));
        assert_false(is_meta(&fa, pa));
        n++;
    }
    /* 188 frames - 4 (2..5) - 1 (6) - 1 (bitmap) - 20 (100..119) - 1 (20) - 5 (185..189) */
    assert_int_equal(n, 188 - 4 - 1 - 1 - 20 - 1 - 5);
    ram_free(r);
}

static void test_reserved_covers_everything(void **state)
{
    (void)state;
    struct frame_range ram[] = {{pg(0), pg(64)}, {pg(100), pg(101)}};
    struct frame_range res[] = {{pg(50), pg(200)}, {0, pg(60)}};
    struct frame_allocator fa;
    /* Nothing left: no bitmap is needed or written. */
    assert_int_equal(frame_alloc_init(&fa, ram, 2, res, 2, no_p2v, NULL), FRAME_ERR_NO_MEMORY);
    struct frame_range all[] = {{0, UINT64_MAX}};
    assert_int_equal(frame_alloc_init(&fa, ram, 2, all, 1, no_p2v, NULL), FRAME_ERR_NO_MEMORY);
}

static void test_zero_usable(void **state)
{
    (void)state;
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, NULL, 0, NULL, 0, no_p2v, NULL), FRAME_ERR_NO_MEMORY);
    struct frame_range tiny[] = {{pg(0) + 1, pg(1) + 5}, {pg(3) + 8, pg(3) + 16}};
    assert_int_equal(frame_alloc_init(&fa, tiny, 2, NULL, 0, no_p2v, NULL), FRAME_ERR_NO_MEMORY);
    /* One frame of RAM: its bitmap takes it. */
    struct fake_ram *r = ram_new(1, true);
    struct frame_range one[] = {{pg(0), pg(1)}};
    assert_int_equal(frame_alloc_init(&fa, one, 1, NULL, 0, fake_p2v, r), FRAME_ERR_NO_MEMORY);
    ram_free(r);
}

static void test_bad_args(void **state)
{
    (void)state;
    struct frame_allocator fa;
    struct frame_range backwards[] = {{pg(10), pg(5)}};
    assert_int_equal(frame_alloc_init(&fa, backwards, 1, NULL, 0, no_p2v, NULL),
                     FRAME_ERR_BAD_RANGE);
    struct frame_range ok[] = {{pg(0), pg(10)}};
    assert_int_equal(frame_alloc_init(&fa, ok, 1, backwards, 1, no_p2v, NULL), FRAME_ERR_BAD_RANGE);
    struct frame_range overlap[] = {{pg(0), pg(10)}, {pg(20), pg(30)}, {pg(9), pg(12)}};
    assert_int_equal(frame_alloc_init(&fa, overlap, 3, NULL, 0, no_p2v, NULL), FRAME_ERR_BAD_RANGE);
    /* Empty ranges overlap nothing. */
    struct fake_ram *r0 = ram_new(12, true);
    struct frame_range with_empty[] = {{pg(0), pg(10)}, {pg(5), pg(5)}, {pg(3) + 1, pg(3) + 1}};
    assert_int_equal(frame_alloc_init(&fa, with_empty, 3, NULL, 0, fake_p2v, r0), FRAME_OK);
    assert_int_equal(frame_zone_count(&fa), 1);
    ram_free(r0);
    /* Overlap only in the sub-page parts still means a broken map. */
    struct frame_range overlap2[] = {{pg(0), pg(10) + 8}, {pg(10), pg(30)}};
    assert_int_equal(frame_alloc_init(&fa, overlap2, 2, NULL, 0, no_p2v, NULL),
                     FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_alloc_init(&fa, NULL, 1, NULL, 0, no_p2v, NULL), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_alloc_init(&fa, ok, 1, NULL, 1, no_p2v, NULL), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_alloc_init(&fa, ok, 1, NULL, 0, NULL, NULL), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_alloc_init(NULL, ok, 1, NULL, 0, no_p2v, NULL), FRAME_ERR_BAD_RANGE);
    /* A hook that cannot map the bitmap. */
    assert_int_equal(frame_alloc_init(&fa, ok, 1, NULL, 0, null_p2v, NULL),
                     FRAME_ERR_NO_METADATA_SPACE);

    struct frame_range many[FRAME_MAX_ZONES + 1];
    for (unsigned i = 0; i <= FRAME_MAX_ZONES; i++)
        many[i] = (struct frame_range){pg(4 * i), pg(4 * i + 2)};
    assert_int_equal(frame_alloc_init(&fa, many, FRAME_MAX_ZONES + 1, NULL, 0, no_p2v, NULL),
                     FRAME_ERR_TOO_MANY_ZONES);
    /* Ranges too small to hold a frame are not zones. */
    struct fake_ram *r = ram_new(4 * FRAME_MAX_ZONES + 4, true);
    many[3] = (struct frame_range){pg(12) + 1, pg(13) + 1};
    assert_int_equal(frame_alloc_init(&fa, many, FRAME_MAX_ZONES + 1, NULL, 0, fake_p2v, r),
                     FRAME_OK);
    assert_int_equal(frame_zone_count(&fa), FRAME_MAX_ZONES);
    assert_int_equal(frame_count_total(&fa), 2 * FRAME_MAX_ZONES);
    ram_free(r);
}

/* A zone of more than 16384 frames needs a two-page bitmap; when no zone
 * has two free frames in a row there is nowhere to put it. */
static void test_no_metadata_space(void **state)
{
    (void)state;
    struct frame_range ram[] = {{pg(0), pg(20000)}, {pg(30000), pg(30001)}};
    struct frame_range res[] = {{pg(1), pg(2)}, {pg(3), pg(20000)}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 2, res, 2, no_p2v, NULL),
                     FRAME_ERR_NO_METADATA_SPACE);
}

/* Same shape, but a second zone has room: the big zone's bitmap goes there,
 * after that zone's own. Only the second zone is backed, so any access to
 * the big zone's frames themselves would fail the test. */
static void test_bitmap_in_other_zone(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new_at(pg(30000), 4, true);
    struct frame_range ram[] = {{pg(30000), pg(30004)}, {pg(0), pg(20000)}};
    struct frame_range res[] = {{pg(3), pg(20000)}, {pg(1), pg(2)}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 2, res, 2, fake_p2v, r), FRAME_OK);
    assert_int_equal(fa.zones[1].meta_pa, pg(30000));
    assert_int_equal(fa.zones[1].meta_pages, 1);
    assert_int_equal(fa.zones[0].meta_pa, pg(30001));
    assert_int_equal(fa.zones[0].meta_pages, 2);
    assert_int_equal(frame_count_free(&fa), 3);
    assert_int_equal(frame_count_total(&fa), 20004);
    assert_int_equal(frame_state(&fa, pg(0)), FRAME_STATE_FREE);
    assert_int_equal(frame_state(&fa, pg(1)), FRAME_STATE_RESERVED);
    assert_int_equal(frame_state(&fa, pg(2)), FRAME_STATE_FREE);
    assert_int_equal(frame_state(&fa, pg(19999)), FRAME_STATE_RESERVED);
    for (uint64_t i = 30000; i < 30003; i++)
        assert_int_equal(frame_state(&fa, pg(i)), FRAME_STATE_RESERVED);
    assert_int_equal(frame_state(&fa, pg(30003)), FRAME_STATE_FREE);
    for (size_t i = 3 * PG; i < 4 * PG; i++)
        assert_int_equal(r->mem[i], FILL);
    uint64_t pa;
    static const uint64_t want[] = {0, 2, 30003};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(frame_alloc(&fa, &pa), FRAME_OK);
        assert_int_equal(pa, pg(want[i]));
    }
    assert_int_equal(frame_alloc(&fa, &pa), FRAME_ERR_NO_MEMORY);
    assert_int_equal(frame_alloc_contig(&fa, 2, 1, &pa), FRAME_ERR_NO_MEMORY);
    assert_int_equal(frame_free(&fa, pg(30001)), FRAME_ERR_NOT_ALLOCATED);
    assert_int_equal(frame_free(&fa, pg(2)), FRAME_OK);
    assert_int_equal(frame_free(&fa, pg(2)), FRAME_ERR_NOT_ALLOCATED);
    assert_int_equal(frame_free_contig(&fa, pg(0), 2), FRAME_ERR_NOT_ALLOCATED);
    assert_int_equal(frame_count_free(&fa), 1);
    ram_free(r);
}

/* Large zone: multi-page bitmap, many words; only the bitmap is touched. */
static void test_large_zone(void **state)
{
    (void)state;
    const uint64_t n = 20000;
    struct fake_ram *r = ram_new(n, false);
    struct frame_range ram[] = {{pg(0), pg(n)}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 1, NULL, 0, fake_p2v, r), FRAME_OK);
    assert_int_equal(fa.zones[0].meta_pages, 2);
    assert_int_equal(frame_count_free(&fa), n - 2);
    uint64_t pa;
    assert_int_equal(frame_alloc_contig(&fa, 4096, 4096, &pa), FRAME_OK);
    assert_int_equal(pa, pg(4096));
    assert_int_equal(frame_alloc_contig(&fa, 4096, 4096, &pa), FRAME_OK);
    assert_int_equal(pa, pg(8192));
    assert_int_equal(frame_alloc_contig(&fa, 7000, 1, &pa), FRAME_OK);
    assert_int_equal(pa, pg(12288));
    /* 4094 + 712 frames free, in two runs. */
    assert_int_equal(frame_alloc_contig(&fa, 4095, 1, &pa), FRAME_ERR_NO_MEMORY);
    uint64_t count = 0, prev = 0;
    while (frame_alloc(&fa, &pa) == FRAME_OK) {
        assert_true(count == 0 || pa > prev);
        prev = pa;
        count++;
    }
    assert_int_equal(count, n - 2 - 4096 * 2 - 7000);
    assert_int_equal(frame_free_contig(&fa, pg(4096), 4096 * 2 + 7000), FRAME_OK);
    assert_int_equal(frame_count_free(&fa), 4096 * 2 + 7000);
    ram_free(r);
}

static void test_two_zones(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new(300, true);
    /* Given high zone first: allocation still goes low to high. */
    struct frame_range ram[] = {{pg(200), pg(300)}, {pg(10), pg(80)}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 2, NULL, 0, fake_p2v, r), FRAME_OK);
    check_init_state(&fa, r, ram, 2, NULL, 0);
    assert_int_equal(frame_zone_count(&fa), 2);
    uint64_t b, e, f;
    frame_zone_info(&fa, 0, &b, &e, &f);
    assert_int_equal(b, pg(10));
    assert_int_equal(e, pg(80));
    assert_int_equal(f, 69);
    frame_zone_info(&fa, 1, &b, &e, &f);
    assert_int_equal(b, pg(200));
    assert_int_equal(f, 99);
    assert_int_equal(frame_count_total(&fa), 170);
    uint64_t pa;
    for (uint64_t i = 11; i < 80; i++) {
        assert_int_equal(frame_alloc(&fa, &pa), FRAME_OK);
        assert_int_equal(pa, pg(i));
    }
    assert_int_equal(frame_alloc(&fa, &pa), FRAME_OK);
    assert_int_equal(pa, pg(201));
    frame_zone_info(&fa, 0, NULL, NULL, &f);
    assert_int_equal(f, 0);
    ram_free(r);
}

/* Adjacent zones: a contiguous run never straddles the boundary. */
static void test_adjacent_zones_contig(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new(64, true);
    struct frame_range ram[] = {{pg(0), pg(32)}, {pg(32), pg(64)}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 2, NULL, 0, fake_p2v, r), FRAME_OK);
    uint64_t pa;
    assert_int_equal(frame_alloc_contig(&fa, 28, 1, &pa), FRAME_OK);
    assert_int_equal(pa, pg(1));
    /* Frames 29..31 and 34.. are free (33 is zone 1's bitmap): 8 must go
     * past the bitmap. */
    assert_int_equal(frame_alloc_contig(&fa, 8, 1, &pa), FRAME_OK);
    assert_int_equal(pa, pg(33));
    assert_int_equal(frame_alloc_contig(&fa, 3, 1, &pa), FRAME_OK);
    assert_int_equal(pa, pg(29));
    assert_int_equal(frame_free_contig(&fa, pg(31), 2), FRAME_ERR_BAD_RANGE);
    ram_free(r);
}

struct addr_set {
    uint64_t base, n;
    uint8_t *bits;
};

static void set_mark(struct addr_set *s, uint64_t pa, bool on)
{
    uint64_t i = (pa - s->base) / PG;
    assert_true(pa >= s->base && i < s->n);
    if (on) {
        if (s->bits[i])
            fail_msg("frame %#llx handed out twice", (unsigned long long)pa);
        s->bits[i] = 1;
    } else {
        assert_true(s->bits[i]);
        s->bits[i] = 0;
    }
}

static void fill_frame(struct fake_ram *r, uint64_t pa)
{
    uint64_t *p = (uint64_t *)(r->mem + (pa - r->base));
    for (size_t i = 0; i < PG / 8; i++)
        p[i] = pa ^ (i * 0x9e3779b97f4a7c15ull);
}

static void check_frame(const struct fake_ram *r, uint64_t pa)
{
    const uint64_t *p = (const uint64_t *)(r->mem + (pa - r->base));
    for (size_t i = 0; i < PG / 8; i++) {
        if (p[i] != (pa ^ (i * 0x9e3779b97f4a7c15ull)))
            fail_msg("allocated frame %#llx overwritten", (unsigned long long)pa);
    }
}

/* Exhaust, write every frame, check, free all in a scrambled order, get the
 * very same sequence back. Also checks that the bitmaps never overlap a
 * frame in use: every allocated frame carries a pattern the allocator's own
 * writes would destroy. */
static void test_exhaust_and_refill(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new(400, true);
    struct frame_range ram[] = {{pg(300) + 77, pg(400)}, {pg(0), pg(250) + 1}};
    struct frame_range res[] = {{pg(64), pg(66)}, {pg(0), pg(1)}, {pg(320), pg(330)}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 2, res, 3, fake_p2v, r), FRAME_OK);
    check_init_state(&fa, r, ram, 2, res, 3);
    uint64_t initial = frame_count_free(&fa);
    struct addr_set set = {RAM_BASE, 400, calloc(400, 1)};
    uint64_t *seq = calloc(400, sizeof *seq);
    uint64_t n = 0, pa;
    while (frame_alloc(&fa, &pa) == FRAME_OK) {
        set_mark(&set, pa, true);
        assert_false(is_meta(&fa, pa));
        assert_false(in_ranges(res, 3, pa, true));
        fill_frame(r, pa);
        seq[n++] = pa;
        assert_int_equal(frame_count_free(&fa), initial - n);
    }
    assert_int_equal(n, initial);
    for (uint64_t i = 0; i < n; i++)
        check_frame(r, seq[i]);
    /* Free in a scrambled but fixed order. */
    uint64_t *order = calloc(n, sizeof *order);
    memcpy(order, seq, n * sizeof *order);
    uint64_t s = 12345;
    for (uint64_t i = n - 1; i > 0; i--) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t j = (s >> 33) % (i + 1);
        uint64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(frame_free(&fa, order[i]), FRAME_OK);
        set_mark(&set, order[i], false);
        /* The bitmaps still work and still miss the frames in use. */
        if (i % 16 == 0) {
            for (uint64_t k = i + 1; k < n; k++) {
                assert_true(frame_is_allocated(&fa, order[k]));
                check_frame(r, order[k]);
            }
        }
    }
    assert_int_equal(frame_count_free(&fa), initial);
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(frame_alloc(&fa, &pa), FRAME_OK);
        assert_int_equal(pa, seq[i]);
    }
    assert_int_equal(frame_alloc(&fa, &pa), FRAME_ERR_NO_MEMORY);
    free(order);
    free(seq);
    free(set.bits);
    ram_free(r);
}

static void test_contig_alignment(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new(256, true);
    struct frame_range ram[] = {{pg(0), pg(256)}};
    struct frame_range res[] = {{pg(16), pg(17)}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 1, res, 1, fake_p2v, r), FRAME_OK);
    uint64_t pa, pa2;
    assert_int_equal(frame_alloc_contig(&fa, 0, 1, &pa), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_alloc_contig(&fa, 1, 0, &pa), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_alloc_contig(&fa, 1, 3, &pa), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_alloc_contig(&fa, 1, 1, NULL), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_alloc_contig(&fa, 256, 1, &pa), FRAME_ERR_NO_MEMORY);
    assert_int_equal(frame_alloc_contig(&fa, UINT64_MAX, 1, &pa), FRAME_ERR_NO_MEMORY);
    assert_int_equal(frame_alloc_contig(&fa, 1, (uint64_t)1 << 63, &pa), FRAME_ERR_NO_MEMORY);
    uint64_t before = frame_count_free(&fa);

    /* Frame 0 is the bitmap, 16 is reserved. */
    assert_int_equal(frame_alloc_contig(&fa, 3, 1, &pa), FRAME_OK);
    assert_int_equal(pa, pg(1));
    assert_int_equal(frame_alloc_contig(&fa, 4, 4, &pa), FRAME_OK);
    assert_int_equal(pa, pg(4));
    assert_int_equal(frame_alloc_contig(&fa, 8, 1, &pa), FRAME_OK);
    assert_int_equal(pa, pg(8));
    assert_int_equal(frame_alloc_contig(&fa, 2, 1, &pa), FRAME_OK);
    assert_int_equal(pa, pg(17)); /* skips the reserved frame */
    assert_int_equal(frame_alloc_contig(&fa, 16, 16, &pa), FRAME_OK);
    assert_int_equal(pa, pg(32));
    assert_int_equal(frame_alloc_contig(&fa, 1, 64, &pa2), FRAME_OK);
    assert_int_equal(pa2, pg(64));
    assert_int_equal(frame_count_free(&fa), before - (3 + 4 + 8 + 2 + 16 + 1));
    for (uint64_t i = 0; i < 16; i++)
        assert_true(frame_is_allocated(&fa, pa + i * PG));
    /* Single allocations fill the gaps left below. */
    assert_int_equal(frame_alloc(&fa, &pa2), FRAME_OK);
    assert_int_equal(pa2, pg(19));

    /* Partly free run: error, nothing changes. */
    uint64_t mid = frame_count_free(&fa);
    assert_int_equal(frame_free_contig(&fa, pg(30), 4), FRAME_ERR_NOT_ALLOCATED);
    assert_int_equal(frame_free_contig(&fa, pg(15), 3), FRAME_ERR_NOT_ALLOCATED); /* 16 */
    assert_int_equal(frame_free_contig(&fa, pg(250), 7), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_free_contig(&fa, pg(250), UINT64_MAX), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_free_contig(&fa, pg(32), 0), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_free_contig(&fa, pg(32) + 8, 1), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_count_free(&fa), mid);
    assert_true(frame_is_allocated(&fa, pg(32)));
    /* A run may span several allocations. */
    assert_int_equal(frame_free_contig(&fa, pg(1), 15), FRAME_OK);
    assert_int_equal(frame_free_contig(&fa, pg(32), 16), FRAME_OK);
    assert_int_equal(frame_count_free(&fa), mid + 31);
    assert_int_equal(frame_free_contig(&fa, pg(32), 16), FRAME_ERR_NOT_ALLOCATED);
    ram_free(r);
}

static void test_double_and_foreign_free(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new(300, true);
    struct frame_range ram[] = {{pg(0), pg(100)}, {pg(200), pg(300)}};
    struct frame_range res[] = {{pg(50), pg(51)}, {pg(200), pg(300)}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 2, res, 2, fake_p2v, r), FRAME_OK);
    assert_int_equal(fa.zones[1].meta_pages, 0);
    uint64_t pa;
    assert_int_equal(frame_alloc(&fa, &pa), FRAME_OK);
    uint64_t before = frame_count_free(&fa);
    struct {
        uint64_t pa;
        enum frame_err want;
    } cases[] = {
        {pg(2), FRAME_ERR_NOT_ALLOCATED},   /* never allocated */
        {pg(50), FRAME_ERR_NOT_ALLOCATED},  /* reserved */
        {pg(0), FRAME_ERR_NOT_ALLOCATED},   /* the bitmap */
        {pg(250), FRAME_ERR_NOT_ALLOCATED}, /* wholly reserved zone */
        {pg(150), FRAME_ERR_BAD_RANGE},     /* hole between zones */
        {pg(100), FRAME_ERR_BAD_RANGE},     /* one past the end */
        {0, FRAME_ERR_BAD_RANGE},           /* far below */
        {UINT64_MAX & ~(PG - 1), FRAME_ERR_BAD_RANGE},
        {pa + 1, FRAME_ERR_BAD_RANGE}, /* unaligned */
        {pa + PG - 1, FRAME_ERR_BAD_RANGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(frame_free(&fa, cases[i].pa), cases[i].want);
        assert_int_equal(frame_count_free(&fa), before);
        assert_true(frame_is_allocated(&fa, pa));
    }
    assert_int_equal(frame_free(&fa, pa), FRAME_OK);
    assert_int_equal(frame_count_free(&fa), before + 1);
    assert_int_equal(frame_free(&fa, pa), FRAME_ERR_NOT_ALLOCATED);
    assert_int_equal(frame_count_free(&fa), before + 1);
    assert_int_equal(frame_state(&fa, pg(250)), FRAME_STATE_RESERVED);
    assert_int_equal(frame_state(&fa, pg(150)), FRAME_STATE_UNMANAGED);
    ram_free(r);
}

static void test_reserve_after_init(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new(128, true);
    struct frame_range ram[] = {{pg(0), pg(128)}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 1, NULL, 0, fake_p2v, r), FRAME_OK);
    uint64_t a, b;
    assert_int_equal(frame_alloc(&fa, &a), FRAME_OK); /* frame 1 */
    assert_int_equal(frame_alloc(&fa, &b), FRAME_OK); /* frame 2 */
    uint64_t f0 = frame_count_free(&fa);
    assert_int_equal(frame_reserve(&fa, pg(5), pg(4)), FRAME_ERR_BAD_RANGE);
    assert_int_equal(frame_reserve(&fa, pg(5), pg(5)), FRAME_OK);
    assert_int_equal(frame_reserve(&fa, pg(500), pg(600)), FRAME_OK);
    assert_int_equal(frame_count_free(&fa), f0);
    /* Frames 2 (allocated) .. 5, unaligned ends, and past the end of RAM. */
    assert_int_equal(frame_reserve(&fa, pg(2) + 9, pg(5) + 1), FRAME_OK);
    assert_int_equal(frame_count_free(&fa), f0 - 3);
    assert_int_equal(frame_reserve(&fa, pg(120), UINT64_MAX), FRAME_OK);
    assert_int_equal(frame_count_free(&fa), f0 - 3 - 8);
    /* Idempotent. */
    assert_int_equal(frame_reserve(&fa, pg(3), pg(4)), FRAME_OK);
    assert_int_equal(frame_count_free(&fa), f0 - 11);
    assert_int_equal(frame_state(&fa, pg(2)), FRAME_STATE_ALLOCATED);
    assert_true(frame_is_allocated(&fa, b));
    assert_int_equal(frame_state(&fa, pg(4)), FRAME_STATE_RESERVED);
    /* The owner can still free it; it stays out of circulation. */
    assert_int_equal(frame_free(&fa, b), FRAME_OK);
    assert_int_equal(frame_state(&fa, b), FRAME_STATE_RESERVED);
    assert_int_equal(frame_count_free(&fa), f0 - 11);
    assert_int_equal(frame_free(&fa, b), FRAME_ERR_NOT_ALLOCATED);
    assert_int_equal(frame_free(&fa, a), FRAME_OK);
    uint64_t pa;
    assert_int_equal(frame_alloc(&fa, &pa), FRAME_OK);
    assert_int_equal(pa, a);
    assert_int_equal(frame_alloc(&fa, &pa), FRAME_OK);
    assert_int_equal(pa, pg(6));
    while (frame_alloc(&fa, &pa) == FRAME_OK)
        assert_true(pa < pg(120));
    ram_free(r);
}

/* ---- randomized stress against a model ---- */

enum model_state { M_NONE, M_FREE, M_ALLOC, M_RES, M_ALLOC_RES };

#define S_PAGES 360

struct model {
    uint8_t st[S_PAGES];
    int zone[S_PAGES]; /* -1: no RAM */
    uint64_t nfree;
};

struct record {
    uint64_t pa, n;
};

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: fixed seed, reproducible failures. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static int64_t model_find(const struct model *m, uint64_t n, uint64_t align)
{
    for (uint64_t s = 0; s + n <= S_PAGES; s++) {
        if (((RAM_BASE / PG) + s) % align != 0)
            continue;
        bool ok = true;
        for (uint64_t i = s; i < s + n && ok; i++)
            ok = m->st[i] == M_FREE && m->zone[i] == m->zone[s];
        if (ok)
            return (int64_t)s;
    }
    return -1;
}

static void model_check(const struct model *m, const struct frame_allocator *fa)
{
    static const enum frame_state want[] = {[M_NONE] = FRAME_STATE_UNMANAGED,
                                            [M_FREE] = FRAME_STATE_FREE,
                                            [M_ALLOC] = FRAME_STATE_ALLOCATED,
                                            [M_RES] = FRAME_STATE_RESERVED,
                                            [M_ALLOC_RES] = FRAME_STATE_ALLOCATED};
    for (uint64_t i = 0; i < S_PAGES; i++) {
        if (frame_state(fa, pg(i)) != want[m->st[i]])
            fail_msg("frame %llu: state %d, model %d", (unsigned long long)i,
                     frame_state(fa, pg(i)), m->st[i]);
    }
    assert_int_equal(frame_count_free(fa), m->nfree);
}

static void test_stress_model(void **state)
{
    (void)state;
    struct fake_ram *r = ram_new(S_PAGES, true);
    /* Three zones, one unaligned, one adjacent pair; messy reservations. */
    struct frame_range ram[] = {
        {pg(200), pg(260)}, {pg(0) + 0x800, pg(130) + 0x10}, {pg(260), pg(S_PAGES)}};
    struct frame_range res[] = {
        {pg(40), pg(44)}, {pg(42) + 3, pg(47)}, {pg(128), pg(205)}, {pg(300) + 1, pg(301) + 1}};
    struct frame_allocator fa;
    assert_int_equal(frame_alloc_init(&fa, ram, 3, res, 4, fake_p2v, r), FRAME_OK);
    check_init_state(&fa, r, ram, 3, res, 4);

    struct model m = {.nfree = 0};
    for (uint64_t i = 0; i < S_PAGES; i++) {
        m.zone[i] = -1;
        for (unsigned z = 0; z < 3; z++) {
            if (in_ranges(&ram[z], 1, pg(i), false))
                m.zone[i] = (int)z;
        }
        enum frame_state st = frame_state(&fa, pg(i));
        m.st[i] = st == FRAME_STATE_FREE ? M_FREE : st == FRAME_STATE_RESERVED ? M_RES : M_NONE;
        assert_true(st != FRAME_STATE_ALLOCATED);
        m.nfree += m.st[i] == M_FREE;
    }

    static struct record recs[S_PAGES];
    size_t nrec = 0;
    unsigned long n_alloc = 0, n_contig = 0, n_free = 0, n_err = 0, n_res = 0, n_oom = 0;
    rng_state = 0x5eed5eedcafef00dull;
    for (int step = 0; step < 40000; step++) {
        uint64_t op = rng() % 100;
        if (op < 35) {
            int64_t want = model_find(&m, 1, 1);
            uint64_t pa;
            enum frame_err e = frame_alloc(&fa, &pa);
            if (want < 0) {
                assert_int_equal(e, FRAME_ERR_NO_MEMORY);
                n_oom++;
            } else {
                assert_int_equal(e, FRAME_OK);
                assert_int_equal(pa, pg((uint64_t)want));
                m.st[want] = M_ALLOC;
                m.nfree--;
                recs[nrec++] = (struct record){pa, 1};
                n_alloc++;
            }
        } else if (op < 50) {
            uint64_t n = 1 + rng() % 9, align = 1ull << (rng() % 5);
            int64_t want = model_find(&m, n, align);
            uint64_t pa;
            enum frame_err e = frame_alloc_contig(&fa, n, align, &pa);
            if (want < 0) {
                assert_int_equal(e, FRAME_ERR_NO_MEMORY);
                n_oom++;
            } else {
                assert_int_equal(e, FRAME_OK);
                assert_int_equal(pa, pg((uint64_t)want));
                for (uint64_t i = 0; i < n; i++)
                    m.st[want + (int64_t)i] = M_ALLOC;
                m.nfree -= n;
                recs[nrec++] = (struct record){pa, n};
                n_contig++;
            }
        } else if (op < 85) {
            if (nrec == 0)
                continue;
            size_t k = rng() % nrec;
            struct record rec = recs[k];
            recs[k] = recs[--nrec];
            if (rec.n > 1 && rng() % 2) {
                for (uint64_t i = 0; i < rec.n; i++)
                    assert_int_equal(frame_free(&fa, rec.pa + i * PG), FRAME_OK);
            } else {
                assert_int_equal(frame_free_contig(&fa, rec.pa, rec.n), FRAME_OK);
            }
            for (uint64_t i = 0; i < rec.n; i++) {
                uint64_t idx = (rec.pa - RAM_BASE) / PG + i;
                if (m.st[idx] == M_ALLOC) {
                    m.st[idx] = M_FREE;
                    m.nfree++;
                } else {
                    assert_int_equal(m.st[idx], M_ALLOC_RES);
                    m.st[idx] = M_RES;
                }
            }
            n_free++;
        } else if (op < 95) {
            /* Bad frees: anything not wholly allocated must fail cleanly. */
            uint64_t idx = rng() % (S_PAGES + 20);
            uint64_t n = 1 + rng() % 4;
            uint64_t pa = pg(idx) + (rng() % 8 == 0 ? 8 : 0);
            enum frame_err want;
            bool all_alloc = true, in_one_zone = idx < S_PAGES && m.zone[idx] >= 0;
            for (uint64_t i = idx; in_one_zone && i < idx + n; i++) {
                if (i >= S_PAGES || m.zone[i] != m.zone[idx])
                    in_one_zone = false;
                else if (m.st[i] != M_ALLOC && m.st[i] != M_ALLOC_RES)
                    all_alloc = false;
            }
            if ((pa & (PG - 1)) != 0 || !in_one_zone)
                want = FRAME_ERR_BAD_RANGE;
            else if (!all_alloc)
                want = FRAME_ERR_NOT_ALLOCATED;
            else
                continue; /* a legitimate free: not this branch's business */
            uint64_t before = frame_count_free(&fa);
            assert_int_equal(frame_free_contig(&fa, pa, n), want);
            assert_int_equal(frame_count_free(&fa), before);
            n_err++;
        } else if (op < 96) {
            if (rng() % 8 != 0)
                continue; /* rare, or reservations would eat all memory */
            uint64_t idx = rng() % S_PAGES, n = rng() % 3;
            uint64_t lo = pg(idx) + rng() % PG, hi = lo + n * PG;
            assert_int_equal(frame_reserve(&fa, lo, hi), FRAME_OK);
            for (uint64_t i = idx; lo < hi && i < S_PAGES && pg(i) < hi; i++) {
                if (m.st[i] == M_FREE) {
                    m.st[i] = M_RES;
                    m.nfree--;
                } else if (m.st[i] == M_ALLOC) {
                    m.st[i] = M_ALLOC_RES;
                }
            }
            n_res++;
        } else {
            /* Double free of something just freed, or of a free frame. */
            uint64_t idx = rng() % S_PAGES;
            if (m.st[idx] == M_ALLOC || m.st[idx] == M_ALLOC_RES)
                continue;
            uint64_t before = frame_count_free(&fa);
            assert_int_equal(frame_free(&fa, pg(idx)),
                             m.st[idx] == M_NONE ? FRAME_ERR_BAD_RANGE : FRAME_ERR_NOT_ALLOCATED);
            assert_int_equal(frame_count_free(&fa), before);
            n_err++;
        }
        assert_int_equal(frame_count_free(&fa), m.nfree);
        if (step % 50 == 0)
            model_check(&m, &fa);
    }
    model_check(&m, &fa);
    /* Every allocated frame's bytes were never touched by the allocator:
     * only bitmap pages differ from the fill. */
    for (uint64_t i = 0; i < S_PAGES; i++) {
        if (is_meta(&fa, pg(i)))
            continue;
        for (size_t b = 0; b < PG; b++)
            assert_int_equal(r->mem[i * PG + b], FILL);
    }
    print_message("stress: %lu alloc, %lu contig, %lu free, %lu error, %lu reserve, %lu oom\n",
                  n_alloc, n_contig, n_free, n_err, n_res, n_oom);
    assert_true(n_oom > 0 && n_res > 0 && n_contig > 500);
    ram_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_single_zone_basic),
        cmocka_unit_test(test_unaligned_ram),
        cmocka_unit_test(test_reserved_overlapping_unsorted),
        cmocka_unit_test(test_reserved_covers_everything),
        cmocka_unit_test(test_zero_usable),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_no_metadata_space),
        cmocka_unit_test(test_bitmap_in_other_zone),
        cmocka_unit_test(test_large_zone),
        cmocka_unit_test(test_two_zones),
        cmocka_unit_test(test_adjacent_zones_contig),
        cmocka_unit_test(test_exhaust_and_refill),
        cmocka_unit_test(test_contig_alignment),
        cmocka_unit_test(test_double_and_foreign_free),
        cmocka_unit_test(test_reserve_after_init),
        cmocka_unit_test(test_stress_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
