/* libFuzzer harness for managers/disk/disk_table.c, the disk manager's
 * table parser: the input is a superblock sector followed by one table
 * copy. Byte 0 of the input picks whether the harness fixes the CRCs up
 * first (random bytes almost never carry a right CRC, and the checks
 * behind it are what needs fuzzing). Whatever parses must pass the table
 * check, re-encode to the same table, survive create and delete, and plan
 * a storage map whose keys all lie inside its runs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "managers/disk/disk_table.h"

static uint8_t sector[DT_SECTOR_SIZE], copy[DT_TABLE_BYTES], again[DT_TABLE_BYTES];
static struct dt_table t, t2;
static const struct dt_object *cur;

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static long f_frame(void *ctx, unsigned level, uint64_t *h)
{
    (void)ctx;
    *h = level;
    return 0;
}

/* Every key must lie inside one of the object's runs. */
static long f_key(void *ctx, uint64_t parent, unsigned slot, uint64_t s, uint64_t n)
{
    (void)ctx;
    (void)parent;
    if (slot >= 16)
        abort();
    for (uint32_t r = 0; r < cur->nruns; r++)
        if (s >= cur->run[r].start && n <= cur->run[r].start + cur->run[r].sectors - s)
            return 0;
    abort();
}

static long f_child(void *ctx, uint64_t parent, unsigned slot, uint64_t child)
{
    (void)ctx;
    if (slot >= 16 || child + 1 != parent)
        abort();
    return 0;
}

static const struct dt_map_ops ops = {NULL, f_frame, f_key, f_child};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int fix = data[0] & 1;
    data++;
    size--;
    memset(sector, 0, sizeof(sector));
    memset(copy, 0, sizeof(copy));
    memcpy(sector, data, size < DT_SECTOR_SIZE ? size : DT_SECTOR_SIZE);
    if (size > DT_SECTOR_SIZE)
        memcpy(copy, data + DT_SECTOR_SIZE,
               size - DT_SECTOR_SIZE < DT_TABLE_BYTES ? size - DT_SECTOR_SIZE : DT_TABLE_BYTES);
    if (fix) {
        put32(sector + DT_SECTOR_SIZE - 4, dt_crc32(0, sector, DT_SECTOR_SIZE - 4));
        uint32_t used = (uint32_t)copy[20] | (uint32_t)copy[21] << 8 | (uint32_t)copy[22] << 16 |
                        (uint32_t)copy[23] << 24;
        if (used >= 28 && used <= DT_TABLE_BYTES) {
            put32(copy + 24, 0);
            put32(copy + 24, dt_crc32(0, copy, used));
        }
    }
    struct dt_super sb;
    uint64_t device = 1ull << 24;
    if (dt_super_parse(sector, device, &sb) != DT_OK && dt_super_make(device, &sb) != DT_OK)
        abort();
    if (dt_table_parse(&sb, copy, sizeof(copy), &t) != DT_OK)
        return 0;
    if (dt_table_check(&t) != DT_OK)
        abort();
    dt_table_encode(&t, again);
    if (dt_table_parse(&sb, again, sizeof(again), &t2) != DT_OK ||
        memcmp(t.obj, t2.obj, sizeof(t.obj)) || t.count != t2.count)
        abort();
    for (uint32_t i = 0; i < t.count; i++) {
        cur = &t.obj[i];
        uint64_t root;
        unsigned h;
        if (dt_map_build(cur, &ops, &root, &h))
            abort();
    }
    /* Allocation over whatever free space the table leaves. */
    uint64_t free_before = dt_free_sectors(&t);
    struct dt_object *o;
    uint64_t len = (uint64_t)(size % 97) * 4096 + size % 13;
    if (dt_create(&t, 0xfeedull << 32, len, 0, 0, &o) == DT_OK) {
        if (dt_table_check(&t) != DT_OK ||
            dt_free_sectors(&t) != free_before - dt_pages(len) * DT_SECTORS_PER_PAGE)
            abort();
        if (dt_delete(&t, 0xfeedull << 32) != DT_OK || dt_free_sectors(&t) != free_before)
            abort();
    }
    return 0;
}
