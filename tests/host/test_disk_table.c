/* Host tests for managers/disk/disk_table.c, the disk manager's on-disk
 * format: encode/parse round trips, first-fit allocation and free,
 * fragmentation (and how few map frames it costs), every way a table can
 * be bad (each a typed error), torn writes of the newest copy falling back
 * to the older one, storage-map planning, and random byte flips that must
 * never crash the parser. The disk is a RAM image behind struct dt_io. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "managers/disk/disk_table.h"

#define DISK_SECTORS 65536u /* 32 MiB */

static uint8_t disk[DISK_SECTORS * DT_SECTOR_SIZE];
static uint8_t scratch[DT_TABLE_BYTES];
static struct dt_table table, table2;

/* The fake device: writes may be torn after `tear_after` sectors (the rest
 * of that write and everything after it are lost) or fail. */
static struct {
    long tear_after; /* -1: never */
    int fail_writes, fail_reads;
    unsigned writes, flushes;
} dev;

static int ram_read(void *ctx, uint64_t sector, uint32_t count, void *buf)
{
    (void)ctx;
    if (dev.fail_reads || sector + count > DISK_SECTORS)
        return -1;
    memcpy(buf, disk + sector * DT_SECTOR_SIZE, (size_t)count * DT_SECTOR_SIZE);
    return 0;
}

static int ram_write(void *ctx, uint64_t sector, uint32_t count, const void *buf)
{
    (void)ctx;
    if (dev.fail_writes || sector + count > DISK_SECTORS)
        return -1;
    uint32_t n = count;
    if (dev.tear_after >= 0 && (long)n > dev.tear_after)
        n = (uint32_t)dev.tear_after;
    memcpy(disk + sector * DT_SECTOR_SIZE, buf, (size_t)n * DT_SECTOR_SIZE);
    dev.writes++;
    if (n < count) {
        dev.tear_after = 0; /* the machine is "down": nothing more lands */
        return -1;
    }
    return 0;
}

static int ram_flush(void *ctx)
{
    (void)ctx;
    dev.flushes++;
    return dev.fail_writes ? -1 : 0;
}

static const struct dt_io io = {NULL, ram_read, ram_write, ram_flush};

static int setup(void **state)
{
    (void)state;
    memset(disk, 0, sizeof(disk));
    memset(&dev, 0, sizeof(dev));
    dev.tear_after = -1;
    assert_int_equal(dt_format(&io, DISK_SECTORS, scratch, &table), DT_OK);
    return 0;
}

static void test_crc32_known_value(void **state)
{
    (void)state;
    /* The standard check value of CRC-32/ISO-HDLC. */
    assert_int_equal(dt_crc32(0, "123456789", 9), 0xcbf43926u);
    assert_int_equal(dt_crc32(dt_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
}

static void test_format_and_mount_empty(void **state)
{
    (void)state;
    struct dt_mount_report rep;
    assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table2, &rep), DT_OK);
    assert_int_equal(rep.super, DT_OK);
    assert_int_equal(rep.copy[0], DT_OK);
    assert_int_equal(rep.copy[1], DT_OK);
    assert_int_equal(rep.chosen, 1);
    assert_int_equal(table2.generation, 1);
    assert_int_equal(table2.count, 0);
    assert_int_equal(table2.sb.total_sectors, DISK_SECTORS);
    assert_int_equal(dt_free_sectors(&table2), DISK_SECTORS - DT_DATA_START);
    /* An unformatted disk says so; a too-small one cannot be formatted. */
    memset(disk, 0, DT_SECTOR_SIZE);
    assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table2, &rep), DT_ERR_MAGIC);
    assert_int_equal(rep.chosen, -1);
    assert_int_equal(dt_format(&io, DT_MIN_SECTORS - 1, scratch, &table2), DT_ERR_GEOMETRY);
    /* Odd sizes round down to pages. */
    assert_int_equal(dt_format(&io, DISK_SECTORS - 3, scratch, &table2), DT_OK);
    assert_int_equal(table2.sb.total_sectors, DISK_SECTORS - 8);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct dt_object *o;
    assert_int_equal(dt_create(&table, 7, 300000, DT_OBJ_PATTERN, 42, &o), DT_OK);
    assert_int_equal(o->nruns, 1);
    assert_int_equal(o->run[0].start, DT_DATA_START);
    assert_int_equal(o->run[0].sectors, dt_pages(300000) * 8);
    assert_int_equal(dt_create(&table, 8, 0, 0, 0, NULL), DT_OK); /* empty: no runs */
    assert_int_equal(dt_create(&table, 9, 1, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_commit(&io, &table, scratch), DT_OK);
    assert_int_equal(table.generation, 2);
    struct dt_mount_report rep;
    assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table2, &rep), DT_OK);
    assert_int_equal(rep.chosen, 0);
    assert_int_equal(rep.generation[0], 2);
    assert_int_equal(rep.generation[1], 1);
    assert_int_equal(table2.count, 3);
    assert_memory_equal(table2.obj, table.obj, sizeof(table.obj));
    assert_int_equal(table2.generation, 2);
    /* Encode is deterministic, so a parsed table encodes the same bytes. */
    static uint8_t a[DT_TABLE_BYTES], b[DT_TABLE_BYTES];
    size_t na = dt_table_encode(&table, a), nb = dt_table_encode(&table2, b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, DT_TABLE_BYTES);
    assert_int_equal(dt_table_parse(&table.sb, a, DT_TABLE_BYTES, &table2), DT_OK);
    /* The next commit goes to copy 1, and so on. */
    assert_int_equal(dt_commit(&io, &table, scratch), DT_OK);
    assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table2, &rep), DT_OK);
    assert_int_equal(rep.chosen, 1);
    assert_int_equal(table2.generation, 3);
}

