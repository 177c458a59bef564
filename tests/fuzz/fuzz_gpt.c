/* libFuzzer harness for user/init/gpt.c, init's GUID-partition-table
 * reader: the input is a flag byte, the disk's size in sectors (1-64) and
 * the disk's bytes (zero-padded or cut to that size). Bit 0 of the flag
 * has the harness put right CRCs in every header it can find first, so
 * the checks behind the CRCs get fuzzed too. The reader must never read
 * outside the disk, and a partition it finds must lie on it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "managers/disk/disk_table.h"
#include "user/init/gpt.h"

#define MAX_SECTORS 64

static uint8_t disk[MAX_SECTORS * GPT_SECTOR];
static uint8_t buf[GPT_SECTOR];
static uint64_t sectors;

static bool read_disk(void *ctx, uint64_t lba, unsigned count, void *out)
{
    (void)ctx;
    if (lba >= sectors || count > sectors - lba)
        abort(); /* the reader must bound its own reads */
    memcpy(out, disk + lba * GPT_SECTOR, (size_t)count * GPT_SECTOR);
    return true;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_crcs(void)
{
    const uint64_t where[2] = {1, sectors - 1};
    for (unsigned t = 0; t < 2; t++) {
        uint8_t *h = disk + where[t] * GPT_SECTOR;
        uint32_t size = get32(h + 12);
        if (memcmp(h, "EFI PART", 8) || size < 92 || size > GPT_SECTOR)
            continue;
        uint64_t lba = get32(h + 72) | (uint64_t)get32(h + 76) << 32;
        uint64_t bytes = (uint64_t)get32(h + 80) * get32(h + 84);
        if (lba < sectors && bytes <= (sectors - lba) * GPT_SECTOR)
            put32(h + 88, dt_crc32(0, disk + lba * GPT_SECTOR, (size_t)bytes));
        put32(h + 16, 0);
        put32(h + 16, dt_crc32(0, h, size));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int fix = data[0] & 1;
    sectors = (uint64_t)(data[1] % MAX_SECTORS) + 1;
    data += 2;
    size -= 2;
    memset(disk, 0, sizeof(disk));
    memcpy(disk, data, size < sectors * GPT_SECTOR ? size : sectors * GPT_SECTOR);
    if (fix && sectors >= 2)
        fix_crcs();
    struct gpt_part p;
    enum gpt_result r = gpt_find(gpt_newsys_data_type, sectors, read_disk, NULL, buf, &p);
    if (r == GPT_FOUND) {
        /* Never over the MBR, a header or past the disk. */
        if (p.sectors == 0 || p.first < 2 || p.first >= sectors || p.sectors > sectors - 1 - p.first)
            abort();
        if (memchr(p.name, 0, sizeof(p.name)) == NULL || p.index == 0)
            abort();
    } else if (r != GPT_NONE && r != GPT_NO_PART && r != GPT_BAD) {
        abort(); /* reads never fail here */
    }
    return 0;
}
