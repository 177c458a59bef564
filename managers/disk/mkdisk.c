/* mkdisk: make and inspect disk-manager images on the host, with the same
 * format code the manager runs (disk_table.c). scripts/mkdisk builds and
 * runs it.
 *
 *   mkdisk create IMG SIZE                 a formatted image (SIZE: bytes, or K/M/G)
 *   mkdisk add IMG ID LENGTH [--from FILE | --pattern SEED]
 *                                          an object; its data from FILE (the rest
 *                                          zeros), the test pattern, or zeros
 *   mkdisk rm IMG ID                       delete an object
 *   mkdisk ls IMG                          the table: ids, lengths, runs
 *   mkdisk check IMG [--data]              check both table copies; --data also
 *                                          compares pattern objects with the pattern
 *   mkdisk extract IMG ID OUT              an object's bytes into OUT
 *
 * `--offset SECTORS` before the command puts the range the table describes
 * that far into the image (a manager given a sub-range key).
 *
 * Data is written and synced before the table that points at it, as the
 * manager does, so an interrupted add leaves the old table. Exit status: 0
 * ok, 1 failure (a bad image, a failed check), 2 usage. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "managers/disk/disk_table.h"

static int fd = -1;
static uint64_t img_sectors, base; /* the range: sectors [base, base + img_sectors) */
static uint8_t scratch[DT_TABLE_BYTES];
static struct dt_table table;

static int f_read(void *ctx, uint64_t sector, uint32_t count, void *buf)
{
    (void)ctx;
    size_t len = (size_t)count * DT_SECTOR_SIZE;
    return pread(fd, buf, len, (off_t)((base + sector) * DT_SECTOR_SIZE)) == (ssize_t)len ? 0 : -1;
}

static int f_write(void *ctx, uint64_t sector, uint32_t count, const void *buf)
{
    (void)ctx;
    size_t len = (size_t)count * DT_SECTOR_SIZE;
    return pwrite(fd, buf, len, (off_t)((base + sector) * DT_SECTOR_SIZE)) == (ssize_t)len ? 0 : -1;
}

static int f_flush(void *ctx)
{
    (void)ctx;
    return fsync(fd);
}

static const struct dt_io io = {NULL, f_read, f_write, f_flush};

static int usage(void)
{
    fprintf(stderr, "usage: mkdisk [--offset SECTORS] COMMAND ...\n"
                    "       mkdisk create IMG SIZE\n"
                    "       mkdisk add IMG ID LENGTH [--from FILE | --pattern SEED]\n"
                    "       mkdisk rm IMG ID\n"
                    "       mkdisk ls IMG\n"
                    "       mkdisk check IMG [--data]\n"
                    "       mkdisk extract IMG ID OUT\n");
    return 2;
}

/* A number with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *s == '-')
        return -1;
    uint64_t mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1ull << 10, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1ull << 20, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1ull << 30, end++;
    if (*end || (v && mul > UINT64_MAX / v))
        return -1;
    *out = v * mul;
    return 0;
}

static int open_image(const char *path, int flags)
{
    fd = open(path, flags);
    if (fd < 0) {
        fprintf(stderr, "mkdisk: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st)) {
        perror("mkdisk: stat");
        return -1;
    }
    img_sectors = (uint64_t)st.st_size / DT_SECTOR_SIZE;
    if (base >= img_sectors) {
        fprintf(stderr, "mkdisk: %s: offset past the image\n", path);
        return -1;
    }
    img_sectors -= base;
    return 0;
}

static int mount_image(const char *path, int flags, struct dt_mount_report *rep)
{
    if (open_image(path, flags))
        return -1;
    struct dt_mount_report r;
    enum dt_error e = dt_mount(&io, img_sectors, scratch, &table, &r);
    if (rep)
        *rep = r;
    if (e != DT_OK) {
        fprintf(stderr, "mkdisk: %s: %s (superblock: %s; copy 0: %s; copy 1: %s)\n", path,
                dt_strerror(e), dt_strerror(r.super), dt_strerror(r.copy[0]),
                dt_strerror(r.copy[1]));
        return -1;
    }
    return 0;
}

/* The bytes of page `page` of a pattern object: the pattern up to the
 * length, zeros after it (what a client of the manager sees). */
static void pattern_page(uint64_t seed, uint64_t page, uint64_t length, uint8_t *out)
{
    for (unsigned w = 0; w < DT_PAGE_SIZE / 8; w++) {
        uint64_t v = dt_pattern_word(seed, page, w);
        for (unsigned b = 0; b < 8; b++)
            out[w * 8 + b] = (uint8_t)(v >> (8 * b));
    }
    uint64_t at = page * DT_PAGE_SIZE;
    if (length < at + DT_PAGE_SIZE)
        memset(out + (length > at ? length - at : 0), 0,
               DT_PAGE_SIZE - (length > at ? length - at : 0));
}

