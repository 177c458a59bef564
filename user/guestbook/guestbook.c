/* guestbook: the persistent demo. init starts it when the machine has a
 * disk the disk manager (managers/disk) mounted, with the manager's
 * endpoint at NS_SLOT_FIRST_GIVEN and the host's time (seconds since 1970,
 * from `date=` on the kernel command line; 0 when unknown) as its argument.
 *
 * It opens disk object GB_ID - creating it the first time - maps it
 * read-write, adds one to the boot counter kept in its first words, appends
 * a line with the boot number and the time, syncs the object (the kernel
 * writes the dirty pages through the object's storage map and flushes the
 * disk: when sync returns the line survives a power cut), and prints the
 * log. Every byte goes through the mapping: the program never reads or
 * writes the disk itself. So `scripts/run --disk build/demo.img`, run
 * twice, shows boot 1, then boots 1 and 2. */
#include <stdio.h>
#include <string.h>

#include "managers/disk/disk_client.h"
#include "user/rt/newsys.h"
#include "user/rt/slots.h"
#include "user/rt/spawn.h"

#define SLOT_DISK NS_SLOT_FIRST_GIVEN   /* the disk manager's endpoint */
#define GB_ID     0x6775657374ull       /* "guest": the object's id on the disk */
#define GB_BYTES  (64u * 1024)          /* 16 pages: about a thousand lines */
#define GB_MAGIC  0x6b6f6f4274736547ull /* "GestBook" */
#define GB_VA     0x60000000ull
#define GB_SHOW   20 /* lines of the log printed; the rest are counted */

/* The object's layout: this header, then the log's text. A fresh object
 * is all zeros (the manager zeroes its sectors at create), which is a
 * book with no boots and an empty log. */
struct gb_header {
    uint64_t magic;
    uint64_t boots;
    uint64_t used; /* bytes of text */
    uint64_t reserved;
};
#define GB_TEXT_MAX (GB_BYTES - sizeof(struct gb_header))

/* Seconds since 1970 as "YYYY-MM-DD HH:MM:SS" (the days-to-civil
 * conversion of the proleptic Gregorian calendar, for any date after
 * 1970). */
static void format_utc(uint64_t t, char *out, size_t len)
{
    uint64_t days = t / 86400, s = t % 86400;
    uint64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    uint64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    uint64_t y = yoe + era * 400 + (m <= 2);
    snprintf(out, len, "%04lu-%02lu-%02lu %02lu:%02lu:%02lu UTC", (unsigned long)y,
             (unsigned long)m, (unsigned long)d, (unsigned long)(s / 3600),
             (unsigned long)(s / 60 % 60), (unsigned long)(s % 60));
}

/* Append `line` to the log, dropping the oldest lines when it is full. */
static void append(struct gb_header *h, char *text, const char *line)
{
    size_t n = strlen(line);
    if (h->used > GB_TEXT_MAX)
        h->used = 0; /* a damaged header: start over rather than overrun */
    while (h->used + n > GB_TEXT_MAX) {
        char *nl = memchr(text, '\n', h->used);
        size_t drop = nl ? (size_t)(nl - text) + 1 : h->used;
        memmove(text, text + drop, h->used - drop);
        h->used -= drop;
    }
    memcpy(text + h->used, line, n);
    h->used += n;
}

static void print_log(const struct gb_header *h, const char *text)
{
    uint64_t lines = 0, skip;
    for (uint64_t i = 0; i < h->used; i++)
        lines += text[i] == '\n';
    skip = lines > GB_SHOW ? lines - GB_SHOW : 0;
    printf("guestbook: the log (%lu line%s%s):\n", (unsigned long)lines, lines == 1 ? "" : "s",
           skip ? ", the last ones" : "");
    const char *p = text, *end = text + h->used;
    for (uint64_t l = 0; p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l >= skip)
            printf("guestbook: | %.*s\n", (int)n, p);
        p += n + 1;
    }
}

int main(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    unsigned long obj;
    uint64_t length = 0;
    uint32_t dt = 0;
    if (!pi || ns_slot_alloc(&obj) != NS_OK)
        return 1;
    long e = disk_open(SLOT_DISK, GB_ID, obj, &length, &dt);
    if (e == NS_ERR_INVALID_ARG && dt == DT_ERR_NOT_FOUND) {
        e = disk_create(SLOT_DISK, GB_ID, GB_BYTES, 0, 0, obj, &dt);
        if (e == NS_OK) {
            length = GB_BYTES;
            printf("guestbook: no guest book on this disk: created object %#lx (%u KiB)\n",
                   (unsigned long)GB_ID, GB_BYTES / 1024);
        }
    }
    if (e != NS_OK || length < GB_BYTES) {
        printf("guestbook: cannot open or create object %#lx: %s (%s), length %lu\n",
               (unsigned long)GB_ID, ns_strerror(e), dt_strerror(dt), (unsigned long)length);
        return 1;
    }
    unsigned long eff;
    e = ns_memobj_map(NS_SLOT_SELF_ASPACE, obj, GB_VA, 0, GB_BYTES / 4096,
                      NS_RIGHT_READ | NS_RIGHT_WRITE | NS_MAP_STRICT, &eff);
    if (e != NS_OK) {
        printf("guestbook: map failed: %s\n", ns_strerror(e));
        return 1;
    }
    struct gb_header *h = (struct gb_header *)GB_VA;
    char *text = (char *)(GB_VA + sizeof(*h));
    if (h->magic != GB_MAGIC) {
        if (h->magic || h->boots || h->used)
            printf("guestbook: object %#lx is not a guest book: starting a new one\n",
                   (unsigned long)GB_ID);
        *h = (struct gb_header){.magic = GB_MAGIC};
    }
    h->boots++;
    char when[64], line[160];
    if (pi->arg)
        format_utc(pi->arg, when, sizeof(when));
    else
        snprintf(when, sizeof(when), "time unknown");
    snprintf(line, sizeof(line), "boot %lu: %s, %lu ms after power-on\n", (unsigned long)h->boots,
             when, (unsigned long)(ns_clock_us() / 1000));
    append(h, text, line);

    e = ns_memobj_sync(obj);
    struct ns_memobj_stats st;
    if (e == NS_OK)
        e = ns_memobj_stats(obj, &st);
    if (e != NS_OK) {
        printf("guestbook: sync failed: %s\n", ns_strerror(e));
        return 1;
    }
    printf("guestbook: boot counter %lu, synced: %lu pages written back in %lu writes, %lu read "
           "by the kernel, %lu manager requests\n",
           (unsigned long)h->boots, (unsigned long)st.map_pages_written,
           (unsigned long)st.map_writes, (unsigned long)st.map_pages_read,
           (unsigned long)st.requests_made);
    print_log(h, text);
    ns_memobj_unmap(NS_SLOT_SELF_ASPACE, GB_VA, GB_BYTES / 4096);
    return 0;
}
