/* Tests of kernel/lib/cpio.c: archives written by GNU cpio at build time
 * (see cpio_elf.cmake), archives written here by a small newc writer, and
 * mutations of both. Every walk of a damaged archive runs on a heap copy of
 * exactly the bytes under test, so ASan reports any read past the end. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/lib/cpio.h"
#include "kernel/lib/elf.h"

#define DATA_DIR NEWSYS_TEST_DATA "/cpio_elf/"

/* ---- helpers ---------------------------------------------------------- */

static unsigned char *read_file(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* An exact-size heap copy, so that ASan sees the end of the input. */
static unsigned char *dup_exact(const void *src, size_t len)
{
    unsigned char *p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len)
        memcpy(p, src, len);
    return p;
}

/* Minimal newc writer for archives GNU cpio will not produce. */
struct ar {
    unsigned char buf[8192];
    size_t len;
};

static void ar_bytes(struct ar *a, const void *p, size_t n)
{
    assert_true(a->len + n <= sizeof a->buf);
    memcpy(a->buf + a->len, p, n);
    a->len += n;
}

static void ar_pad(struct ar *a)
{
    static const unsigned char zero[4];
    ar_bytes(a, zero, (4 - (a->len & 3)) & 3);
}

/* Appends one entry; returns the offset of its header. namesize is
 * strlen(name) + 1 unless overridden (nonzero). */
static size_t ar_entry_raw(struct ar *a, const char *magic, const char *name, uint32_t mode,
                           const void *data, uint32_t size, uint32_t namesize)
{
    size_t hdr = a->len;
    char h[CPIO_HEADER_SIZE + 1];
    uint32_t nsz = namesize ? namesize : (uint32_t)strlen(name) + 1;
    snprintf(h, sizeof h, "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", magic,
             (unsigned)(hdr / 4), mode, 0u, 0u, 1u, 1234567890u, size, 0u, 0u, 0u, 0u, nsz, 0u);
    ar_bytes(a, h, CPIO_HEADER_SIZE);
    ar_bytes(a, name, strlen(name) + 1);
    ar_pad(a);
    if (size)
        ar_bytes(a, data, size);
    ar_pad(a);
    return hdr;
}

static size_t ar_entry(struct ar *a, const char *name, uint32_t mode, const char *data)
{
    return ar_entry_raw(a, "070701", name, mode, data, data ? (uint32_t)strlen(data) : 0, 0);
}

static size_t ar_trailer(struct ar *a)
{
    return ar_entry(a, "TRAILER!!!", 0, NULL);
}

/* Overwrites header field `field` (0 = c_ino ... 12 = c_check). */
static void set_field(unsigned char *archive, size_t hdr, int field, const char *eight)
{
    assert_int_equal(strlen(eight), 8);
    memcpy(archive + hdr + 6 + 8 * field, eight, 8);
}

enum { F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE, F_NAMESIZE = 11 };

/* Walks a copy of exactly `len` bytes and returns the final status and the
 * number of entries seen, checking that every entry lies inside the copy. */
static enum cpio_err walk(const void *archive, size_t len, size_t *count)
{
    unsigned char *copy = dup_exact(archive, len);
    struct cpio_iter it;
    struct cpio_entry e;
    enum cpio_err err;
    size_t n = 0;
    cpio_iter_init(&it, copy, len);
    while ((err = cpio_next(&it, &e)) == CPIO_OK) {
        const unsigned char *name = (const unsigned char *)e.name;
        const unsigned char *data = e.data;
        assert_true(name >= copy && name + e.name_len < copy + len);
        assert_int_equal(name[e.name_len], 0);
        assert_int_equal(strlen(e.name), e.name_len);
        assert_true(data >= copy && data <= copy + len && e.size <= (size_t)(copy + len - data));
        assert_int_equal((size_t)(data - copy) % 4, 0);
        n++;
    }
    /* Once stopped, the iterator says the same thing again. */
    assert_int_equal(cpio_next(&it, &e), err);
    free(copy);
    if (count)
        *count = n;
    return err;
}

