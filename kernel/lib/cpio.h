/* Reader for "newc" cpio archives: the initrd format of Linux initramfs,
 * QEMU -initrd and `cpio -o -H newc`.
 *
 * The archive is untrusted. Every function here reads only inside
 * [archive, archive + len), returns a typed error instead of trusting a
 * field, and never writes to the archive. Entry names and data are returned
 * as pointers into the archive (no copy, no allocation).
 *
 * Formats: magic "070701" (newc) and "070702" (newc with a per-file
 * checksum) are both accepted; the checksum is NOT verified (it is a plain
 * byte sum, useless against tampering, and the loader checks what it loads).
 * The old binary and "odc" (070707) formats are rejected as CPIO_ERR_BAD_MAGIC.
 *
 * The reader stops at the first "TRAILER!!!" entry: concatenated archives
 * (Linux accepts several, separated by NUL padding) are not followed.
 * Hard links are returned as stored: newc keeps the data only with the last
 * link of a group, the earlier ones have size 0. */
#ifndef NEWSYS_KERNEL_LIB_CPIO_H
#define NEWSYS_KERNEL_LIB_CPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest accepted name, counting the terminating NUL (Linux PATH_MAX). */
#define CPIO_NAME_MAX 4096u

/* Size of a newc header: 6-byte magic and 13 fields of 8 hex digits. */
#define CPIO_HEADER_SIZE 110u

/* st_mode file-type bits, as stored in the archive. */
#define CPIO_MODE_TYPE 0170000u
#define CPIO_MODE_REG  0100000u
#define CPIO_MODE_DIR  0040000u
#define CPIO_MODE_LNK  0120000u

enum cpio_err {
    CPIO_OK = 0,
    CPIO_END,           /* the trailer was reached: no more entries */
    CPIO_ERR_TRUNCATED, /* the archive ends inside an entry or before a trailer */
    CPIO_ERR_BAD_MAGIC,
    CPIO_ERR_BAD_HEX,   /* a header field holds a character that is not a hex digit */
    CPIO_ERR_BAD_NAME,  /* namesize 0, not NUL-terminated, embedded NUL, too long */
    CPIO_ERR_BAD_SIZE,  /* the data runs past the end of the archive */
    CPIO_ERR_NOT_FOUND, /* cpio_find: no entry has that path */
    CPIO_ERR_COUNT
};

struct cpio_entry {
    const char *name; /* NUL-terminated, inside the archive */
    size_t name_len;  /* strlen(name) */
    uint32_t mode, uid, gid, nlink, mtime, ino;
    const void *data; /* inside the archive; only 4-byte aligned relative to its start */
    size_t size;
};

/* Iterator state. Treat as opaque; initialise with cpio_iter_init. */
struct cpio_iter {
    const unsigned char *base;
    size_t len;
    size_t off;         /* offset of the next header */
    enum cpio_err stop; /* CPIO_OK while iterating, else what every later call returns */
};

const char *cpio_strerror(enum cpio_err err);

void cpio_iter_init(struct cpio_iter *it, const void *archive, size_t len);

/* Decodes the next entry into *out and returns CPIO_OK; returns CPIO_END at
 * the trailer and an error for a malformed entry. Once it has returned
 * anything but CPIO_OK it returns the same value forever (and leaves *out
 * untouched), so a caller cannot walk past a broken header. */
enum cpio_err cpio_next(struct cpio_iter *it, struct cpio_entry *out);

bool cpio_is_regular(const struct cpio_entry *e);
bool cpio_is_dir(const struct cpio_entry *e);

/* Finds the first entry whose name equals path once leading "/" and "./"
 * components are removed from both (so "/init", "./init" and "init" all
 * match an archive member stored as "init" or "./init"; "/" and "." name the
 * root entry "."). Returns CPIO_OK, CPIO_ERR_NOT_FOUND at the trailer, or the
 * error that stopped the walk before a match. */
enum cpio_err cpio_find(const void *archive, size_t len, const char *path, struct cpio_entry *out);

/* The entry's name without the leading "/" and "./" components cpio_find
 * ignores (scripts/mkinitrd pads names with them so that file data starts
 * on a page boundary); "." for the root. Points into the archive. */
const char *cpio_short_name(const struct cpio_entry *e);

#endif