static void test_create_delete_errors(void **state)
{
    (void)state;
    assert_int_equal(dt_create(&table, 1, 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_create(&table, 1, 4096, 0, 0, NULL), DT_ERR_EXISTS);
    assert_int_equal(dt_create(&table, 2, 4096, 0x80, 0, NULL), DT_ERR_ARG);
    assert_int_equal(dt_create(&table, 2, UINT64_MAX, 0, 0, NULL), DT_ERR_ARG);
    assert_int_equal(dt_create(&table, 2, (uint64_t)DISK_SECTORS * 512, 0, 0, NULL),
                     DT_ERR_NO_SPACE);
    assert_int_equal(dt_delete(&table, 99), DT_ERR_NOT_FOUND);
    for (uint64_t id = 2; id <= DT_MAX_OBJECTS; id++)
        assert_int_equal(dt_create(&table, id, 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_create(&table, 1000, 4096, 0, 0, NULL), DT_ERR_FULL);
    assert_int_equal(dt_table_check(&table), DT_OK);
    /* A full table still fits one copy. */
    assert_int_equal(dt_commit(&io, &table, scratch), DT_OK);
    assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table2, NULL), DT_OK);
    assert_int_equal(table2.count, DT_MAX_OBJECTS);
    /* Delete keeps the others in order and frees the sectors. */
    uint64_t before = dt_free_sectors(&table);
    assert_int_equal(dt_delete(&table, 5), DT_OK);
    assert_int_equal(dt_free_sectors(&table), before + 8);
    assert_null(dt_find(&table, 5));
    assert_int_equal(table.obj[3].id, 4);
    assert_int_equal(table.obj[4].id, 6);
    /* The freed page is the first fit for the next page-sized object. */
    struct dt_object *o;
    assert_int_equal(dt_create(&table, 500, 100, 0, 0, &o), DT_OK);
    assert_int_equal(o->run[0].start, DT_DATA_START + 4 * 8);
}

