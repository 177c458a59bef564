/* The disk manager's on-disk format (disk_table.h). */
#include "managers/disk/disk_table.h"

#include <string.h>

#define SUPER_MAGIC  0x3142535344534e4eull /* "NNSDSSB1" */
#define TABLE_MAGIC  0x3142544b53444e4eull /* "NNDSKTB1" */
#define SUPER_CRC_AT (DT_SECTOR_SIZE - 4)
#define TABLE_CRC_AT 24u

static const char *const names[DT_ERR_COUNT_] = {
    [DT_OK] = "ok",
    [DT_ERR_ARG] = "bad argument",
    [DT_ERR_MAGIC] = "bad magic (not formatted)",
    [DT_ERR_VERSION] = "unknown version",
    [DT_ERR_CRC] = "checksum mismatch",
    [DT_ERR_GEOMETRY] = "impossible geometry",
    [DT_ERR_TRUNCATED] = "truncated",
    [DT_ERR_COUNT] = "too many objects or runs",
    [DT_ERR_FORMAT] = "unknown flags or reserved bits",
    [DT_ERR_RUN_ALIGN] = "run not page-aligned",
    [DT_ERR_RUN_RANGE] = "run outside the data area",
    [DT_ERR_OVERLAP] = "runs overlap",
    [DT_ERR_LENGTH] = "length does not match runs",
    [DT_ERR_DUPLICATE] = "duplicate id",
    [DT_ERR_NO_TABLE] = "no valid table copy",
    [DT_ERR_EXISTS] = "id exists",
    [DT_ERR_NOT_FOUND] = "no such object",
    [DT_ERR_FULL] = "table full",
    [DT_ERR_NO_SPACE] = "no space",
    [DT_ERR_FRAGMENTED] = "free space too fragmented",
    [DT_ERR_IO] = "I/O error",
};

const char *dt_strerror(enum dt_error e)
{
    return (unsigned)e < DT_ERR_COUNT_ ? names[e] : "unknown error";
}

/* ---- bytes ---- */

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Nibble-at-a-time: a 16-entry table is enough here (tables are small and
 * written rarely) and keeps the module free of big constant data. */
uint32_t dt_crc32(uint32_t crc, const void *buf, size_t len)
{
    static const uint32_t t[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    const uint8_t *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ t[crc & 15];
        crc = (crc >> 4) ^ t[crc & 15];
    }
    return ~crc;
}

/* ---- superblock ---- */

enum dt_error dt_super_make(uint64_t sectors, struct dt_super *sb)
{
    sectors -= sectors % DT_SECTORS_PER_PAGE;
    if (sectors < DT_MIN_SECTORS)
        return DT_ERR_GEOMETRY;
    sb->total_sectors = sectors;
    sb->table_lba[0] = DT_SECTORS_PER_PAGE;
    sb->table_lba[1] = DT_SECTORS_PER_PAGE + DT_TABLE_SECTORS;
    sb->table_sectors = DT_TABLE_SECTORS;
    sb->data_start = DT_DATA_START;
    return DT_OK;
}

void dt_super_encode(const struct dt_super *sb, uint8_t out[DT_SECTOR_SIZE])
{
    memset(out, 0, DT_SECTOR_SIZE);
    put64(out + 0, SUPER_MAGIC);
    put32(out + 8, DT_VERSION);
    put32(out + 12, DT_SECTOR_SIZE);
    put64(out + 16, sb->total_sectors);
    put64(out + 24, sb->table_lba[0]);
    put64(out + 32, sb->table_lba[1]);
    put32(out + 40, sb->table_sectors);
    put32(out + 44, DT_MAX_OBJECTS);
    put32(out + 48, DT_MAX_RUNS);
    put64(out + 56, sb->data_start);
    put32(out + SUPER_CRC_AT, dt_crc32(0, out, SUPER_CRC_AT));
}

