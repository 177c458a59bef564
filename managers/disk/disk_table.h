/* The disk manager's on-disk format: a superblock and a small object table
 * that says, for each object id, its length in bytes and the runs of
 * sectors holding its pages - EROS's (start OID, end OID, drive, start LBA)
 * ranges, turned around to one list of runs per object.
 *
 * Layout of the range the manager owns (sectors of 512 bytes, relative to
 * the range's first sector; every number little-endian):
 *
 *   0                      superblock (one sector, CRC32), written once at
 *                          format time and last, so a torn format leaves
 *                          no valid superblock (an unformatted disk)
 *   table_lba[0], [1]      two copies of the object table, table_sectors
 *                          each. A copy carries a generation and a CRC32;
 *                          generation g is written to copy g % 2, so an
 *                          update never overwrites the newest valid copy:
 *                          a write torn by a crash damages only the copy
 *                          being written, and mount takes the newest copy
 *                          that checks out.
 *   data_start .. total    object data, in runs of whole pages (8 sectors,
 *                          page-aligned); free space is everything no run
 *                          covers.
 *
 * Parsing trusts nothing: magic, version, CRC, geometry, counts, alignment,
 * every run inside the data area, no two runs overlapping (across all
 * objects), ids unique, each length matching its runs exactly (the pages a
 * length needs, no more, no fewer). Every failure is a typed dt_error.
 *
 * Allocation is first fit: the first free gap that holds the whole object;
 * failing that, the object is split over gaps in disk order, each piece
 * but the last cut to a multiple of 16 pages, so that every piece boundary
 * falls on a 16-page boundary of the object and a storage-map slot of 16
 * pages never straddles two runs (only the tail needs a level-0 frame).
 * dt_map_build() turns an object's runs into a storage-map tree
 * (frames/storage_map.h) through callbacks, so the same code plans the map
 * on the host (tests) and builds it with system calls in the manager.
 *
 * Portable C with no allocation and no libc beyond memset/memcpy; the I/O
 * is the caller's (struct dt_io). */
#ifndef NEWSYS_MANAGERS_DISK_TABLE_H
#define NEWSYS_MANAGERS_DISK_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define DT_SECTOR_SIZE      512u
#define DT_SECTORS_PER_PAGE 8u
#define DT_PAGE_SIZE        4096u

#define DT_VERSION       1u
#define DT_MAX_OBJECTS   128u
#define DT_MAX_RUNS      16u  /* per object */
#define DT_TABLE_SECTORS 128u /* per copy: 64 KiB */
#define DT_TABLE_BYTES   (DT_TABLE_SECTORS * DT_SECTOR_SIZE)
/* Superblock in page 0, the two copies after it, data from the next page. */
#define DT_DATA_START (DT_SECTORS_PER_PAGE + 2 * DT_TABLE_SECTORS)
/* The smallest range worth formatting: the metadata and one data page. */
#define DT_MIN_SECTORS (DT_DATA_START + DT_SECTORS_PER_PAGE)

/* Encoded sizes. */
#define DT_TABLE_HEADER_BYTES 64u
#define DT_OBJECT_BYTES       40u
#define DT_RUN_BYTES          16u
_Static_assert(DT_TABLE_HEADER_BYTES +
                       DT_MAX_OBJECTS * (DT_OBJECT_BYTES + DT_MAX_RUNS * DT_RUN_BYTES) <=
                   DT_TABLE_BYTES,
               "a full table fits one copy");

/* dt_object.flags */
#define DT_OBJ_PATTERN (1u << 0) /* made by mkdisk --pattern: tag is the seed */
#define DT_OBJ_FLAGS   DT_OBJ_PATTERN

enum dt_error {
    DT_OK = 0,
    DT_ERR_ARG,        /* a bad argument (not the disk's fault) */
    DT_ERR_MAGIC,      /* not a superblock / table copy (unformatted) */
    DT_ERR_VERSION,    /* a version this code does not know */
    DT_ERR_CRC,        /* checksum mismatch: torn or corrupt */
    DT_ERR_GEOMETRY,   /* superblock layout impossible or past the device */
    DT_ERR_TRUNCATED,  /* encoded length outside the copy */
    DT_ERR_COUNT,      /* too many objects or runs */
    DT_ERR_FORMAT,     /* unknown flags, non-zero reserved fields */
    DT_ERR_RUN_ALIGN,  /* a run not made of whole, aligned pages (or empty) */
    DT_ERR_RUN_RANGE,  /* a run outside the data area */
    DT_ERR_OVERLAP,    /* two runs share sectors */
    DT_ERR_LENGTH,     /* an object's runs do not hold exactly its pages */
    DT_ERR_DUPLICATE,  /* two objects with one id */
    DT_ERR_NO_TABLE,   /* neither table copy is valid */
    DT_ERR_EXISTS,     /* create: the id is taken */
    DT_ERR_NOT_FOUND,  /* no object with that id */
    DT_ERR_FULL,       /* the table has DT_MAX_OBJECTS objects */
    DT_ERR_NO_SPACE,   /* not enough free sectors */
    DT_ERR_FRAGMENTED, /* enough free sectors, but in more than DT_MAX_RUNS gaps */
    DT_ERR_IO,         /* the caller's I/O failed */
    DT_ERR_COUNT_
};

const char *dt_strerror(enum dt_error e);

struct dt_run {
    uint64_t start;   /* sector, relative to the range */
    uint64_t sectors; /* a multiple of DT_SECTORS_PER_PAGE, > 0 */
};

struct dt_object {
    uint64_t id;
    uint64_t length; /* bytes */
    uint64_t tag;    /* the creator's word (DT_OBJ_PATTERN: the seed) */
    uint32_t flags;
    uint32_t nruns;
    struct dt_run run[DT_MAX_RUNS]; /* in object order: page 0 is run[0]'s first */
};