/* ---- the archives GNU cpio wrote --------------------------------------- */

struct expect {
    const char *name;
    uint32_t mode;
    uint32_t nlink;
    const char *content; /* NULL: the bytes of rv-static.elf */
    size_t size;
};

/* "dir/" and 200 'L's, as the generator script makes it; filled by main(). */
static char long_name[4 + 200 + 1];

static const struct expect tree_entries[] = {
    {".", 040755, 3, "", 0},
    {"dir", 040755, 2, "", 0},
    {long_name, 0100644, 1, "long name\n", 10},
    {"dir/nested.txt", 0100644, 1, "nested\n", 7},
    {"empty", 0100644, 1, "", 0},
    {"five", 0100644, 1, "hello", 5},
    {"init", 0100755, 1, NULL, 0},
    {"link", 0120777, 1, "init", 4},
    {"one", 0100644, 1, "x", 1},
    {"three", 0100644, 1, "xyz", 3},
    {"two", 0100644, 1, "xy", 2},
};
#define N_TREE (sizeof tree_entries / sizeof tree_entries[0])

static size_t entry_size(const struct expect *x, size_t elf_len)
{
    return x->content ? x->size : elf_len;
}

static void check_tree(const unsigned char *archive, size_t len, size_t first)
{
    size_t elf_len;
    unsigned char *elf = read_file("rv-static.elf", &elf_len);
    struct cpio_iter it;
    struct cpio_entry e;
    cpio_iter_init(&it, archive, len);
    for (size_t i = first; i < N_TREE; i++) {
        const struct expect *x = &tree_entries[i];
        assert_int_equal(cpio_next(&it, &e), CPIO_OK);
        assert_string_equal(e.name, x->name);
        assert_int_equal(e.name_len, strlen(x->name));
        assert_int_equal(e.mode, x->mode);
        assert_int_equal(e.nlink, x->nlink);
        assert_int_equal(e.uid, 0);
        assert_int_equal(e.gid, 0);
        assert_int_equal(e.mtime, 1234567890u);
        assert_int_equal(cpio_is_dir(&e), (x->mode & 0170000) == 040000);
        assert_int_equal(cpio_is_regular(&e), (x->mode & 0170000) == 0100000);
        if (x->content) {
            assert_int_equal(e.size, x->size);
            if (x->size)
                assert_memory_equal(e.data, x->content, x->size);
        } else {
            assert_int_equal(e.size, elf_len);
            assert_memory_equal(e.data, elf, elf_len);
        }
    }
    assert_int_equal(cpio_next(&it, &e), CPIO_END);
    assert_int_equal(cpio_next(&it, &e), CPIO_END);
    free(elf);
}

static void test_tree_newc(void **state)
{
    (void)state;
    size_t len;
    unsigned char *a = read_file("tree.cpio", &len);
    assert_memory_equal(a, "070701", 6);
    check_tree(a, len, 0);
    free(a);
}

static void test_tree_crc_accepted(void **state)
{
    (void)state;
    size_t len;
    unsigned char *a = read_file("tree-crc.cpio", &len);
    assert_memory_equal(a, "070702", 6);
    check_tree(a, len, 0);
    free(a);
}

static void test_tree_without_root(void **state)
{
    (void)state;
    size_t len;
    unsigned char *a = read_file("tree-noroot.cpio", &len);
    check_tree(a, len, 1);
    struct cpio_entry e;
    assert_int_equal(cpio_find(a, len, "/", &e), CPIO_ERR_NOT_FOUND);
    free(a);
}

/* The initrd sits wherever the loader put it: nothing may assume alignment. */
static void test_tree_unaligned(void **state)
{
    (void)state;
    size_t len;
    unsigned char *a = read_file("tree.cpio", &len);
    for (size_t shift = 1; shift < 8; shift++) {
        unsigned char *b = malloc(len + shift);
        assert_non_null(b);
        memcpy(b + shift, a, len);
        check_tree(b + shift, len, 0);
        struct cpio_entry e;
        struct elf_info info;
        assert_int_equal(cpio_find(b + shift, len, "/init", &e), CPIO_OK);
        assert_int_equal(elf_check(e.data, e.size, &info), ELF_OK);
        free(b);
    }
    free(a);
}