static void test_first_fit_and_free(void **state)
{
    (void)state;
    /* a (16 pages) b (1) c (32) d (1): delete a and c. */
    struct dt_object *o;
    assert_int_equal(dt_create(&table, 1, 16 * 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_create(&table, 2, 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_create(&table, 3, 32 * 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_create(&table, 4, 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_delete(&table, 1), DT_OK);
    assert_int_equal(dt_delete(&table, 3), DT_OK);
    /* 20 pages: a's gap is too small, c's holds it whole. */
    assert_int_equal(dt_create(&table, 5, 20 * 4096, 0, 0, &o), DT_OK);
    assert_int_equal(o->nruns, 1);
    assert_int_equal(o->run[0].start, DT_DATA_START + 17 * 8);
    /* 10 pages: first fit is a's gap. */
    assert_int_equal(dt_create(&table, 6, 10 * 4096, 0, 0, &o), DT_OK);
    assert_int_equal(o->run[0].start, DT_DATA_START);
    assert_int_equal(dt_table_check(&table), DT_OK);
    /* Deleting everything gives every sector back. */
    for (uint64_t id = 1; id <= 6; id++)
        dt_delete(&table, id);
    assert_int_equal(table.count, 0);
    assert_int_equal(dt_free_sectors(&table), DISK_SECTORS - DT_DATA_START);
}

/* The storage-map plan, recorded: frames with their level and slots. */
struct plan_frame {
    unsigned level;
    int kind[16]; /* 0 empty, 1 key, 2 child */
    uint64_t sector[16], sectors[16], child[16];
};
static struct plan_frame plan[256];
static unsigned nplan;

static long plan_frame_fn(void *ctx, unsigned level, uint64_t *h)
{
    (void)ctx;
    if (nplan == 256)
        return -1;
    memset(&plan[nplan], 0, sizeof(plan[0]));
    plan[nplan].level = level;
    *h = nplan++;
    return 0;
}

static long plan_key_fn(void *ctx, uint64_t f, unsigned s, uint64_t sector, uint64_t sectors)
{
    (void)ctx;
    assert_int_equal(plan[f].kind[s], 0);
    plan[f].kind[s] = 1;
    plan[f].sector[s] = sector;
    plan[f].sectors[s] = sectors;
    return 0;
}

static long plan_child_fn(void *ctx, uint64_t f, unsigned s, uint64_t c)
{
    (void)ctx;
    assert_int_equal(plan[f].kind[s], 0);
    assert_int_equal(plan[c].level + 1, plan[f].level);
    plan[f].kind[s] = 2;
    plan[f].child[s] = c;
    return 0;
}

static const struct dt_map_ops plan_ops = {NULL, plan_frame_fn, plan_key_fn, plan_child_fn};

/* Walk the plan as the kernel walks a map (storage_map.h): where is page p? */
static int plan_resolve(uint64_t root, unsigned height, uint64_t page, uint64_t *sector)
{
    uint64_t f = root;
    for (int level = (int)height - 1; level >= 0; level--) {
        uint64_t span = (uint64_t)1 << (4 * level);
        unsigned s = (unsigned)(page / span % 16);
        if (plan[f].level != (unsigned)level)
            return -1;
        if (plan[f].kind[s] == 1) {
            if (plan[f].sectors[s] != span * 8)
                return -1; /* a key must cover the slot's whole span */
            *sector = plan[f].sector[s] + (page % span) * 8;
            return 0;
        }
        if (plan[f].kind[s] == 0)
            return -1;
        f = plan[f].child[s];
    }
    return -1;
}

/* Check the plan of `o` against dt_locate for every page; returns frames. */
static unsigned check_plan(const struct dt_object *o)
{
    nplan = 0;
    uint64_t root;
    unsigned height;
    assert_int_equal(dt_map_build(o, &plan_ops, &root, &height), 0);
    uint64_t pages = dt_pages(o->length);
    assert_int_equal(height, dt_map_height(pages));
    for (uint64_t p = 0; p < pages; p++) {
        uint64_t want, contig, got;
        assert_int_equal(dt_locate(o, p, &want, &contig), DT_OK);
        assert_int_equal(plan_resolve(root, height, p, &got), 0);
        assert_int_equal(got, want);
    }
    /* Nothing mapped past the object's pages. */
    uint64_t got;
    if (pages < ((uint64_t)1 << (4 * height)))
        assert_int_not_equal(plan_resolve(root, height, pages, &got), 0);
    return nplan;
}

static void test_map_plan_contiguous(void **state)
{
    (void)state;
    struct dt_object *o;
    /* 16 pages: one frame of 16 keys. 40 pages: a level-1 root with keys
     * for two slots and a level-0 frame for the 8-page tail. */
    assert_int_equal(dt_create(&table, 1, 16 * 4096, 0, 0, &o), DT_OK);
    assert_int_equal(check_plan(o), 1);
    assert_int_equal(dt_create(&table, 2, 40 * 4096 - 100, 0, 0, &o), DT_OK);
    assert_int_equal(check_plan(o), 2);
    assert_int_equal(dt_create(&table, 3, 256 * 4096, 0, 0, &o), DT_OK);
    assert_int_equal(check_plan(o), 1);
    assert_int_equal(dt_create(&table, 4, 1, 0, 0, &o), DT_OK);
    assert_int_equal(check_plan(o), 1);
    assert_int_equal(dt_create(&table, 5, 0, 0, 0, &o), DT_OK);
    uint64_t root;
    unsigned h = 9;
    assert_int_equal(dt_map_build(o, &plan_ops, &root, &h), 0);
    assert_int_equal(h, 0);
    assert_int_equal(dt_map_height(1), 1);
    assert_int_equal(dt_map_height(16), 1);
    assert_int_equal(dt_map_height(17), 2);
    assert_int_equal(dt_map_height(UINT64_MAX), 13);
}

static void test_fragmentation(void **state)
{
    (void)state;
    /* Fill with 1-, 20- and 37-page objects, delete every other one, then
     * make an object too large for any gap: it is split in disk order,
     * each piece but the last a multiple of 16 pages. */
    uint64_t id = 1;
    static const uint64_t sizes[] = {1, 20, 37, 3, 50, 17};
    for (unsigned round = 0; round < 4; round++)
        for (unsigned k = 0; k < 6; k++)
            assert_int_equal(dt_create(&table, id++, sizes[k] * 4096, 0, 0, NULL), DT_OK);
    for (uint64_t d = 1; d < id; d += 2)
        assert_int_equal(dt_delete(&table, d), DT_OK);
    struct dt_object *o;
    /* Take the tail, so that only the holes are left. */
    uint64_t tail_pages = dt_free_sectors(&table) / 8;
    uint64_t holes = 0;
    for (unsigned round = 0; round < 4; round++)
        for (unsigned k = 0; k < 6; k += 2)
            holes += sizes[k];
    assert_int_equal(dt_create(&table, 1001, (tail_pages - holes) * 4096, 0, 0, &o), DT_OK);
    assert_int_equal(o->nruns, 1);
    assert_int_equal(dt_free_sectors(&table), holes * 8);
    /* Now 12 holes of 1, 37, 50 pages (repeated): 88 pages fit only split. */
    assert_int_equal(dt_create(&table, 2000, 88 * 4096, 0, 0, &o), DT_OK);
    assert_true(o->nruns > 1);
    uint64_t total = 0;
    for (uint32_t r = 0; r < o->nruns; r++) {
        total += o->run[r].sectors / 8;
        if (r + 1 < o->nruns && o->run[r].sectors / 8 >= 16)
            assert_int_equal(o->run[r].sectors / 8 % 16, 0);
        if (r)
            assert_true(o->run[r].start > o->run[r - 1].start);
    }
    assert_int_equal(total, 88);
    assert_int_equal(dt_table_check(&table), DT_OK);
    /* The map: every 16-page slot lies in one run, so frames stay few. */
    unsigned frames = check_plan(o);
    assert_true(frames <= 3);
    /* Too fragmented: all remaining holes, more than DT_MAX_RUNS of them
     * are 1-page ones when only those are left. */
    uint64_t free_pages = dt_free_sectors(&table) / 8;
    enum dt_error e = dt_create(&table, 3000, free_pages * 4096, 0, 0, &o);
    if (e == DT_OK) {
        assert_true(o->nruns <= DT_MAX_RUNS);
        check_plan(o);
    } else {
        assert_int_equal(e, DT_ERR_FRAGMENTED);
    }
    assert_int_equal(dt_table_check(&table), DT_OK);
    assert_int_equal(dt_commit(&io, &table, scratch), DT_OK);
    assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table2, NULL), DT_OK);
    assert_memory_equal(table2.obj, table.obj, sizeof(table.obj));
}

static void test_too_fragmented(void **state)
{
    (void)state;
    /* 40 one-page holes between 1-page objects, the tail taken. */
    uint64_t id = 1;
    for (unsigned k = 0; k < 80; k++)
        assert_int_equal(dt_create(&table, id++, 4096, 0, 0, NULL), DT_OK);
    uint64_t tail = dt_free_sectors(&table) / 8;
    assert_int_equal(dt_create(&table, 999, tail * 4096, 0, 0, NULL), DT_OK);
    for (uint64_t d = 1; d <= 80; d += 2)
        assert_int_equal(dt_delete(&table, d), DT_OK);
    assert_int_equal(dt_free_sectors(&table), 40 * 8);
    assert_int_equal(dt_create(&table, 1000, 17 * 4096, 0, 0, NULL), DT_ERR_FRAGMENTED);
    assert_int_equal(dt_create(&table, 1000, 41 * 4096, 0, 0, NULL), DT_ERR_NO_SPACE);
    struct dt_object *o;
    assert_int_equal(dt_create(&table, 1000, 16 * 4096, 0, 0, &o), DT_OK);
    assert_int_equal(o->nruns, 16);
    /* 16 scattered pages: a root of 16 one-page keys. */
    assert_int_equal(check_plan(o), 1);
    assert_int_equal(dt_table_check(&table), DT_OK);
}

/* ---- bad input ---- */

/* Encode `t` (as is: possibly inconsistent) into a copy and parse it. */
static enum dt_error parse_as_copy(const struct dt_table *t)
{
    static uint8_t buf[DT_TABLE_BYTES];
    dt_table_encode(t, buf);
    return dt_table_parse(&t->sb, buf, DT_TABLE_BYTES, &table2);
}

static void make_two(void)
{
    assert_int_equal(dt_create(&table, 1, 10 * 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_create(&table, 2, 10 * 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(parse_as_copy(&table), DT_OK);
}

static void test_bad_runs(void **state)
{
    (void)state;
    make_two();
    struct dt_table good = table;
    /* Overlap between objects, and inside one. */
    table.obj[1].run[0].start -= 8;
    assert_int_equal(parse_as_copy(&table), DT_ERR_OVERLAP);
    table = good;
    table.obj[0].nruns = 2;
    table.obj[0].run[0].sectors = 40;
    table.obj[0].run[1] = (struct dt_run){DT_DATA_START + 32, 40};
    assert_int_equal(parse_as_copy(&table), DT_ERR_OVERLAP);
    /* Past the disk's end, before the data area, wrapping around. */
    table = good;
    table.obj[1].run[0].start = DISK_SECTORS - 40;
    assert_int_equal(parse_as_copy(&table), DT_ERR_RUN_RANGE);
    table.obj[1].run[0].start = DISK_SECTORS;
    assert_int_equal(parse_as_copy(&table), DT_ERR_RUN_RANGE);
    table.obj[1].run[0].start = DISK_SECTORS - 80;
    assert_int_equal(parse_as_copy(&table), DT_OK);
    table.obj[1].run[0].start = 8; /* on the table copies */
    assert_int_equal(parse_as_copy(&table), DT_ERR_RUN_RANGE);
    table.obj[1].run[0].start = UINT64_MAX - 7;
    assert_int_equal(parse_as_copy(&table), DT_ERR_RUN_RANGE);
    table.obj[1].run[0] = (struct dt_run){DISK_SECTORS - 80, UINT64_MAX - 7};
    assert_int_equal(parse_as_copy(&table), DT_ERR_RUN_RANGE);
    /* Alignment, emptiness. */
    table = good;
    table.obj[1].run[0].start += 1;
    assert_int_equal(parse_as_copy(&table), DT_ERR_RUN_ALIGN);
    table = good;
    table.obj[1].run[0].sectors = 0;
    assert_int_equal(parse_as_copy(&table), DT_ERR_RUN_ALIGN);
    table = good;
    table.obj[1].run[0].sectors = 81;
    assert_int_equal(parse_as_copy(&table), DT_ERR_RUN_ALIGN);
    /* Lengths that do not match the runs, either way. */
    table = good;
    table.obj[0].length = 11 * 4096;
    assert_int_equal(parse_as_copy(&table), DT_ERR_LENGTH);
    table.obj[0].length = 9 * 4096;
    assert_int_equal(parse_as_copy(&table), DT_ERR_LENGTH);
    table.obj[0].length = 9 * 4096 + 1; /* 10 pages: fine */
    assert_int_equal(parse_as_copy(&table), DT_OK);
    table.obj[0].length = UINT64_MAX;
    assert_int_equal(parse_as_copy(&table), DT_ERR_LENGTH);
    /* Ids, flags. */
    table = good;
    table.obj[1].id = 1;
    assert_int_equal(parse_as_copy(&table), DT_ERR_DUPLICATE);
    table = good;
    table.obj[1].flags = 0x100;
    assert_int_equal(parse_as_copy(&table), DT_ERR_FORMAT);
}

static void test_bad_encoding(void **state)
{
    (void)state;
    make_two();
    static uint8_t buf[DT_TABLE_BYTES];
    size_t used = dt_table_encode(&table, buf);
    /* Any flipped byte in the used part: the CRC catches it. */
    buf[used - 1] ^= 1;
    assert_int_equal(dt_table_parse(&table.sb, buf, DT_TABLE_BYTES, &table2), DT_ERR_CRC);
    buf[used - 1] ^= 1;
    buf[0] ^= 1;
    assert_int_equal(dt_table_parse(&table.sb, buf, DT_TABLE_BYTES, &table2), DT_ERR_MAGIC);
    buf[0] ^= 1;
    /* A length field past the copy, or short of the header. */
    static uint8_t bad[DT_TABLE_BYTES];
    memcpy(bad, buf, sizeof(bad));
    bad[22] = 0xff; /* used bytes > copy */
    assert_int_equal(dt_table_parse(&table.sb, bad, DT_TABLE_BYTES, &table2), DT_ERR_TRUNCATED);
    assert_int_equal(dt_table_parse(&table.sb, buf, 10, &table2), DT_ERR_TRUNCATED);
    assert_int_equal(dt_table_parse(&table.sb, buf, used - 1, &table2), DT_ERR_TRUNCATED);
    /* Counts: rewrite a field and fix the CRC, so only the check sees it. */
    static const struct {
        size_t at;
        uint32_t value;
        enum dt_error want;
    } cases[] = {
        {16, DT_MAX_OBJECTS + 1, DT_ERR_COUNT},   /* objects */
        {16, 3, DT_ERR_TRUNCATED},                /* more objects than bytes */
        {16, 1, DT_ERR_TRUNCATED},                /* fewer: bytes left over */
        {64 + 28, DT_MAX_RUNS + 1, DT_ERR_COUNT}, /* runs of object 0 */
        {64 + 28, 1000000, DT_ERR_COUNT},
        {64 + 28, 3, DT_ERR_TRUNCATED}, /* runs eat object 1 */
        {64 + 32, 1, DT_ERR_FORMAT},    /* reserved */
        {40, 1, DT_ERR_FORMAT},         /* header reserved */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf, sizeof(bad));
        for (unsigned b = 0; b < 4; b++)
            bad[cases[i].at + b] = (uint8_t)(cases[i].value >> (8 * b));
        memset(bad + 24, 0, 4);
        uint32_t crc = dt_crc32(0, bad, used);
        for (unsigned b = 0; b < 4; b++)
            bad[24 + b] = (uint8_t)(crc >> (8 * b));
        assert_int_equal(dt_table_parse(&table.sb, bad, DT_TABLE_BYTES, &table2), cases[i].want);
    }
}

static void test_bad_superblock(void **state)
{
    (void)state;
    struct dt_super sb;
    uint8_t s[DT_SECTOR_SIZE];
    memcpy(s, disk, sizeof(s));
    assert_int_equal(dt_super_parse(s, DISK_SECTORS, &sb), DT_OK);
    /* The device is smaller than the superblock says. */
    assert_int_equal(dt_super_parse(s, DISK_SECTORS - 8, &sb), DT_ERR_GEOMETRY);
    s[100] ^= 4;
    assert_int_equal(dt_super_parse(s, DISK_SECTORS, &sb), DT_ERR_CRC);
    s[100] ^= 4;
    s[3] ^= 4;
    assert_int_equal(dt_super_parse(s, DISK_SECTORS, &sb), DT_ERR_MAGIC);
    s[3] ^= 4;
    /* Fields changed with a fixed CRC: version, geometry, reserved. */
    static const struct {
        size_t at;
        uint8_t value;
        enum dt_error want;
    } cases[] = {
        {8, 2, DT_ERR_VERSION},   {12, 1, DT_ERR_GEOMETRY}, {16, 1, DT_ERR_GEOMETRY},
        {24, 9, DT_ERR_GEOMETRY}, {40, 7, DT_ERR_GEOMETRY}, {44, 1, DT_ERR_GEOMETRY},
        {52, 1, DT_ERR_FORMAT},   {56, 1, DT_ERR_GEOMETRY}, {300, 1, DT_ERR_FORMAT},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t b[DT_SECTOR_SIZE];
        memcpy(b, disk, sizeof(b));
        b[cases[i].at] = cases[i].value;
        uint32_t crc = dt_crc32(0, b, DT_SECTOR_SIZE - 4);
        for (unsigned k = 0; k < 4; k++)
            b[DT_SECTOR_SIZE - 4 + k] = (uint8_t)(crc >> (8 * k));
        assert_int_equal(dt_super_parse(b, DISK_SECTORS, &sb), cases[i].want);
    }
}

static void test_torn_newest_falls_back(void **state)
{
    (void)state;
    /* Generation 2 (copy 0) holds object 1; generation 3 (copy 1) adds
     * object 2 but is torn after 1 sector: mount takes generation 2. */
    assert_int_equal(dt_create(&table, 1, 3 * 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_commit(&io, &table, scratch), DT_OK);
    for (uint64_t id = 2; id < 40; id++)
        assert_int_equal(dt_create(&table, id, 4096, 0, 0, NULL), DT_OK);
    dev.tear_after = 1;
    assert_int_equal(dt_commit(&io, &table, scratch), DT_ERR_IO);
    assert_int_equal(table.generation, 2); /* not bumped on failure */
    dev.tear_after = -1;
    struct dt_mount_report rep;
    assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table2, &rep), DT_OK);
    assert_int_equal(rep.copy[0], DT_OK);
    assert_int_equal(rep.copy[1], DT_ERR_CRC);
    assert_int_equal(rep.chosen, 0);
    assert_int_equal(table2.generation, 2);
    assert_int_equal(table2.count, 1);
    /* The next commit from the mounted table rewrites the torn copy. */
    assert_int_equal(dt_create(&table2, 5, 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_commit(&io, &table2, scratch), DT_OK);
    assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table, &rep), DT_OK);
    assert_int_equal(rep.chosen, 1);
    assert_int_equal(table.generation, 3);
    assert_int_equal(table.count, 2);
    /* Tear at every sector of the copy: always one of the two tables. */
    for (long k = 0; k < 12; k++) {
        struct dt_table before = table;
        assert_int_equal(dt_create(&table, 100 + (uint64_t)k, 4096, 0, 0, NULL), DT_OK);
        dev.tear_after = k;
        enum dt_error e = dt_commit(&io, &table, scratch);
        dev.tear_after = -1;
        assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table2, &rep), DT_OK);
        if (e == DT_OK) {
            assert_int_equal(table2.generation, table.generation);
            assert_int_equal(table2.count, table.count);
        } else if (table2.generation == before.generation) {
            assert_int_equal(table2.count, before.count);
            table = before;
        } else {
            /* Torn after the used part: the new table landed although the
             * write failed (an unacknowledged update may or may not stay). */
            assert_int_equal(table2.generation, before.generation + 1);
            assert_int_equal(table2.count, before.count + 1);
            table = table2;
        }
    }
    /* Both copies bad: no table. Write errors and read errors are I/O. */
    memset(disk + 8 * 512, 0xee, 2 * DT_TABLE_BYTES);
    assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table2, &rep), DT_ERR_NO_TABLE);
    assert_int_equal(rep.copy[0], DT_ERR_MAGIC);
    dev.fail_reads = 1;
    assert_int_equal(dt_mount(&io, DISK_SECTORS, scratch, &table2, &rep), DT_ERR_IO);
    dev.fail_reads = 0;
    dev.fail_writes = 1;
    assert_int_equal(dt_commit(&io, &table, scratch), DT_ERR_IO);
}