struct dt_super {
    uint64_t total_sectors; /* of the range the table describes */
    uint64_t table_lba[2];
    uint32_t table_sectors;
    uint64_t data_start;
};

struct dt_table {
    struct dt_super sb;
    uint64_t generation;
    uint32_t count;
    struct dt_object obj[DT_MAX_OBJECTS];
};

/* Pages a length needs. */
static inline uint64_t dt_pages(uint64_t length)
{
    return length / DT_PAGE_SIZE + (length % DT_PAGE_SIZE != 0);
}

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()). */
uint32_t dt_crc32(uint32_t crc, const void *buf, size_t len);

/* ---- superblock ---- */

/* The layout for a range of `sectors` (rounded down to whole pages). */
enum dt_error dt_super_make(uint64_t sectors, struct dt_super *sb);
void dt_super_encode(const struct dt_super *sb, uint8_t out[DT_SECTOR_SIZE]);
/* Check sector 0 of a range of `device_sectors`. */
enum dt_error dt_super_parse(const uint8_t in[DT_SECTOR_SIZE], uint64_t device_sectors,
                             struct dt_super *sb);

/* ---- table copies ---- */

/* An empty table for `sb`, generation 0. */
void dt_table_init(struct dt_table *t, const struct dt_super *sb);
/* Encode into `out` (DT_TABLE_BYTES, zero-padded); returns the bytes used. */
size_t dt_table_encode(const struct dt_table *t, uint8_t *out);
/* Parse and check one copy (`len` bytes, normally DT_TABLE_BYTES) against
 * `sb`. On error *t is unspecified. */
enum dt_error dt_table_parse(const struct dt_super *sb, const uint8_t *in, size_t len,
                             struct dt_table *t);
/* Check a table in memory as dt_table_parse checks a copy. */
enum dt_error dt_table_check(const struct dt_table *t);

/* ---- objects ---- */

struct dt_object *dt_find(struct dt_table *t, uint64_t id);
/* A new object: runs allocated first fit (top of the file). On error the
 * table is unchanged. */
enum dt_error dt_create(struct dt_table *t, uint64_t id, uint64_t length, uint32_t flags,
                        uint64_t tag, struct dt_object **out);
enum dt_error dt_delete(struct dt_table *t, uint64_t id);
/* Sectors no run covers in the data area. */
uint64_t dt_free_sectors(const struct dt_table *t);
/* Where page `page` of `o` is: its first sector and how many pages from it
 * on lie contiguously in the same run. DT_ERR_NOT_FOUND past the runs. */
enum dt_error dt_locate(const struct dt_object *o, uint64_t page, uint64_t *sector,
                        uint64_t *contig);

/* ---- the caller's I/O ---- */

struct dt_io {
    void *ctx;
    /* 0 on success; sectors relative to the range. */
    int (*read)(void *ctx, uint64_t sector, uint32_t count, void *buf);
    int (*write)(void *ctx, uint64_t sector, uint32_t count, const void *buf);
    int (*flush)(void *ctx);
};

/* What mount found in each copy. */
struct dt_mount_report {
    enum dt_error super;    /* the superblock's check */
    enum dt_error copy[2];  /* each copy's check */
    uint64_t generation[2]; /* of each valid copy */
    int chosen;             /* the copy mounted, or -1 */
};

/* Mount the range: superblock, both copies, the newest valid one into *t.
 * `scratch` is DT_TABLE_BYTES. Errors: the superblock's, DT_ERR_NO_TABLE,
 * DT_ERR_IO. */
enum dt_error dt_mount(const struct dt_io *io, uint64_t device_sectors, uint8_t *scratch,
                       struct dt_table *t, struct dt_mount_report *rep);
/* Write an empty table to both copies, flush, then the superblock, flush. */
enum dt_error dt_format(const struct dt_io *io, uint64_t device_sectors, uint8_t *scratch,
                        struct dt_table *t);
/* Write `t` as the next generation into the copy not holding the current
 * one and flush: when this returns DT_OK the table is durable. On failure
 * t->generation is as before. */
enum dt_error dt_commit(const struct dt_io *io, struct dt_table *t, uint8_t *scratch);

/* ---- storage maps ---- */

/* Height of the map for `pages` pages: the least h >= 1 with 16^h >= pages. */
unsigned dt_map_height(uint64_t pages);

/* The builder's side of dt_map_build: make a frame, put a key for sectors
 * [sector, sector + sectors) of the range in slot `slot` of frame
 * `parent`, put a finished child frame in a slot. Each returns 0 or an
 * error of the builder's (returned by dt_map_build as is). */
struct dt_map_ops {
    void *ctx;
    long (*frame)(void *ctx, unsigned level, uint64_t *handle);
    long (*key)(void *ctx, uint64_t parent, unsigned slot, uint64_t sector, uint64_t sectors);
    long (*child)(void *ctx, uint64_t parent, unsigned slot, uint64_t child);
};

/* Plan the storage map of `o`: a slot gets a key when its whole span lies
 * in one run, a child frame when it does not, nothing past the object's
 * pages. *root and *height are the result (height 0, no call, for an
 * empty object). */
long dt_map_build(const struct dt_object *o, const struct dt_map_ops *ops, uint64_t *root,
                  unsigned *height);

/* ---- the test pattern (mkdisk --pattern, the in-guest tests) ---- */

/* Word `word` (0..511) of page `page` of an object filled with `seed`. */
static inline uint64_t dt_pattern_word(uint64_t seed, uint64_t page, unsigned word)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull ^ page << 16 ^ word;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ x >> 31;
}

#endif