static void test_find_in_tree(void **state)
{
    (void)state;
    size_t len;
    unsigned char *a = read_file("tree.cpio", &len);
    struct cpio_entry e;

    static const char *const init_paths[] = {"init",   "/init",   "./init",
                                             "//init", "/./init", ".//init"};
    for (size_t i = 0; i < sizeof init_paths / sizeof init_paths[0]; i++) {
        memset(&e, 0, sizeof e);
        assert_int_equal(cpio_find(a, len, init_paths[i], &e), CPIO_OK);
        assert_string_equal(e.name, "init");
        assert_true(cpio_is_regular(&e));
    }
    assert_int_equal(cpio_find(a, len, "/dir/nested.txt", &e), CPIO_OK);
    assert_int_equal(e.size, 7);
    assert_memory_equal(e.data, "nested\n", 7);
    char abs_long[sizeof long_name + 1];
    snprintf(abs_long, sizeof abs_long, "/%s", long_name);
    assert_int_equal(cpio_find(a, len, abs_long, &e), CPIO_OK);
    assert_int_equal(e.name_len, strlen(long_name));
    assert_int_equal(cpio_find(a, len, "dir", &e), CPIO_OK);
    assert_true(cpio_is_dir(&e));
    assert_int_equal(cpio_find(a, len, "/", &e), CPIO_OK);
    assert_string_equal(e.name, ".");
    assert_int_equal(cpio_find(a, len, ".", &e), CPIO_OK);
    assert_string_equal(e.name, ".");
    assert_int_equal(cpio_find(a, len, "/empty", &e), CPIO_OK);
    assert_int_equal(e.size, 0);

    assert_int_equal(cpio_find(a, len, "/missing", &e), CPIO_ERR_NOT_FOUND);
    assert_int_equal(cpio_find(a, len, "ini", &e), CPIO_ERR_NOT_FOUND);
    assert_int_equal(cpio_find(a, len, "init/", &e), CPIO_ERR_NOT_FOUND);
    assert_int_equal(cpio_find(a, len, "nested.txt", &e), CPIO_ERR_NOT_FOUND);
    assert_int_equal(cpio_find(a, len, "TRAILER!!!", &e), CPIO_ERR_NOT_FOUND);
    free(a);
}

/* The kernel's real use: find /init and check it as a program. */
static void test_find_init_and_check_elf(void **state)
{
    (void)state;
    size_t len;
    unsigned char *a = read_file("tree.cpio", &len);
    struct cpio_entry e;
    struct elf_info info;
    assert_int_equal(cpio_find(a, len, "/init", &e), CPIO_OK);
    assert_int_equal(elf_check(e.data, e.size, &info), ELF_OK);
    assert_int_equal(info.nseg, 2);
    assert_int_equal(elf_check(e.data, e.size - 1, &info), ELF_OK); /* only shdrs cut */
    assert_int_equal(cpio_find(a, len, "/five", &e), CPIO_OK);
    assert_int_equal(elf_check(e.data, e.size, &info), ELF_ERR_BAD_MAGIC);
    free(a);
}

/* Every prefix of a real archive: no out-of-bounds read (ASan), exactly the
 * complete entries are returned, and only the full trailer means "end". */