static int write_page(const struct dt_object *o, uint64_t page, const uint8_t *buf)
{
    uint64_t sector, contig;
    if (dt_locate(o, page, &sector, &contig) != DT_OK ||
        f_write(NULL, sector, DT_SECTORS_PER_PAGE, buf)) {
        fprintf(stderr, "mkdisk: writing page %" PRIu64 ": %s\n", page, strerror(errno));
        return -1;
    }
    return 0;
}

static int read_page(const struct dt_object *o, uint64_t page, uint8_t *buf)
{
    uint64_t sector, contig;
    if (dt_locate(o, page, &sector, &contig) != DT_OK ||
        f_read(NULL, sector, DT_SECTORS_PER_PAGE, buf)) {
        fprintf(stderr, "mkdisk: reading page %" PRIu64 "\n", page);
        return -1;
    }
    return 0;
}

static int cmd_create(int argc, char **argv)
{
    uint64_t size;
    if (argc != 2 || parse_size(argv[1], &size))
        return usage();
    /* With an offset the image may hold other data: only grow it. */
    fd = open(argv[0], O_RDWR | O_CREAT | (base ? 0 : O_TRUNC), 0644);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) ||
        ((uint64_t)st.st_size < (base * DT_SECTOR_SIZE + size) &&
         ftruncate(fd, (off_t)(base * DT_SECTOR_SIZE + size)))) {
        fprintf(stderr, "mkdisk: %s: %s\n", argv[0], strerror(errno));
        return 1;
    }
    enum dt_error e = dt_format(&io, size / DT_SECTOR_SIZE, scratch, &table);
    if (e != DT_OK) {
        fprintf(stderr, "mkdisk: %s: %s\n", argv[0], dt_strerror(e));
        return 1;
    }
    printf("%s: %" PRIu64 " sectors, %" PRIu64 " free for data\n", argv[0], table.sb.total_sectors,
           dt_free_sectors(&table));
    return 0;
}

static int cmd_add(int argc, char **argv)
{
    uint64_t id, length, seed = 0;
    const char *from = NULL;
    int pattern = 0;
    if (argc != 3 && argc != 5)
        return usage();
    if (parse_size(argv[1], &id) || parse_size(argv[2], &length))
        return usage();
    if (argc == 5) {
        if (!strcmp(argv[3], "--from"))
            from = argv[4];
        else if (!strcmp(argv[3], "--pattern") && !parse_size(argv[4], &seed))
            pattern = 1;
        else
            return usage();
    }
    FILE *src = NULL;
    if (from && !(src = fopen(from, "rb"))) {
        fprintf(stderr, "mkdisk: %s: %s\n", from, strerror(errno));
        return 1;
    }
    if (mount_image(argv[0], O_RDWR, NULL))
        return 1;
    struct dt_object *o;
    enum dt_error e =
        dt_create(&table, id, length, pattern ? DT_OBJ_PATTERN : 0, pattern ? seed : 0, &o);
    if (e != DT_OK) {
        fprintf(stderr, "mkdisk: add %" PRIu64 ": %s\n", id, dt_strerror(e));
        return 1;
    }
    /* Every page is written, zeros included: the runs may hold a deleted
     * object's data. */
    static uint8_t page[DT_PAGE_SIZE];
    for (uint64_t p = 0; p < dt_pages(length); p++) {
        if (pattern) {
            pattern_page(seed, p, length, page);
        } else {
            memset(page, 0, sizeof(page));
            uint64_t want = length - p * DT_PAGE_SIZE;
            /* A short file leaves the rest zero. */
            if (src && fread(page, 1, want < DT_PAGE_SIZE ? want : DT_PAGE_SIZE, src) == 0 &&
                ferror(src)) {
                fprintf(stderr, "mkdisk: %s: read error\n", from);
                return 1;
            }
        }
        if (write_page(o, p, page))
            return 1;
    }
    if (src)
        fclose(src);
    if (fsync(fd) || (e = dt_commit(&io, &table, scratch)) != DT_OK) {
        fprintf(stderr, "mkdisk: add %" PRIu64 ": %s\n", id, dt_strerror(DT_ERR_IO));
        return 1;
    }
    printf("added %" PRIu64 ": %" PRIu64 " bytes in %u run%s\n", id, length, o->nruns,
           o->nruns == 1 ? "" : "s");
    return 0;
}

