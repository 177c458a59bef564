/* GUID partition table reader (gpt.h): only what init needs to find the
 * data partition, every field checked before it is used. */
#include "user/init/gpt.h"

#include <string.h>

#include "managers/disk/disk_table.h" /* dt_crc32: the IEEE CRC-32 GPT uses */

const uint8_t gpt_newsys_data_type[16] = {
    0xae, 0x02, 0xd3, 0xed, 0xf6, 0xa9, 0x9f, 0x45,
    0xb8, 0x20, 0x36, 0xd4, 0xe1, 0xfe, 0x03, 0x26,
};

enum {
    HDR_SIG = 0, HDR_REV = 8, HDR_SIZE = 12, HDR_CRC = 16, HDR_RESERVED = 20, HDR_MY_LBA = 24,
    HDR_FIRST_USABLE = 40, HDR_LAST_USABLE = 48, HDR_ENTRIES_LBA = 72, HDR_ENTRIES = 80,
    HDR_ENTRY_SIZE = 84, HDR_ENTRIES_CRC = 88, HDR_MIN_SIZE = 92,
    ENT_TYPE = 0, ENT_FIRST = 32, ENT_LAST = 40, ENT_NAME = 56, ENT_NAME_CHARS = 36,
    /* More entries than any tool writes by default (128): a bound on the
     * reads a hostile table can make us do. */
    MAX_ENTRIES = 1024,
};

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

struct header {
    uint64_t first_usable, last_usable, entries_lba;
    uint32_t entries, entry_size, entries_crc;
};

/* The header in buf, read from `lba`: does it check out on this disk? */
static bool header_ok(const uint8_t *buf, uint64_t lba, uint64_t disk_sectors, struct header *h)
{
    uint8_t copy[GPT_SECTOR];
    uint32_t size = get32(buf + HDR_SIZE);
    if (memcmp(buf + HDR_SIG, "EFI PART", 8) || get32(buf + HDR_REV) != 0x00010000 ||
        size < HDR_MIN_SIZE || size > GPT_SECTOR || get32(buf + HDR_RESERVED) != 0 ||
        get64(buf + HDR_MY_LBA) != lba)
        return false;
    memcpy(copy, buf, size);
    memset(copy + HDR_CRC, 0, 4); /* the CRC is taken with its own field zero */
    if (dt_crc32(0, copy, size) != get32(buf + HDR_CRC))
        return false;
    h->first_usable = get64(buf + HDR_FIRST_USABLE);
    h->last_usable = get64(buf + HDR_LAST_USABLE);
    h->entries_lba = get64(buf + HDR_ENTRIES_LBA);
    h->entries = get32(buf + HDR_ENTRIES);
    h->entry_size = get32(buf + HDR_ENTRY_SIZE);
    h->entries_crc = get32(buf + HDR_ENTRIES_CRC);
    /* Entry sizes are 128 * 2^n; we take those that divide a sector, which
     * is every size in use, so an entry never straddles two reads. */
    if (h->entry_size != 128 && h->entry_size != 256 && h->entry_size != 512)
        return false;
    if (h->entries == 0 || h->entries > MAX_ENTRIES)
        return false;
    uint64_t array = ((uint64_t)h->entries * h->entry_size + GPT_SECTOR - 1) / GPT_SECTOR;
    /* The usable space (where partitions may lie) keeps off the MBR and
     * both headers: a partition over them is no partition of ours. */
    if (h->first_usable < 2 || h->first_usable > h->last_usable ||
        h->last_usable >= disk_sectors - 1)
        return false;
    /* The array lies on the disk, outside the usable space and the two
     * header sectors. */
    if (h->entries_lba < 2 || h->entries_lba >= disk_sectors ||
        array > disk_sectors - 1 - h->entries_lba)
        return false;
    uint64_t end = h->entries_lba + array; /* one past the array */
    return end <= h->first_usable || h->entries_lba > h->last_usable;
}

/* Walk the entries of a header that checked out: the first of `type`
 * into *out (if any), with the array's CRC checked over all of it. */
static enum gpt_result scan_entries(const struct header *h, const uint8_t type[16],
                                    gpt_read_fn read, void *ctx, uint8_t *buf,
                                    struct gpt_part *out)
{
    uint32_t crc = 0;
    bool found = false;
    unsigned per_sector = GPT_SECTOR / h->entry_size;
    for (uint32_t i = 0; i < h->entries; i += per_sector) {
        if (!read(ctx, h->entries_lba + i / per_sector, 1, buf))
            return GPT_IO;
        unsigned here = h->entries - i < per_sector ? h->entries - i : per_sector;
        crc = dt_crc32(crc, buf, (size_t)here * h->entry_size);
        for (unsigned k = 0; k < here && !found; k++) {
            const uint8_t *e = buf + k * h->entry_size;
            if (memcmp(e + ENT_TYPE, type, 16))
                continue;
            uint64_t first = get64(e + ENT_FIRST), last = get64(e + ENT_LAST);
            if (first > last || first < h->first_usable || last > h->last_usable)
                return GPT_BAD; /* ours, but pointing outside the disk's usable space */
            out->first = first;
            out->sectors = last - first + 1;
            out->index = i + k + 1;
            for (unsigned c = 0; c < ENT_NAME_CHARS; c++) {
                uint16_t ch = (uint16_t)(e[ENT_NAME + 2 * c] | e[ENT_NAME + 2 * c + 1] << 8);
                out->name[c] = ch == 0 ? 0 : (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
                if (!ch)
                    break;
            }
            out->name[ENT_NAME_CHARS] = 0;
            found = true;
        }
    }
    if (crc != h->entries_crc)
        return GPT_BAD;
    return found ? GPT_FOUND : GPT_NO_PART;
}

static bool protective_mbr(const uint8_t *b)
{
    if (b[510] != 0x55 || b[511] != 0xaa)
        return false;
    for (unsigned i = 0; i < 4; i++)
        if (b[446 + 16 * i + 4] == 0xee)
            return true;
    return false;
}

enum gpt_result gpt_find(const uint8_t type[16], uint64_t disk_sectors, gpt_read_fn read,
                         void *ctx, uint8_t buf[GPT_SECTOR], struct gpt_part *out)
{
    if (disk_sectors < 3)
        return GPT_NONE;
    if (!read(ctx, 0, 1, buf))
        return GPT_IO;
    bool looks_gpt = protective_mbr(buf);
    memset(out, 0, sizeof(*out));
    /* The primary header, then the backup in the disk's last sector. */
    const uint64_t where[2] = {1, disk_sectors - 1};
    enum gpt_result r = GPT_BAD;
    for (unsigned t = 0; t < 2; t++) {
        struct header h;
        if (!read(ctx, where[t], 1, buf))
            return GPT_IO;
        if (!memcmp(buf, "EFI PART", 8))
            looks_gpt = true;
        if (!header_ok(buf, where[t], disk_sectors, &h))
            continue;
        r = scan_entries(&h, type, read, ctx, buf, out);
        if (r != GPT_BAD)
            return r;
    }
    return looks_gpt ? GPT_BAD : GPT_NONE;
}

const char *gpt_result_str(enum gpt_result r)
{
    switch (r) {
    case GPT_FOUND: return "found";
    case GPT_NONE: return "no GUID partition table";
    case GPT_NO_PART: return "no NewSys data partition in the GUID partition table";
    case GPT_BAD: return "a damaged GUID partition table";
    case GPT_IO: return "a read error";
    }
    return "?";
}