static void test_truncated_every_length(void **state)
{
    (void)state;
    size_t len, elf_len;
    unsigned char *a = read_file("tree.cpio", &len);
    free(read_file("rv-static.elf", &elf_len));

    size_t ends[N_TREE];
    struct cpio_iter it;
    struct cpio_entry e;
    cpio_iter_init(&it, a, len);
    for (size_t i = 0; i < N_TREE; i++) {
        assert_int_equal(cpio_next(&it, &e), CPIO_OK);
        ends[i] = (size_t)((const unsigned char *)e.data - a) + e.size;
    }
    const unsigned char *t = memmem(a, len, "TRAILER!!!", 11);
    assert_non_null(t);
    size_t trailer_end = (size_t)(t - a) + 11;

    for (size_t cut = 0; cut <= len; cut++) {
        size_t n;
        enum cpio_err err = walk(a, cut, &n);
        size_t want = 0;
        for (size_t i = 0; i < N_TREE; i++)
            want += ends[i] <= cut;
        assert_int_equal(n, want);
        if (cut >= trailer_end) {
            assert_int_equal(err, CPIO_END);
        } else if (want < N_TREE && entry_size(&tree_entries[want], elf_len) != 0 &&
                   cut >= ends[want] - entry_size(&tree_entries[want], elf_len)) {
            /* Header and name complete, data cut short: a size past the end. */
            assert_int_equal(err, CPIO_ERR_BAD_SIZE);
        } else {
            assert_int_equal(err, CPIO_ERR_TRUNCATED);
        }
    }
    free(a);
}

/* ---- hand-made archives ------------------------------------------------ */

static void test_prefixed_names(void **state)
{
    (void)state;
    static struct ar a;
    a.len = 0;
    ar_entry(&a, ".", 040755, NULL);
    ar_entry(&a, "./init", 0100755, "INIT");
    ar_entry(&a, "/abs", 0100644, "ABS");
    ar_entry(&a, "./dir/x", 0100644, "X");
    ar_entry(&a, "././y", 0100644, "Y");
    ar_entry(&a, "init", 0100644, "SECOND"); /* duplicate: the first one wins */
    ar_trailer(&a);

    struct cpio_entry e;
    static const char *const init_paths[] = {"init", "/init", "./init", "//init"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cpio_find(a.buf, a.len, init_paths[i], &e), CPIO_OK);
        assert_string_equal(e.name, "./init");
        assert_int_equal(e.size, 4);
        assert_memory_equal(e.data, "INIT", 4);
    }
    assert_int_equal(cpio_find(a.buf, a.len, "abs", &e), CPIO_OK);
    assert_string_equal(e.name, "/abs");
    assert_int_equal(cpio_find(a.buf, a.len, "/dir/x", &e), CPIO_OK);
    assert_int_equal(cpio_find(a.buf, a.len, "y", &e), CPIO_OK);
    assert_string_equal(e.name, "././y");
    assert_int_equal(cpio_find(a.buf, a.len, "/", &e), CPIO_OK);
    assert_string_equal(e.name, ".");
    assert_int_equal(cpio_find(a.buf, a.len, "", &e), CPIO_OK);
    assert_string_equal(e.name, ".");
    assert_int_equal(cpio_find(a.buf, a.len, "dir", &e), CPIO_ERR_NOT_FOUND);
    assert_int_equal(cpio_find(a.buf, a.len, "y", &e), CPIO_OK);
    assert_string_equal(cpio_short_name(&e), "y");
    assert_int_equal(cpio_find(a.buf, a.len, "abs", &e), CPIO_OK);
    assert_string_equal(cpio_short_name(&e), "abs");
    assert_int_equal(cpio_find(a.buf, a.len, "", &e), CPIO_OK);
    assert_string_equal(cpio_short_name(&e), ".");
}

/* scripts/mkinitrd pads names so that every file's data starts on a page
 * boundary of the archive: the same files as GNU cpio's archive, found by
 * the same names, each page-aligned, and the archive a whole number of
 * pages. */
