/* Finding NewSys's data partition in a GUID partition table.
 *
 * An SD-card image from scripts/mkimage is a GPT disk: partition 1 is the
 * FAT boot partition U-Boot loads the kernel from, partition 2 the data
 * partition for the disk manager, marked with NewSys's own partition type.
 * init gives the manager a key covering that partition only, so it never
 * sees - let alone formats - the boot partition or the tables.
 *
 * The reader trusts nothing on the disk: the header and the entry array
 * must pass their CRCs, every size and LBA is checked against the disk,
 * and a damaged primary table falls back to the backup at the disk's end.
 * It reads through a callback so the host tests can run it on a file. */
#ifndef NEWSYS_INIT_GPT_H
#define NEWSYS_INIT_GPT_H

#include <stdbool.h>
#include <stdint.h>

#define GPT_SECTOR 512

/* EDD302AE-A9F6-459F-B820-36D4E1FE0326, in GPT's on-disk byte order (the
 * first three fields little-endian). Keep in step with scripts/mkimage. */
extern const uint8_t gpt_newsys_data_type[16];

enum gpt_result {
    GPT_FOUND,   /* the partition is in *out */
    GPT_NONE,    /* no GPT on the disk (no valid header, no protective MBR) */
    GPT_NO_PART, /* a valid GPT without a partition of the type */
    GPT_BAD,     /* a protective MBR or a GPT header, but no table that checks out */
    GPT_IO,      /* a read failed */
};

struct gpt_part {
    uint64_t first, sectors; /* in 512-byte sectors */
    unsigned index;          /* 1-based, as partition numbers are written */
    char name[37];           /* the entry's name, ASCII only (others become '?') */
};

/* Reads `count` sectors from `lba` into buf; false on an I/O error. */
typedef bool (*gpt_read_fn)(void *ctx, uint64_t lba, unsigned count, void *buf);

/* The first partition of `type` on a disk of `disk_sectors` sectors.
 * `buf` is one sector of scratch the reads go to. When the disk holds
 * more than one, the first in table order wins. */
enum gpt_result gpt_find(const uint8_t type[16], uint64_t disk_sectors, gpt_read_fn read,
                         void *ctx, uint8_t buf[GPT_SECTOR], struct gpt_part *out);

const char *gpt_result_str(enum gpt_result r);

#endif
