/* newc cpio reader (see cpio.h for the contract).
 *
 * Design: a stateless walk over the archive bytes. Each header is decoded
 * from its ASCII hex fields with explicit digit checks (no strtoul, which
 * would accept signs, spaces and short fields), and every offset is checked
 * against the archive length *before* it is used, in a form that cannot wrap
 * (compare a size with `len - off`, never `off + size` with `len`). The
 * 4-byte padding rule of newc is relative to the start of the archive, so the
 * archive itself may sit at any address. An iterator that met an error stays
 * stopped: after a bad header there is no trustworthy place to resume. */
#include "kernel/lib/cpio.h"

#include <string.h>

#define CPIO_TRAILER "TRAILER!!!"

/* Field order in a newc header, after the 6-byte magic. */
enum {
    F_INO,
    F_MODE,
    F_UID,
    F_GID,
    F_NLINK,
    F_MTIME,
    F_FILESIZE,
    F_DEVMAJOR,
    F_DEVMINOR,
    F_RDEVMAJOR,
    F_RDEVMINOR,
    F_NAMESIZE,
    F_CHECK,
    F_COUNT
};

_Static_assert(6 + 8 * F_COUNT == CPIO_HEADER_SIZE, "newc header layout");

static const char *const cpio_err_names[CPIO_ERR_COUNT] = {
    [CPIO_OK] = "ok",
    [CPIO_END] = "end of archive",
    [CPIO_ERR_TRUNCATED] = "archive truncated",
    [CPIO_ERR_BAD_MAGIC] = "bad cpio magic (not newc)",
    [CPIO_ERR_BAD_HEX] = "bad hex digit in cpio header",
    [CPIO_ERR_BAD_NAME] = "bad cpio entry name",
    [CPIO_ERR_BAD_SIZE] = "cpio entry size past end of archive",
    [CPIO_ERR_NOT_FOUND] = "no such file in archive",
};

const char *cpio_strerror(enum cpio_err err)
{
    if ((unsigned)err >= CPIO_ERR_COUNT)
        return "unknown cpio error";
    return cpio_err_names[err];
}

void cpio_iter_init(struct cpio_iter *it, const void *archive, size_t len)
{
    it->base = archive;
    it->len = archive ? len : 0;
    it->off = 0;
    it->stop = CPIO_OK;
}

static bool parse_hex8(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        unsigned char c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        v = (v << 4) | d;
    }
    *out = v;
    return true;
}

/* Bytes needed to bring offset `off` up to a multiple of 4. */
static size_t pad4(size_t off)
{
    return (4 - (off & 3)) & 3;
}

static enum cpio_err parse_entry(struct cpio_iter *it, struct cpio_entry *out)
{
    const size_t len = it->len;
    const size_t off = it->off;

    /* Running out of bytes where a header should start is "no trailer". */
    if (off >= len || len - off < CPIO_HEADER_SIZE)
        return CPIO_ERR_TRUNCATED;

    const unsigned char *hdr = it->base + off;
    if (memcmp(hdr, "070701", 6) != 0 && memcmp(hdr, "070702", 6) != 0)
        return CPIO_ERR_BAD_MAGIC;

    uint32_t f[F_COUNT];
    for (int i = 0; i < F_COUNT; i++) {
        if (!parse_hex8(hdr + 6 + 8 * i, &f[i]))
            return CPIO_ERR_BAD_HEX;
    }

    const uint32_t namesize = f[F_NAMESIZE];
    if (namesize == 0 || namesize > CPIO_NAME_MAX)
        return CPIO_ERR_BAD_NAME;
    const size_t name_off = off + CPIO_HEADER_SIZE;
    if (namesize > len - name_off)
        return CPIO_ERR_TRUNCATED;
    const char *name = (const char *)it->base + name_off;
    if (name[namesize - 1] != '\0' || memchr(name, '\0', namesize - 1) != NULL)
        return CPIO_ERR_BAD_NAME;

    /* The trailer carries no data, so nothing after its name is required:
     * writers pad the archive to a block size, but a bare trailer is fine. */
    if (namesize == sizeof(CPIO_TRAILER) && memcmp(name, CPIO_TRAILER, namesize) == 0)
        return CPIO_END;

    const size_t name_end = name_off + namesize;
    const size_t name_pad = pad4(name_end);
    if (name_pad > len - name_end)
        return CPIO_ERR_TRUNCATED;
    const size_t data_off = name_end + name_pad;
    const size_t size = f[F_FILESIZE];
    if (size > len - data_off)
        return CPIO_ERR_BAD_SIZE;

    const size_t data_end = data_off + size;
    const size_t data_pad = pad4(data_end);
    /* A missing final pad is reported by the next call, as truncation. */
    it->off = data_pad > len - data_end ? len : data_end + data_pad;

    out->name = name;
    out->name_len = namesize - 1;
    out->mode = f[F_MODE];
    out->uid = f[F_UID];
    out->gid = f[F_GID];
    out->nlink = f[F_NLINK];
    out->mtime = f[F_MTIME];
    out->ino = f[F_INO];
    out->data = it->base + data_off;
    out->size = size;
    return CPIO_OK;
}

enum cpio_err cpio_next(struct cpio_iter *it, struct cpio_entry *out)
{
    if (it->stop != CPIO_OK)
        return it->stop;
    struct cpio_entry e;
    enum cpio_err err = parse_entry(it, &e);
    if (err != CPIO_OK) {
        it->stop = err;
        return err;
    }
    *out = e;
    return CPIO_OK;
}

bool cpio_is_regular(const struct cpio_entry *e)
{
    return (e->mode & CPIO_MODE_TYPE) == CPIO_MODE_REG;
}

bool cpio_is_dir(const struct cpio_entry *e)
{
    return (e->mode & CPIO_MODE_TYPE) == CPIO_MODE_DIR;
}

/* Drops leading "/" and "./" components; a lone "." becomes "". Returns how
 * many of the n bytes at s to skip. */
static size_t path_skip(const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        if (i < n && s[i] == '/') {
            i++;
        } else if (n - i >= 2 && s[i] == '.' && s[i + 1] == '/') {
            i += 2;
        } else if (n - i == 1 && s[i] == '.') {
            return n;
        } else {
            return i;
        }
    }
}

enum cpio_err cpio_find(const void *archive, size_t len, const char *path, struct cpio_entry *out)
{
    const size_t path_len = strlen(path);
    const size_t p_skip = path_skip(path, path_len);
    const char *want = path + p_skip;
    const size_t want_len = path_len - p_skip;

    struct cpio_iter it;
    struct cpio_entry e;
    enum cpio_err err;
    cpio_iter_init(&it, archive, len);
    while ((err = cpio_next(&it, &e)) == CPIO_OK) {
        size_t skip = path_skip(e.name, e.name_len);
        if (e.name_len - skip == want_len && memcmp(e.name + skip, want, want_len) == 0) {
            *out = e;
            return CPIO_OK;
        }
    }
    return err == CPIO_END ? CPIO_ERR_NOT_FOUND : err;
}

const char *cpio_short_name(const struct cpio_entry *e)
{
    size_t skip = path_skip(e->name, e->name_len);
    return skip == e->name_len ? "." : e->name + skip;
}