static void test_mkinitrd_page_aligned(void **state)
{
    (void)state;
    size_t len, ref_len;
    unsigned char *a = read_file("tree-aligned.cpio", &len);
    unsigned char *ref = read_file("tree.cpio", &ref_len);
    assert_int_equal(len % 4096, 0);
    struct cpio_iter it;
    struct cpio_entry e, r;
    enum cpio_err err;
    unsigned files = 0;
    cpio_iter_init(&it, a, len);
    while ((err = cpio_next(&it, &e)) == CPIO_OK) {
        const char *name = cpio_short_name(&e);
        assert_true(name[0] != '/' && strncmp(name, "./", 2) != 0);
        if (!cpio_is_regular(&e))
            continue;
        if (e.size)
            assert_int_equal(((const unsigned char *)e.data - a) % 4096, 0);
        assert_int_equal(cpio_find(a, len, name, &r), CPIO_OK);
        assert_ptr_equal(r.data, e.data);
        assert_int_equal(cpio_find(ref, ref_len, name, &r), CPIO_OK);
        if (!cpio_is_regular(&r))
            continue; /* a symbolic link: mkinitrd stores what it names */
        assert_int_equal(r.size, e.size);
        assert_memory_equal(r.data, e.data, e.size);
        files++;
    }
    assert_int_equal(err, CPIO_END);
    assert_true(files >= 8);
    free(a);
    free(ref);
}

static void test_lowercase_hex_accepted(void **state)
{
    (void)state;
    static struct ar a;
    a.len = 0;
    size_t h = ar_entry(&a, "f", 0100644, "0123456789a"); /* size 0xB */
    ar_trailer(&a);
    set_field(a.buf, h, F_FILESIZE, "0000000b");
    set_field(a.buf, h, F_MODE, "000081a4");
    struct cpio_iter it;
    struct cpio_entry e;
    cpio_iter_init(&it, a.buf, a.len);
    assert_int_equal(cpio_next(&it, &e), CPIO_OK);
    assert_int_equal(e.size, 11);
    assert_int_equal(e.mode, 0100644);
    assert_int_equal(cpio_next(&it, &e), CPIO_END);
}

static void test_missing_trailer(void **state)
{
    (void)state;
    static struct ar a;
    a.len = 0;
    ar_entry(&a, "a", 0100644, "aa");
    ar_entry(&a, "b", 0100644, "bbbbb");
    size_t n;
    assert_int_equal(walk(a.buf, a.len, &n), CPIO_ERR_TRUNCATED);
    assert_int_equal(n, 2);
    struct cpio_entry e;
    assert_int_equal(cpio_find(a.buf, a.len, "b", &e), CPIO_OK);
    assert_int_equal(cpio_find(a.buf, a.len, "c", &e), CPIO_ERR_TRUNCATED);

    /* The real archive cut just before its trailer header. */
    size_t len;
    unsigned char *t = read_file("tree.cpio", &len);
    const unsigned char *tr = memmem(t, len, "TRAILER!!!", 11);
    assert_non_null(tr);
    assert_int_equal(walk(t, (size_t)(tr - t) - CPIO_HEADER_SIZE, &n), CPIO_ERR_TRUNCATED);
    assert_int_equal(n, N_TREE);
    free(t);
}

static void test_trailer_edges(void **state)
{
    (void)state;
    static struct ar a;
    a.len = 0;
    ar_entry(&a, "a", 0100644, "aa");
    size_t h = ar_trailer(&a);
    size_t n;
    /* A bare trailer, without the padding after its name, still ends it. */
    assert_int_equal(walk(a.buf, h + CPIO_HEADER_SIZE + 11, &n), CPIO_END);
    assert_int_equal(n, 1);
    /* The trailer's name cut short is truncation. */
    assert_int_equal(walk(a.buf, h + CPIO_HEADER_SIZE + 10, &n), CPIO_ERR_TRUNCATED);
    /* Anything after the trailer is never read. */
    memset(a.buf + a.len, 0xff, 64);
    assert_int_equal(walk(a.buf, a.len + 64, &n), CPIO_END);
    /* "TRAILER!!!" is only a trailer with exactly that name. */
    a.len = 0;
    ar_entry(&a, "TRAILER!!!x", 0100644, NULL);
    ar_entry(&a, "TRAILER!!", 0100644, NULL);
    ar_trailer(&a);
    assert_int_equal(walk(a.buf, a.len, &n), CPIO_END);
    assert_int_equal(n, 2);
}