enum dt_error dt_super_parse(const uint8_t in[DT_SECTOR_SIZE], uint64_t device_sectors,
                             struct dt_super *sb)
{
    if (get64(in) != SUPER_MAGIC)
        return DT_ERR_MAGIC;
    if (get32(in + SUPER_CRC_AT) != dt_crc32(0, in, SUPER_CRC_AT))
        return DT_ERR_CRC;
    if (get32(in + 8) != DT_VERSION)
        return DT_ERR_VERSION;
    if (get32(in + 52) != 0)
        return DT_ERR_FORMAT;
    for (unsigned i = 64; i < SUPER_CRC_AT; i++)
        if (in[i])
            return DT_ERR_FORMAT;
    sb->total_sectors = get64(in + 16);
    sb->table_lba[0] = get64(in + 24);
    sb->table_lba[1] = get64(in + 32);
    sb->table_sectors = get32(in + 40);
    sb->data_start = get64(in + 56);
    /* This version has one geometry: anything else is a disk written by
     * something we do not understand, or damage the CRC missed. */
    struct dt_super want;
    if (get32(in + 12) != DT_SECTOR_SIZE || get32(in + 44) != DT_MAX_OBJECTS ||
        get32(in + 48) != DT_MAX_RUNS || dt_super_make(sb->total_sectors, &want) != DT_OK ||
        want.total_sectors != sb->total_sectors || sb->total_sectors > device_sectors ||
        want.table_lba[0] != sb->table_lba[0] || want.table_lba[1] != sb->table_lba[1] ||
        want.table_sectors != sb->table_sectors || want.data_start != sb->data_start)
        return DT_ERR_GEOMETRY;
    return DT_OK;
}

/* ---- tables ---- */

void dt_table_init(struct dt_table *t, const struct dt_super *sb)
{
    memset(t, 0, sizeof(*t));
    t->sb = *sb;
}

size_t dt_table_encode(const struct dt_table *t, uint8_t *out)
{
    memset(out, 0, DT_TABLE_BYTES);
    size_t at = DT_TABLE_HEADER_BYTES;
    for (uint32_t i = 0; i < t->count && i < DT_MAX_OBJECTS; i++) {
        const struct dt_object *o = &t->obj[i];
        put64(out + at, o->id);
        put64(out + at + 8, o->length);
        put64(out + at + 16, o->tag);
        put32(out + at + 24, o->flags);
        put32(out + at + 28, o->nruns);
        at += DT_OBJECT_BYTES;
        for (uint32_t r = 0; r < o->nruns && r < DT_MAX_RUNS; r++) {
            put64(out + at, o->run[r].start);
            put64(out + at + 8, o->run[r].sectors);
            at += DT_RUN_BYTES;
        }
    }
    put64(out + 0, TABLE_MAGIC);
    put64(out + 8, t->generation);
    put32(out + 16, t->count);
    put32(out + 20, (uint32_t)at);
    put32(out + TABLE_CRC_AT, 0);
    put32(out + TABLE_CRC_AT, dt_crc32(0, out, at));
    return at;
}

static int runs_overlap(const struct dt_run *a, const struct dt_run *b)
{
    return a->start < b->start + b->sectors && b->start < a->start + a->sectors;
}

static enum dt_error check_object(const struct dt_super *sb, const struct dt_object *o)
{
    if (o->flags & ~DT_OBJ_FLAGS)
        return DT_ERR_FORMAT;
    if (o->nruns > DT_MAX_RUNS)
        return DT_ERR_COUNT;
    uint64_t pages = 0;
    for (uint32_t r = 0; r < o->nruns; r++) {
        const struct dt_run *run = &o->run[r];
        if (run->sectors == 0 || run->sectors % DT_SECTORS_PER_PAGE ||
            run->start % DT_SECTORS_PER_PAGE)
            return DT_ERR_RUN_ALIGN;
        /* Written so that nothing overflows: start and sectors may be any
         * 64-bit value here. */
        if (run->start < sb->data_start || run->start > sb->total_sectors ||
            run->sectors > sb->total_sectors - run->start)
            return DT_ERR_RUN_RANGE;
        pages += run->sectors / DT_SECTORS_PER_PAGE;
        for (uint32_t q = 0; q < r; q++)
            if (runs_overlap(run, &o->run[q]))
                return DT_ERR_OVERLAP;
    }
    /* pages is at most 16 runs of a disk's pages: no overflow. */
    if (o->length > UINT64_MAX - DT_PAGE_SIZE || pages != dt_pages(o->length))
        return DT_ERR_LENGTH;
    return DT_OK;
}

enum dt_error dt_table_check(const struct dt_table *t)
{
    if (t->count > DT_MAX_OBJECTS)
        return DT_ERR_COUNT;
    for (uint32_t i = 0; i < t->count; i++) {
        enum dt_error e = check_object(&t->sb, &t->obj[i]);
        if (e != DT_OK)
            return e;
        for (uint32_t j = 0; j < i; j++) {
            if (t->obj[j].id == t->obj[i].id)
                return DT_ERR_DUPLICATE;
            for (uint32_t a = 0; a < t->obj[i].nruns; a++)
                for (uint32_t b = 0; b < t->obj[j].nruns; b++)
                    if (runs_overlap(&t->obj[i].run[a], &t->obj[j].run[b]))
                        return DT_ERR_OVERLAP;
        }
    }
    return DT_OK;
}