/* Random byte flips in the superblock and both copies: mount never
 * crashes (ASan and UBSan watch), and what it mounts always checks out. */
static void test_random_flips(void **state)
{
    (void)state;
    uint64_t id = 1;
    for (unsigned k = 0; k < 30; k++)
        assert_int_equal(dt_create(&table, id++, (k * 7919 % 40 + 1) * 3000, 0, 0, NULL), DT_OK);
    for (uint64_t d = 1; d < id; d += 3)
        dt_delete(&table, d);
    assert_int_equal(dt_create(&table, 500, 100 * 4096, 0, 0, NULL), DT_OK);
    assert_int_equal(dt_commit(&io, &table, scratch), DT_OK);
    assert_int_equal(dt_commit(&io, &table, scratch), DT_OK);
    static uint8_t meta[DT_DATA_START * DT_SECTOR_SIZE];
    memcpy(meta, disk, sizeof(meta));
    size_t used = dt_table_encode(&table, scratch);
    srand(12345);
    unsigned mounted = 0;
    for (unsigned iter = 0; iter < 3000; iter++) {
        memcpy(disk, meta, sizeof(meta));
        unsigned flips = 1 + (unsigned)rand() % 8;
        for (unsigned f = 0; f < flips; f++) {
            /* Mostly in the used parts, where it matters. */
            size_t at;
            switch (rand() % 3) {
            case 0:
                at = (size_t)rand() % DT_SECTOR_SIZE;
                break;
            case 1:
                at = 8 * 512 + (size_t)rand() % used;
                break;
            default:
                at = (8 + DT_TABLE_SECTORS) * 512 + (size_t)rand() % used;
                break;
            }
            disk[at] ^= (uint8_t)(1 + rand() % 255);
        }
        struct dt_mount_report rep;
        enum dt_error e = dt_mount(&io, DISK_SECTORS, scratch, &table2, &rep);
        assert_true((unsigned)e < DT_ERR_COUNT_);
        if (e == DT_OK) {
            mounted++;
            assert_int_equal(dt_table_check(&table2), DT_OK);
        }
    }
    assert_true(mounted > 0);
    /* Parsing garbage directly, with the CRC made right, never crashes. */
    static uint8_t junk[DT_TABLE_BYTES];
    for (unsigned iter = 0; iter < 2000; iter++) {
        memcpy(junk, scratch, sizeof(junk));
        for (unsigned f = 0; f < 4; f++)
            junk[64 + (size_t)rand() % (used - 64)] ^= (uint8_t)(1 + rand() % 255);
        if (rand() % 4 == 0)
            junk[16 + rand() % 8] ^= (uint8_t)(1 + rand() % 255); /* count or length */
        uint32_t u = (uint32_t)junk[20] | (uint32_t)junk[21] << 8 | (uint32_t)junk[22] << 16 |
                     (uint32_t)junk[23] << 24;
        if (u >= 28 && u <= sizeof(junk)) {
            memset(junk + 24, 0, 4);
            uint32_t crc = dt_crc32(0, junk, u);
            for (unsigned b = 0; b < 4; b++)
                junk[24 + b] = (uint8_t)(crc >> (8 * b));
        }
        enum dt_error e = dt_table_parse(&table.sb, junk, sizeof(junk), &table2);
        assert_true((unsigned)e < DT_ERR_COUNT_);
        if (e == DT_OK)
            assert_int_equal(dt_table_check(&table2), DT_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_known_value),
        cmocka_unit_test_setup(test_format_and_mount_empty, setup),
        cmocka_unit_test_setup(test_round_trip, setup),
        cmocka_unit_test_setup(test_create_delete_errors, setup),
        cmocka_unit_test_setup(test_first_fit_and_free, setup),
        cmocka_unit_test_setup(test_map_plan_contiguous, setup),
        cmocka_unit_test_setup(test_fragmentation, setup),
        cmocka_unit_test_setup(test_too_fragmented, setup),
        cmocka_unit_test_setup(test_bad_runs, setup),
        cmocka_unit_test_setup(test_bad_encoding, setup),
        cmocka_unit_test_setup(test_bad_superblock, setup),
        cmocka_unit_test_setup(test_torn_newest_falls_back, setup),
        cmocka_unit_test_setup(test_random_flips, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