static int cmd_rm(int argc, char **argv)
{
    uint64_t id;
    if (argc != 2 || parse_size(argv[1], &id))
        return usage();
    if (mount_image(argv[0], O_RDWR, NULL))
        return 1;
    enum dt_error e = dt_delete(&table, id);
    if (e == DT_OK)
        e = dt_commit(&io, &table, scratch);
    if (e != DT_OK) {
        fprintf(stderr, "mkdisk: rm %" PRIu64 ": %s\n", id, dt_strerror(e));
        return 1;
    }
    return 0;
}

static void list(void)
{
    printf("generation %" PRIu64 ", %" PRIu64 " sectors, %" PRIu64 " free, %u objects\n",
           table.generation, table.sb.total_sectors, dt_free_sectors(&table), table.count);
    for (uint32_t i = 0; i < table.count; i++) {
        const struct dt_object *o = &table.obj[i];
        printf("id %" PRIu64 " length %" PRIu64 " pages %" PRIu64 " runs %u:", o->id, o->length,
               dt_pages(o->length), o->nruns);
        for (uint32_t r = 0; r < o->nruns; r++)
            printf(" %" PRIu64 "+%" PRIu64, o->run[r].start, o->run[r].sectors);
        if (o->flags & DT_OBJ_PATTERN)
            printf(" pattern %" PRIu64, o->tag);
        printf("\n");
    }
}

static int cmd_ls(int argc, char **argv)
{
    if (argc != 1)
        return usage();
    if (mount_image(argv[0], O_RDONLY, NULL))
        return 1;
    list();
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    int data = argc == 2 && !strcmp(argv[1], "--data");
    if (argc != 1 && !data)
        return usage();
    struct dt_mount_report r;
    if (mount_image(argv[0], O_RDONLY, &r))
        return 1;
    for (int c = 0; c < 2; c++) {
        printf("copy %d: %s", c, dt_strerror(r.copy[c]));
        if (r.copy[c] == DT_OK)
            printf(", generation %" PRIu64, r.generation[c]);
        printf("%s\n", r.chosen == c ? " (mounted)" : "");
    }
    int bad = 0;
    if (data) {
        static uint8_t want[DT_PAGE_SIZE], got[DT_PAGE_SIZE];
        for (uint32_t i = 0; i < table.count; i++) {
            const struct dt_object *o = &table.obj[i];
            if (!(o->flags & DT_OBJ_PATTERN))
                continue;
            uint64_t wrong = 0;
            for (uint64_t p = 0; p < dt_pages(o->length); p++) {
                pattern_page(o->tag, p, o->length, want);
                if (read_page(o, p, got))
                    return 1;
                wrong += memcmp(want, got, DT_PAGE_SIZE) != 0;
            }
            printf("object %" PRIu64 ": %" PRIu64 " of %" PRIu64 " pages differ from pattern "
                   "%" PRIu64 "\n",
                   o->id, wrong, dt_pages(o->length), o->tag);
            bad |= wrong != 0;
        }
    }
    printf("%s\n", bad ? "check FAILED" : "check ok");
    return bad;
}

static int cmd_extract(int argc, char **argv)
{
    uint64_t id;
    if (argc != 3 || parse_size(argv[1], &id))
        return usage();
    if (mount_image(argv[0], O_RDONLY, NULL))
        return 1;
    const struct dt_object *o = dt_find(&table, id);
    if (!o) {
        fprintf(stderr, "mkdisk: extract %" PRIu64 ": %s\n", id, dt_strerror(DT_ERR_NOT_FOUND));
        return 1;
    }
    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        fprintf(stderr, "mkdisk: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    static uint8_t page[DT_PAGE_SIZE];
    for (uint64_t p = 0; p < dt_pages(o->length); p++) {
        if (read_page(o, p, page))
            return 1;
        uint64_t n = o->length - p * DT_PAGE_SIZE;
        if (fwrite(page, 1, n < DT_PAGE_SIZE ? n : DT_PAGE_SIZE, out) !=
            (n < DT_PAGE_SIZE ? n : DT_PAGE_SIZE)) {
            fprintf(stderr, "mkdisk: %s: write failed\n", argv[2]);
            return 1;
        }
    }
    return fclose(out) ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--offset")) {
        if (parse_size(argv[2], &base) || base > UINT64_MAX / DT_SECTOR_SIZE / 2)
            return usage();
        argv += 2;
        argc -= 2;
    }
    if (argc < 3)
        return usage();
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"create", cmd_create}, {"add", cmd_add},     {"rm", cmd_rm},
                {"ls", cmd_ls},         {"check", cmd_check}, {"extract", cmd_extract}};
    for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 2, argv + 2);
    return usage();
}