enum dt_error dt_table_parse(const struct dt_super *sb, const uint8_t *in, size_t len,
                             struct dt_table *t)
{
    if (len < DT_TABLE_HEADER_BYTES || len > DT_TABLE_BYTES)
        return DT_ERR_TRUNCATED;
    if (get64(in) != TABLE_MAGIC)
        return DT_ERR_MAGIC;
    uint32_t used = get32(in + 20);
    if (used < DT_TABLE_HEADER_BYTES || used > len)
        return DT_ERR_TRUNCATED;
    /* The CRC covers the used bytes with its own field taken as zero. */
    uint8_t zero[4] = {0};
    uint32_t crc = dt_crc32(0, in, TABLE_CRC_AT);
    crc = dt_crc32(crc, zero, 4);
    crc = dt_crc32(crc, in + TABLE_CRC_AT + 4, used - TABLE_CRC_AT - 4);
    if (crc != get32(in + TABLE_CRC_AT))
        return DT_ERR_CRC;
    for (unsigned i = 28; i < DT_TABLE_HEADER_BYTES; i++)
        if (in[i])
            return DT_ERR_FORMAT;
    memset(t, 0, sizeof(*t));
    t->sb = *sb;
    t->generation = get64(in + 8);
    t->count = get32(in + 16);
    if (t->count > DT_MAX_OBJECTS)
        return DT_ERR_COUNT;
    size_t at = DT_TABLE_HEADER_BYTES;
    for (uint32_t i = 0; i < t->count; i++) {
        struct dt_object *o = &t->obj[i];
        if (used - at < DT_OBJECT_BYTES)
            return DT_ERR_TRUNCATED;
        o->id = get64(in + at);
        o->length = get64(in + at + 8);
        o->tag = get64(in + at + 16);
        o->flags = get32(in + at + 24);
        o->nruns = get32(in + at + 28);
        if (get64(in + at + 32))
            return DT_ERR_FORMAT;
        at += DT_OBJECT_BYTES;
        if (o->nruns > DT_MAX_RUNS)
            return DT_ERR_COUNT;
        if ((used - at) / DT_RUN_BYTES < o->nruns)
            return DT_ERR_TRUNCATED;
        for (uint32_t r = 0; r < o->nruns; r++) {
            o->run[r].start = get64(in + at);
            o->run[r].sectors = get64(in + at + 8);
            at += DT_RUN_BYTES;
        }
    }
    if (at != used)
        return DT_ERR_TRUNCATED;
    return dt_table_check(t);
}

/* ---- objects and free space ---- */

struct dt_object *dt_find(struct dt_table *t, uint64_t id)
{
    for (uint32_t i = 0; i < t->count; i++)
        if (t->obj[i].id == id)
            return &t->obj[i];
    return NULL;
}

/* The first sector at or after `from` that no run (of the table or of the
 * `nextra` runs being chosen) covers, and the end of the free gap there:
 * [*gap_start, *gap_end). 0 when there is none. O(runs^2), with at most
 * DT_MAX_OBJECTS * DT_MAX_RUNS runs: no sorting, no scratch memory. */
static int next_gap(const struct dt_table *t, const struct dt_run *extra, uint32_t nextra,
                    uint64_t from, uint64_t *gap_start, uint64_t *gap_end)
{
    uint64_t at = from < t->sb.data_start ? t->sb.data_start : from;
    for (;;) {
        if (at >= t->sb.total_sectors)
            return 0;
        /* Skip past any run covering `at`; repeat until none does. */
        int moved = 0;
        uint64_t next = t->sb.total_sectors;
        for (uint32_t i = 0; i <= t->count; i++) {
            const struct dt_run *runs = i < t->count ? t->obj[i].run : extra;
            uint32_t n = i < t->count ? t->obj[i].nruns : nextra;
            for (uint32_t r = 0; r < n; r++) {
                uint64_t s = runs[r].start, e = runs[r].start + runs[r].sectors;
                if (s <= at && at < e) {
                    at = e;
                    moved = 1;
                } else if (s > at && s < next) {
                    next = s;
                }
            }
        }
        if (!moved) {
            *gap_start = at;
            *gap_end = next;
            return 1;
        }
    }
}

uint64_t dt_free_sectors(const struct dt_table *t)
{
    uint64_t free = 0, s, e, at = t->sb.data_start;
    while (next_gap(t, NULL, 0, at, &s, &e)) {
        free += e - s;
        at = e;
    }
    return free;
}

/* Choose runs for `pages` pages: one gap if one is big enough, else pieces
 * in disk order (cut to multiples of 16 pages when `align`, see below). */