static void test_bad_magic(void **state)
{
    (void)state;
    static const char *const magics[] = {"070707", "070703", "070700", "171701", "\0\0\0\0\0\0"};
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
        static struct ar a;
        a.len = 0;
        ar_entry(&a, "a", 0100644, "aa");
        ar_trailer(&a);
        memcpy(a.buf, magics[i], 6);
        size_t n;
        assert_int_equal(walk(a.buf, a.len, &n), CPIO_ERR_BAD_MAGIC);
        assert_int_equal(n, 0);
        struct cpio_entry e;
        assert_int_equal(cpio_find(a.buf, a.len, "a", &e), CPIO_ERR_BAD_MAGIC);
    }
    /* A bad second header stops the walk after the first entry. */
    static struct ar b;
    b.len = 0;
    ar_entry(&b, "a", 0100644, "aa");
    size_t h = ar_entry(&b, "b", 0100644, "bb");
    ar_trailer(&b);
    b.buf[h] = 'X';
    size_t n;
    assert_int_equal(walk(b.buf, b.len, &n), CPIO_ERR_BAD_MAGIC);
    assert_int_equal(n, 1);
}

static void test_bad_hex(void **state)
{
    (void)state;
    static const char *const bad[] = {"0000000g",
                                      "0000000G",
                                      " 0000001",
                                      "-0000001",
                                      "+0000001",
                                      "0x000001",
                                      "0000\0"
                                      "001",
                                      "000000 1"};
    for (int field = 0; field < 13; field++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            static struct ar a;
            a.len = 0;
            size_t h = ar_entry(&a, "a", 0100644, "aa");
            ar_trailer(&a);
            memcpy(a.buf + h + 6 + 8 * field, bad[i], 8);
            assert_int_equal(walk(a.buf, a.len, NULL), CPIO_ERR_BAD_HEX);
        }
    }
}

static void test_bad_size(void **state)
{
    (void)state;
    static struct ar a;
    a.len = 0;
    size_t h = ar_entry(&a, "a", 0100644, "aaaa");
    ar_trailer(&a);
    size_t data_off = h + CPIO_HEADER_SIZE + 2 + 0; /* "a\0" then no pad: 112 % 4 == 0 */
    size_t room = a.len - data_off;

    set_field(a.buf, h, F_FILESIZE, "FFFFFFFF");
    assert_int_equal(walk(a.buf, a.len, NULL), CPIO_ERR_BAD_SIZE);
    set_field(a.buf, h, F_FILESIZE, "80000000");
    assert_int_equal(walk(a.buf, a.len, NULL), CPIO_ERR_BAD_SIZE);

    char f[9];
    snprintf(f, sizeof f, "%08zX", room + 1);
    set_field(a.buf, h, F_FILESIZE, f);
    assert_int_equal(walk(a.buf, a.len, NULL), CPIO_ERR_BAD_SIZE);
    /* Data reaching exactly the end is fine, but then the trailer is gone. */
    snprintf(f, sizeof f, "%08zX", room);
    set_field(a.buf, h, F_FILESIZE, f);
    size_t n;
    assert_int_equal(walk(a.buf, a.len, &n), CPIO_ERR_TRUNCATED);
    assert_int_equal(n, 1);
}

