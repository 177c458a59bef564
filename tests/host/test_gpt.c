/* Host tests for user/init/gpt.c, the GUID-partition-table reader init
 * uses to find the data partition of an SD-card image: tables written here
 * the way sfdisk writes them (protective MBR, primary header and entry
 * array, backup array and header at the end), then every way one can be
 * wrong - a bad CRC in either copy, sizes and LBAs off the disk, an entry
 * outside the usable space - and random byte flips that must never make
 * it read outside the disk or crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "managers/disk/disk_table.h"
#include "user/init/gpt.h"

#define SECTORS 4096u /* 2 MiB */
#define ENTRIES 128u
#define ENTRY_SIZE 128u
#define ARRAY_SECTORS (ENTRIES * ENTRY_SIZE / GPT_SECTOR)
#define FIRST_USABLE (2 + ARRAY_SECTORS)
#define LAST_USABLE (SECTORS - 2 - ARRAY_SECTORS)

static uint8_t disk[SECTORS * GPT_SECTOR];
static uint8_t buf[GPT_SECTOR];
static struct {
    int fail_at; /* a read of this sector fails; -1: none */
    unsigned reads;
    bool out_of_range; /* a read went past the disk */
} dev;

static bool ram_read(void *ctx, uint64_t lba, unsigned count, void *out)
{
    (void)ctx;
    dev.reads++;
    if (lba >= SECTORS || count > SECTORS - lba) {
        dev.out_of_range = true;
        return false;
    }
    if (dev.fail_at >= 0 && (uint64_t)dev.fail_at >= lba && (uint64_t)dev.fail_at < lba + count)
        return false;
    memcpy(out, disk + lba * GPT_SECTOR, (size_t)count * GPT_SECTOR);
    return true;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t *sector(uint64_t lba)
{
    return disk + lba * GPT_SECTOR;
}

static const uint8_t esp_type[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                                     0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};

static void set_entry(uint8_t *array, unsigned i, const uint8_t type[16], uint64_t first,
                      uint64_t last, const char *name)
{
    uint8_t *e = array + i * ENTRY_SIZE;
    memcpy(e, type, 16);
    memset(e + 16, 0x5a, 16); /* unique GUID: anything */
    put64(e + 32, first);
    put64(e + 40, last);
    for (unsigned c = 0; name[c] && c < 36; c++)
        e[56 + 2 * c] = (uint8_t)name[c];
}

/* (Re)write the header at `lba` for the array at `array_lba`. */
static void write_header(uint64_t lba, uint64_t alt, uint64_t array_lba)
{
    uint8_t *h = sector(lba);
    memset(h, 0, GPT_SECTOR);
    memcpy(h, "EFI PART", 8);
    put32(h + 8, 0x00010000);
    put32(h + 12, 92);
    put64(h + 24, lba);
    put64(h + 32, alt);
    put64(h + 40, FIRST_USABLE);
    put64(h + 48, LAST_USABLE);
    memset(h + 56, 0x11, 16);
    put64(h + 72, array_lba);
    put32(h + 80, ENTRIES);
    put32(h + 84, ENTRY_SIZE);
    put32(h + 88, dt_crc32(0, sector(array_lba), ENTRIES * ENTRY_SIZE));
    put32(h + 16, dt_crc32(0, h, 92));
}

/* Both copies of a table with the boot partition first and, when `data`,
 * the data partition second; as sfdisk lays them out. */
static void make_disk(bool data)
{
    memset(disk, 0, sizeof(disk));
    uint8_t *mbr = sector(0);
    mbr[446 + 4] = 0xee;
    put32(mbr + 446 + 8, 1);
    put32(mbr + 446 + 12, SECTORS - 1);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    uint8_t *array = sector(2);
    set_entry(array, 0, esp_type, 64, 1087, "newsys-boot");
    if (data)
        set_entry(array, 1, gpt_newsys_data_type, 1088, LAST_USABLE, "newsys-data");
    memcpy(sector(LAST_USABLE + 1), array, ARRAY_SECTORS * GPT_SECTOR);
    write_header(1, SECTORS - 1, 2);
    write_header(SECTORS - 1, 1, LAST_USABLE + 1);
}

static enum gpt_result find(struct gpt_part *p)
{
    return gpt_find(gpt_newsys_data_type, SECTORS, ram_read, NULL, buf, p);
}

static int setup(void **state)
{
    (void)state;
    dev.fail_at = -1;
    dev.reads = 0;
    dev.out_of_range = false;
    return 0;
}

static void test_found(void **state)
{
    (void)state;
    struct gpt_part p;
    make_disk(true);
    assert_int_equal(find(&p), GPT_FOUND);
    assert_int_equal(p.first, 1088);
    assert_int_equal(p.sectors, LAST_USABLE - 1088 + 1);
    assert_int_equal(p.index, 2);
    assert_string_equal(p.name, "newsys-data");
    assert_false(dev.out_of_range);
}

static void test_not_a_gpt(void **state)
{
    (void)state;
    struct gpt_part p;
    memset(disk, 0, sizeof(disk)); /* blank: the whole disk is the demo's */
    assert_int_equal(find(&p), GPT_NONE);
    memset(disk, 0xa5, sizeof(disk)); /* someone else's data */
    assert_int_equal(find(&p), GPT_NONE);
    assert_int_equal(gpt_find(gpt_newsys_data_type, 2, ram_read, NULL, buf, &p), GPT_NONE);
}

static void test_no_data_partition(void **state)
{
    (void)state;
    struct gpt_part p;
    make_disk(false);
    assert_int_equal(find(&p), GPT_NO_PART);
}

static void test_primary_damaged_backup_used(void **state)
{
    (void)state;
    struct gpt_part p;
    make_disk(true);
    sector(1)[40] ^= 1; /* the header no longer matches its CRC */
    assert_int_equal(find(&p), GPT_FOUND);
    assert_int_equal(p.first, 1088);

    /* The primary array no longer matches its CRC: the data partition's
     * first LBA in it is off by 2; the backup's is right. */
    make_disk(true);
    sector(2)[ENTRY_SIZE + 32] ^= 2;
    assert_int_equal(find(&p), GPT_FOUND);
    assert_int_equal(p.first, 1088);
    assert_string_equal(p.name, "newsys-data");
    /* Both arrays damaged: nothing to trust. */
    sector(LAST_USABLE + 1)[ENTRY_SIZE + 32] ^= 2;
    assert_int_equal(find(&p), GPT_BAD);
}

static void test_both_damaged(void **state)
{
    (void)state;
    struct gpt_part p;
    make_disk(true);
    sector(1)[40] ^= 1;
    sector(SECTORS - 1)[40] ^= 1;
    assert_int_equal(find(&p), GPT_BAD);
    /* The protective MBR alone still says "GPT": never treated as blank. */
    memset(sector(1), 0, GPT_SECTOR);
    memset(sector(SECTORS - 1), 0, GPT_SECTOR);
    assert_int_equal(find(&p), GPT_BAD);
    /* And a header signature without the MBR. */
    make_disk(true);
    memset(sector(0), 0, GPT_SECTOR);
    sector(1)[16] ^= 1;
    sector(SECTORS - 1)[16] ^= 1;
    assert_int_equal(find(&p), GPT_BAD);
}

/* A header whose CRC is right but whose fields are not: each is refused
 * (and the backup, also wrong the same way, too). */
static void bad_field(size_t at, uint64_t value, bool wide)
{
    struct gpt_part p;
    make_disk(true);
    for (unsigned t = 0; t < 2; t++) {
        uint64_t lba = t ? SECTORS - 1 : 1;
        uint8_t *h = sector(lba);
        if (wide)
            put64(h + at, value);
        else
            put32(h + at, (uint32_t)value);
        put32(h + 16, 0);
        put32(h + 16, dt_crc32(0, h, 92));
    }
    assert_int_equal(find(&p), GPT_BAD);
    assert_false(dev.out_of_range);
}

static void test_bad_header_fields(void **state)
{
    (void)state;
    bad_field(8, 0x00020000, false);         /* revision */
    bad_field(12, 91, false);                /* header size too small */
    bad_field(12, 513, false);               /* ... too big */
    bad_field(48, SECTORS, true);            /* last usable past the disk */
    bad_field(48, SECTORS - 1, true);        /* ... over the backup header */
    bad_field(40, 1, true);                  /* first usable over the primary header */
    bad_field(40, 0, true);                  /* ... over the MBR */
    bad_field(40, LAST_USABLE + 1, true);    /* first usable after last usable */
    bad_field(72, SECTORS - 1, true);        /* array running off the disk */
    bad_field(72, 0, true);                  /* array over the MBR */
    bad_field(72, FIRST_USABLE, true);       /* array inside the usable space */
    bad_field(80, 0, false);                 /* no entries */
    bad_field(80, 0x40000000, false);        /* absurdly many */
    bad_field(84, 96, false);                /* entry size not 128 * 2^n */
    bad_field(84, 1024, false);              /* a size we do not take */
}

/* An array inside the usable space (where partitions' data goes), with
 * CRCs that match: refused all the same. */
static void test_array_in_usable_space(void **state)
{
    (void)state;
    struct gpt_part p;
    make_disk(true);
    memcpy(sector(FIRST_USABLE + 10), sector(2), ARRAY_SECTORS * GPT_SECTOR);
    write_header(1, SECTORS - 1, FIRST_USABLE + 10);
    write_header(SECTORS - 1, 1, FIRST_USABLE + 10);
    memcpy(sector(LAST_USABLE + 1), sector(2), ARRAY_SECTORS * GPT_SECTOR);
    assert_int_equal(find(&p), GPT_BAD);
}

/* Usable space over the primary header, the array at the end (legal for
 * the array): refused, or a partition could cover the table itself. */
static void test_usable_space_over_headers(void **state)
{
    (void)state;
    struct gpt_part p;
    make_disk(true);
    set_entry(sector(LAST_USABLE + 1), 1, gpt_newsys_data_type, 1, LAST_USABLE, "newsys-data");
    for (unsigned t = 0; t < 2; t++) {
        uint64_t lba = t ? SECTORS - 1 : 1;
        write_header(lba, t ? 1 : SECTORS - 1, LAST_USABLE + 1);
        uint8_t *h = sector(lba);
        put64(h + 40, 1);
        put32(h + 16, 0);
        put32(h + 16, dt_crc32(0, h, 92));
    }
    assert_int_equal(find(&p), GPT_BAD);
}

static void test_my_lba_checked(void **state)
{
    (void)state;
    struct gpt_part p;
    make_disk(true);
    /* The backup header copied over the primary: right CRC, wrong place. */
    memcpy(sector(1), sector(SECTORS - 1), GPT_SECTOR);
    sector(SECTORS - 1)[40] ^= 1;
    assert_int_equal(find(&p), GPT_BAD);
}

static void test_entry_outside_usable_space(void **state)
{
    (void)state;
    struct gpt_part p;
    make_disk(true);
    set_entry(sector(2), 1, gpt_newsys_data_type, 1088, LAST_USABLE + 1, "newsys-data");
    memcpy(sector(LAST_USABLE + 1), sector(2), ARRAY_SECTORS * GPT_SECTOR);
    write_header(1, SECTORS - 1, 2);
    write_header(SECTORS - 1, 1, LAST_USABLE + 1);
    assert_int_equal(find(&p), GPT_BAD);
    set_entry(sector(2), 1, gpt_newsys_data_type, 2000, 1999, "newsys-data"); /* backwards */
    memcpy(sector(LAST_USABLE + 1), sector(2), ARRAY_SECTORS * GPT_SECTOR);
    write_header(1, SECTORS - 1, 2);
    write_header(SECTORS - 1, 1, LAST_USABLE + 1);
    assert_int_equal(find(&p), GPT_BAD);
}

static void test_first_of_two_wins_and_names(void **state)
{
    (void)state;
    struct gpt_part p;
    make_disk(true);
    uint8_t *array = sector(2);
    set_entry(array, 5, gpt_newsys_data_type, 3000, 3100, "second");
    /* A non-ASCII character in the first one's name. */
    array[ENTRY_SIZE + 56 + 2 * 3] = 0x3b;
    array[ENTRY_SIZE + 56 + 2 * 3 + 1] = 0x04;
    memcpy(sector(LAST_USABLE + 1), array, ARRAY_SECTORS * GPT_SECTOR);
    write_header(1, SECTORS - 1, 2);
    write_header(SECTORS - 1, 1, LAST_USABLE + 1);
    assert_int_equal(find(&p), GPT_FOUND);
    assert_int_equal(p.index, 2);
    assert_string_equal(p.name, "new?ys-data");
}

static void test_read_errors(void **state)
{
    (void)state;
    struct gpt_part p;
    make_disk(true);
    dev.fail_at = 0;
    assert_int_equal(find(&p), GPT_IO);
    dev.fail_at = 3;
    assert_int_equal(find(&p), GPT_IO);
}

/* A table sfdisk wrote (the fuzzer's seed: a flag byte, the disk size,
 * then an 8-sector disk with 4-entry arrays, a boot partition at sector 3
 * and the data partition at 4-5): the reader agrees with sfdisk. */
static void test_sfdisk_table(void **state)
{
    (void)state;
    FILE *f = fopen(NEWSYS_SOURCE_DIR "/tests/fuzz/corpus/fuzz_gpt/sfdisk.hex", "r");
    assert_non_null(f);
    uint8_t bytes[2 + 8 * GPT_SECTOR];
    size_t n = 0;
    unsigned v;
    while (n < sizeof(bytes) && fscanf(f, " %2x", &v) == 1)
        bytes[n++] = (uint8_t)v;
    fclose(f);
    assert_int_equal(n, sizeof(bytes));
    assert_int_equal(bytes[1], 8);
    memset(disk, 0, sizeof(disk));
    memcpy(disk, bytes + 2, 8 * GPT_SECTOR);
    struct gpt_part p;
    assert_int_equal(gpt_find(gpt_newsys_data_type, 8, ram_read, NULL, buf, &p), GPT_FOUND);
    assert_int_equal(p.first, 4);
    assert_int_equal(p.sectors, 2);
    assert_int_equal(p.index, 2);
    assert_string_equal(p.name, "newsys-data");
    /* The primary gone, the backup (sfdisk's too) answers the same. */
    memset(sector(1), 0, GPT_SECTOR);
    assert_int_equal(gpt_find(gpt_newsys_data_type, 8, ram_read, NULL, buf, &p), GPT_FOUND);
    assert_int_equal(p.first, 4);
    assert_false(dev.out_of_range);
}

/* Random flips anywhere in the tables: some answer, never a read off the
 * disk; a result of FOUND always lies inside the disk's usable space. */
static void test_random_flips(void **state)
{
    (void)state;
    srand(7);
    const uint64_t areas[] = {0, 1, 2, 2 + ARRAY_SECTORS - 1, SECTORS - 1, LAST_USABLE + 1};
    for (unsigned round = 0; round < 4000; round++) {
        make_disk(true);
        unsigned flips = 1 + (unsigned)rand() % 4;
        for (unsigned f = 0; f < flips; f++) {
            uint64_t lba = areas[(unsigned)rand() % 6];
            sector(lba)[(unsigned)rand() % GPT_SECTOR] ^= (uint8_t)(1u << (rand() % 8));
        }
        struct gpt_part p;
        enum gpt_result r = find(&p);
        assert_false(dev.out_of_range);
        assert_true(r == GPT_FOUND || r == GPT_BAD || r == GPT_NO_PART || r == GPT_NONE);
        if (r == GPT_FOUND) {
            assert_true(p.first >= 1 && p.sectors >= 1);
            assert_true(p.first + p.sectors <= SECTORS);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_found, setup),
        cmocka_unit_test_setup(test_not_a_gpt, setup),
        cmocka_unit_test_setup(test_no_data_partition, setup),
        cmocka_unit_test_setup(test_primary_damaged_backup_used, setup),
        cmocka_unit_test_setup(test_both_damaged, setup),
        cmocka_unit_test_setup(test_bad_header_fields, setup),
        cmocka_unit_test_setup(test_array_in_usable_space, setup),
        cmocka_unit_test_setup(test_usable_space_over_headers, setup),
        cmocka_unit_test_setup(test_my_lba_checked, setup),
        cmocka_unit_test_setup(test_entry_outside_usable_space, setup),
        cmocka_unit_test_setup(test_first_of_two_wins_and_names, setup),
        cmocka_unit_test_setup(test_read_errors, setup),
        cmocka_unit_test_setup(test_sfdisk_table, setup),
        cmocka_unit_test_setup(test_random_flips, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