static enum dt_error choose_runs(const struct dt_table *t, uint64_t pages, int align,
                                 struct dt_run *runs, uint32_t *nruns)
{
    uint64_t s, e, at = t->sb.data_start, need = pages * DT_SECTORS_PER_PAGE;
    *nruns = 0;
    while (next_gap(t, NULL, 0, at, &s, &e)) {
        if (e - s >= need) {
            runs[0] = (struct dt_run){s, need};
            *nruns = 1;
            return DT_OK;
        }
        at = e;
    }
    at = t->sb.data_start;
    uint64_t left = need;
    while (left && next_gap(t, runs, *nruns, at, &s, &e)) {
        uint64_t take = e - s < left ? e - s : left;
        at = e;
        /* While 16 pages or more are left, take only multiples of 16, so
         * the pieces meet at 16-page boundaries of the object; smaller
         * gaps wait for the remainder. */
        if (align && left >= 16 * DT_SECTORS_PER_PAGE) {
            take -= take % (16 * DT_SECTORS_PER_PAGE);
            if (!take)
                continue;
        }
        if (*nruns == DT_MAX_RUNS)
            return DT_ERR_FRAGMENTED;
        runs[(*nruns)++] = (struct dt_run){s, take};
        left -= take;
    }
    return left ? DT_ERR_NO_SPACE : DT_OK;
}

enum dt_error dt_create(struct dt_table *t, uint64_t id, uint64_t length, uint32_t flags,
                        uint64_t tag, struct dt_object **out)
{
    if ((flags & ~DT_OBJ_FLAGS) || length > UINT64_MAX - DT_PAGE_SIZE)
        return DT_ERR_ARG;
    if (dt_find(t, id))
        return DT_ERR_EXISTS;
    if (t->count >= DT_MAX_OBJECTS)
        return DT_ERR_FULL;
    uint64_t pages = dt_pages(length);
    if (pages > dt_free_sectors(t) / DT_SECTORS_PER_PAGE)
        return DT_ERR_NO_SPACE;
    struct dt_object o = {.id = id, .length = length, .tag = tag, .flags = flags};
    enum dt_error e = DT_OK;
    if (pages) {
        e = choose_runs(t, pages, 1, o.run, &o.nruns);
        if (e != DT_OK)
            e = choose_runs(t, pages, 0, o.run, &o.nruns);
    }
    if (e != DT_OK)
        return e;
    t->obj[t->count] = o;
    if (out)
        *out = &t->obj[t->count];
    t->count++;
    return DT_OK;
}

enum dt_error dt_delete(struct dt_table *t, uint64_t id)
{
    struct dt_object *o = dt_find(t, id);
    if (!o)
        return DT_ERR_NOT_FOUND;
    /* Keep the order of the others (listings stay stable). */
    uint32_t i = (uint32_t)(o - t->obj);
    memmove(&t->obj[i], &t->obj[i + 1], (t->count - i - 1) * sizeof(t->obj[0]));
    t->count--;
    memset(&t->obj[t->count], 0, sizeof(t->obj[0]));
    return DT_OK;
}

enum dt_error dt_locate(const struct dt_object *o, uint64_t page, uint64_t *sector,
                        uint64_t *contig)
{
    for (uint32_t r = 0; r < o->nruns && r < DT_MAX_RUNS; r++) {
        uint64_t n = o->run[r].sectors / DT_SECTORS_PER_PAGE;
        if (page < n) {
            *sector = o->run[r].start + page * DT_SECTORS_PER_PAGE;
            *contig = n - page;
            return DT_OK;
        }
        page -= n;
    }
    return DT_ERR_NOT_FOUND;
}

/* ---- I/O ---- */

static enum dt_error read_copy(const struct dt_io *io, const struct dt_super *sb, int which,
                               uint8_t *scratch, struct dt_table *t)
{
    if (io->read(io->ctx, sb->table_lba[which], sb->table_sectors, scratch))
        return DT_ERR_IO;
    return dt_table_parse(sb, scratch, (size_t)sb->table_sectors * DT_SECTOR_SIZE, t);
}