static void test_bad_name(void **state)
{
    (void)state;
    static struct ar a;
    struct cpio_iter it;
    struct cpio_entry e;
    size_t h, n;
    char f[9];

    /* namesize 0 */
    a.len = 0;
    h = ar_entry(&a, "abc", 0100644, "x");
    ar_trailer(&a);
    set_field(a.buf, h, F_NAMESIZE, "00000000");
    assert_int_equal(walk(a.buf, a.len, &n), CPIO_ERR_BAD_NAME);

    /* not NUL-terminated: namesize one short, and the NUL overwritten */
    set_field(a.buf, h, F_NAMESIZE, "00000003");
    assert_int_equal(walk(a.buf, a.len, NULL), CPIO_ERR_BAD_NAME);
    set_field(a.buf, h, F_NAMESIZE, "00000004");
    a.buf[h + CPIO_HEADER_SIZE + 3] = 'd';
    assert_int_equal(walk(a.buf, a.len, NULL), CPIO_ERR_BAD_NAME);

    /* embedded NUL */
    a.buf[h + CPIO_HEADER_SIZE + 3] = 0;
    a.buf[h + CPIO_HEADER_SIZE + 1] = 0;
    assert_int_equal(walk(a.buf, a.len, NULL), CPIO_ERR_BAD_NAME);

    /* too long, even when the bytes are there */
    static struct ar big;
    big.len = 0;
    char name[CPIO_NAME_MAX + 1];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    ar_entry(&big, name, 0100644, "x");
    ar_trailer(&big);
    assert_int_equal(walk(big.buf, big.len, NULL), CPIO_ERR_BAD_NAME);
    big.len = 0;
    name[CPIO_NAME_MAX - 1] = 0; /* namesize == CPIO_NAME_MAX: the longest accepted */
    ar_entry(&big, name, 0100644, "x");
    ar_trailer(&big);
    assert_int_equal(walk(big.buf, big.len, &n), CPIO_END);
    assert_int_equal(n, 1);

    /* namesize larger than what is left: truncated */
    a.len = 0;
    h = ar_entry(&a, "abc", 0100644, NULL);
    snprintf(f, sizeof f, "%08zX", a.len - h - CPIO_HEADER_SIZE + 1);
    set_field(a.buf, h, F_NAMESIZE, f);
    assert_int_equal(walk(a.buf, a.len, NULL), CPIO_ERR_TRUNCATED);

    /* errors are sticky */
    a.len = 0;
    h = ar_entry(&a, "abc", 0100644, "x");
    ar_trailer(&a);
    set_field(a.buf, h, F_NAMESIZE, "00000000");
    cpio_iter_init(&it, a.buf, a.len);
    assert_int_equal(cpio_next(&it, &e), CPIO_ERR_BAD_NAME);
    set_field(a.buf, h, F_NAMESIZE, "00000004");
    assert_int_equal(cpio_next(&it, &e), CPIO_ERR_BAD_NAME);
}

static void test_empty_input(void **state)
{
    (void)state;
    struct cpio_iter it;
    struct cpio_entry e;
    cpio_iter_init(&it, NULL, 0);
    assert_int_equal(cpio_next(&it, &e), CPIO_ERR_TRUNCATED);
    cpio_iter_init(&it, NULL, 100); /* a NULL archive has no bytes whatever len says */
    assert_int_equal(cpio_next(&it, &e), CPIO_ERR_TRUNCATED);
    assert_int_equal(cpio_find(NULL, 0, "/init", &e), CPIO_ERR_TRUNCATED);
    assert_int_equal(walk("070701", 6, NULL), CPIO_ERR_TRUNCATED);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int i = 0; i < CPIO_ERR_COUNT; i++) {
        const char *s = cpio_strerror((enum cpio_err)i);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(s, cpio_strerror((enum cpio_err)j));
    }
    assert_string_equal(cpio_strerror(CPIO_ERR_COUNT), "unknown cpio error");
    assert_string_equal(cpio_strerror((enum cpio_err) - 1), "unknown cpio error");
}

int main(void)
{
    memcpy(long_name, "dir/", 4);
    memset(long_name + 4, 'L', 200);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_newc),
        cmocka_unit_test(test_tree_crc_accepted),
        cmocka_unit_test(test_tree_without_root),
        cmocka_unit_test(test_tree_unaligned),
        cmocka_unit_test(test_find_in_tree),
        cmocka_unit_test(test_find_init_and_check_elf),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_prefixed_names),
        cmocka_unit_test(test_mkinitrd_page_aligned),
        cmocka_unit_test(test_lowercase_hex_accepted),
        cmocka_unit_test(test_missing_trailer),
        cmocka_unit_test(test_trailer_edges),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_bad_hex),
        cmocka_unit_test(test_bad_size),
        cmocka_unit_test(test_bad_name),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