enum dt_error dt_mount(const struct dt_io *io, uint64_t device_sectors, uint8_t *scratch,
                       struct dt_table *t, struct dt_mount_report *rep)
{
    struct dt_mount_report r = {.chosen = -1, .copy = {DT_ERR_NO_TABLE, DT_ERR_NO_TABLE}};
    struct dt_super sb;
    if (io->read(io->ctx, 0, 1, scratch))
        r.super = DT_ERR_IO;
    else
        r.super = dt_super_parse(scratch, device_sectors, &sb);
    if (r.super == DT_OK) {
        /* Check both copies in turn through *t (one table in memory), then
         * read the newer valid one again if it is not the one left there. */
        for (int c = 0; c < 2; c++) {
            r.copy[c] = read_copy(io, &sb, c, scratch, t);
            if (r.copy[c] == DT_OK)
                r.generation[c] = t->generation;
        }
        if (r.copy[1] == DT_OK && (r.copy[0] != DT_OK || r.generation[1] > r.generation[0]))
            r.chosen = 1;
        else if (r.copy[0] == DT_OK)
            r.chosen = 0;
        if (r.chosen == 0 && (r.copy[0] = read_copy(io, &sb, 0, scratch, t)) != DT_OK)
            r.chosen = -1; /* it changed under us: the device is not to be trusted */
    }
    if (rep)
        *rep = r;
    if (r.super != DT_OK)
        return r.super;
    return r.chosen < 0 ? DT_ERR_NO_TABLE : DT_OK;
}

enum dt_error dt_format(const struct dt_io *io, uint64_t device_sectors, uint8_t *scratch,
                        struct dt_table *t)
{
    struct dt_super sb;
    enum dt_error e = dt_super_make(device_sectors, &sb);
    if (e != DT_OK)
        return e;
    dt_table_init(t, &sb);
    /* Generation 0 in copy 0 and 1 in copy 1, the same empty table. */
    for (int c = 0; c < 2; c++) {
        t->generation = (uint64_t)c;
        dt_table_encode(t, scratch);
        if (io->write(io->ctx, sb.table_lba[c], sb.table_sectors, scratch))
            return DT_ERR_IO;
    }
    if (io->flush(io->ctx))
        return DT_ERR_IO;
    memset(scratch, 0, DT_SECTOR_SIZE);
    dt_super_encode(&sb, scratch);
    if (io->write(io->ctx, 0, 1, scratch) || io->flush(io->ctx))
        return DT_ERR_IO;
    return DT_OK;
}

enum dt_error dt_commit(const struct dt_io *io, struct dt_table *t, uint8_t *scratch)
{
    t->generation++;
    /* Only the sectors in use: the CRC covers just those, so whatever an
     * older, longer table left after them does not matter. */
    size_t used = dt_table_encode(t, scratch);
    uint32_t sectors = (uint32_t)((used + DT_SECTOR_SIZE - 1) / DT_SECTOR_SIZE);
    int c = (int)(t->generation % 2);
    if (io->write(io->ctx, t->sb.table_lba[c], sectors, scratch) || io->flush(io->ctx)) {
        t->generation--;
        return DT_ERR_IO;
    }
    return DT_OK;
}

/* ---- storage maps ---- */

unsigned dt_map_height(uint64_t pages)
{
    unsigned h = 1;
    while (h < 13 && ((uint64_t)1 << (4 * h)) < pages)
        h++;
    return h;
}

/* Fill the frame `f` at `level` whose slot 0 starts at object page `first`. */
static long build_level(const struct dt_object *o, const struct dt_map_ops *ops, uint64_t pages,
                        uint64_t f, unsigned level, uint64_t first)
{
    uint64_t span = (uint64_t)1 << (4 * level);
    for (unsigned s = 0; s < 16; s++) {
        uint64_t a = first + s * span, sector, contig;
        if (a >= pages)
            break;
        if (dt_locate(o, a, &sector, &contig) != DT_OK)
            break; /* cannot happen for a checked object: its runs hold its pages */
        long e;
        if (contig >= span) {
            e = ops->key(ops->ctx, f, s, sector, span * DT_SECTORS_PER_PAGE);
        } else if (level == 0) {
            e = 0; /* unreachable: contig >= 1 = span */
        } else {
            uint64_t child;
            if ((e = ops->frame(ops->ctx, level - 1, &child)) == 0 &&
                (e = build_level(o, ops, pages, child, level - 1, a)) == 0)
                e = ops->child(ops->ctx, f, s, child);
        }
        if (e)
            return e;
    }
    return 0;
}

long dt_map_build(const struct dt_object *o, const struct dt_map_ops *ops, uint64_t *root,
                  unsigned *height)
{
    uint64_t pages = dt_pages(o->length);
    *height = 0;
    if (pages == 0)
        return 0;
    unsigned h = dt_map_height(pages);
    long e = ops->frame(ops->ctx, h - 1, root);
    if (e == 0)
        e = build_level(o, ops, pages, *root, h - 1, 0);
    if (e == 0)
        *height = h;
    return e;
}
