/* Physical page-frame allocator (see frame_alloc.h for the contract).
 *
 * Design: one zone per RAM range, each with a bitmap of two bits per frame,
 * stored as interleaved word pairs {allocated, reserved} covering 64 frames,
 * so a scan reads one cache line for 256 frames and finds a free frame in a
 * word with one OR, one NOT and one count-trailing-zeros. Two bits instead of
 * one are what let frame_free tell a double free or a free of a reserved
 * frame (firmware, bitmap, late reservation) from a legitimate one.
 *
 * Each zone keeps a hint: every word pair below it has no free frame. Allocation
 * starts at the hint and moves it past full words; a free below it lowers it.
 * So single-frame allocation is amortised O(1) and always returns the lowest
 * free frame, which also makes the address sequence a pure function of the
 * call sequence (the host tests check it against a trivial model).
 *
 * The bitmaps live in free RAM chosen at init from the reserved list alone (no
 * bitmap exists yet to ask), preferring the zone's own RAM, then any other
 * zone, lowest address first. A zone wholly covered by reserved ranges needs
 * no bitmap: every frame in it reads as reserved.
 *
 * Internally everything is in frame numbers (pfn), which are at most 2^52, so
 * page rounding and run arithmetic cannot overflow once addresses are
 * converted; the public boundary checks the byte arithmetic.
 */
#include "frames/frame_alloc.h"

#include <stddef.h>
#include <string.h>

#define WORD_BITS 64u

static const char *const frame_err_names[FRAME_ERR_COUNT] = {
    [FRAME_OK] = "ok",
    [FRAME_ERR_NO_MEMORY] = "out of physical frames",
    [FRAME_ERR_BAD_RANGE] = "bad physical range",
    [FRAME_ERR_TOO_MANY_ZONES] = "too many RAM zones",
    [FRAME_ERR_NOT_ALLOCATED] = "frame not allocated",
    [FRAME_ERR_NO_METADATA_SPACE] = "no room for frame bitmaps",
};

const char *frame_strerror(enum frame_err err)
{
    if ((unsigned)err >= FRAME_ERR_COUNT)
        return "unknown frame error";
    return frame_err_names[err];
}

/* Portable popcount: __builtin_popcountll would pull __popcountdi2 from
 * libgcc on cores without Zbb, and it only runs on init/reserve paths. */
static unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

/* Index of the lowest set bit (x != 0) by de Bruijn multiplication: the
 * frame allocator's hot path, and libgcc's __ctzdi2 is a loop on cores
 * without Zbb. */
static unsigned ctz64(uint64_t x)
{
    static const uint8_t table[64] = {
        0,  1,  2,  53, 3,  7,  54, 27, 4,  38, 41, 8,  34, 55, 48, 28, 62, 5,  39, 46, 44, 42,
        22, 9,  24, 35, 59, 56, 49, 18, 29, 11, 63, 52, 6,  26, 37, 40, 33, 47, 61, 45, 43, 21,
        23, 58, 17, 10, 51, 25, 36, 32, 60, 20, 57, 16, 50, 31, 19, 15, 30, 14, 13, 12};
    return table[((x & -x) * 0x022fdd63cc95386dull) >> 58];
}

/* Bits [lo, hi) of a word, 0 <= lo < hi <= 64. */
static uint64_t bit_mask(unsigned lo, unsigned hi)
{
    uint64_t high = hi >= WORD_BITS ? ~0ull : ((1ull << hi) - 1);
    return high & (~0ull << lo);
}

static uint64_t pfn_floor(uint64_t addr)
{
    return addr >> FRAME_SHIFT;
}

static uint64_t pfn_ceil(uint64_t addr)
{
    return (addr >> FRAME_SHIFT) + ((addr & (FRAME_SIZE - 1)) != 0);
}

static uint64_t zone_words(const struct frame_zone *z)
{
    return (z->npages + WORD_BITS - 1) / WORD_BITS;
}

static uint64_t zone_end_pfn(const struct frame_zone *z)
{
    return z->base_pfn + z->npages;
}

static uint64_t *zone_map(const struct frame_allocator *fa, const struct frame_zone *z)
{
    return fa->phys_to_virt(z->meta_pa, fa->ctx);
}

static struct frame_zone *find_zone(const struct frame_allocator *fa, uint64_t pfn)
{
    for (unsigned i = 0; i < fa->nzones; i++) {
        const struct frame_zone *z = &fa->zones[i];
        if (pfn >= z->base_pfn && pfn < zone_end_pfn(z))
            return (struct frame_zone *)z;
    }
    return NULL;
}

/* First index in [from, to) that is free (want_free) or not free, else to. */
static uint64_t scan(const uint64_t *map, uint64_t from, uint64_t to, bool want_free)
{
    while (from < to) {
        uint64_t w = from / WORD_BITS;
        uint64_t used = map[2 * w] | map[2 * w + 1];
        uint64_t bits = (want_free ? ~used : used) & (~0ull << (from % WORD_BITS));
        if (bits != 0) {
            uint64_t idx = w * WORD_BITS + (uint64_t)ctz64(bits);
            return idx < to ? idx : to;
        }
        from = (w + 1) * WORD_BITS;
    }
    return to;
}

/* Apply op to bit plane `plane` (0 allocated, 1 reserved) over [from, to).
 * Returns how many of the touched frames changed between free and not free. */
enum bit_op { BITS_SET, BITS_CLEAR };

static uint64_t update_bits(uint64_t *map, unsigned plane, uint64_t from, uint64_t to,
                            enum bit_op op)
{
    uint64_t changed = 0;
    while (from < to) {
        uint64_t w = from / WORD_BITS;
        unsigned lo = (unsigned)(from % WORD_BITS);
        unsigned hi = to - w * WORD_BITS >= WORD_BITS ? WORD_BITS : (unsigned)(to % WORD_BITS);
        uint64_t mask = bit_mask(lo, hi);
        uint64_t before = map[2 * w] | map[2 * w + 1];
        if (op == BITS_SET)
            map[2 * w + plane] |= mask;
        else
            map[2 * w + plane] &= ~mask;
        uint64_t after = map[2 * w] | map[2 * w + 1];
        changed += popcount64(before ^ after);
        from = w * WORD_BITS + hi;
    }
    return changed;
}

/* True iff every frame in [from, to) has its allocated bit set. */
static bool all_allocated(const uint64_t *map, uint64_t from, uint64_t to)
{
    while (from < to) {
        uint64_t w = from / WORD_BITS;
        unsigned lo = (unsigned)(from % WORD_BITS);
        unsigned hi = to - w * WORD_BITS >= WORD_BITS ? WORD_BITS : (unsigned)(to % WORD_BITS);
        uint64_t mask = bit_mask(lo, hi);
        if ((map[2 * w] & mask) != mask)
            return false;
        from = w * WORD_BITS + hi;
    }
    return true;
}

/* A frame-number range, used for reserved ranges and placed bitmaps at init. */
struct pfn_run {
    uint64_t lo, hi;
};

static struct pfn_run reserved_run(const struct frame_range *r)
{
    struct pfn_run run = {pfn_floor(r->base), pfn_ceil(r->end)};
    if (r->base >= r->end)
        run.hi = run.lo; /* empty (or rejected earlier) */
    return run;
}

static bool runs_overlap(uint64_t lo, uint64_t hi, struct pfn_run b)
{
    return b.lo < hi && lo < b.hi;
}

/* Lowest pfn p in [lo, hi) with [p, p + n) clear of every reserved range and
 * every already placed bitmap; false if none. Each blocker can push the
 * candidate past itself at most once, so this ends after at most
 * n_reserved + n_placed + 1 rounds. */
static bool find_gap(uint64_t lo, uint64_t hi, uint64_t n, const struct frame_range *reserved,
                     unsigned n_reserved, const struct pfn_run *placed, unsigned n_placed,
                     uint64_t *out)
{
    uint64_t cand = lo;
    for (;;) {
        if (cand > hi || hi - cand < n)
            return false;
        bool moved = false;
        for (unsigned i = 0; i < n_reserved; i++) {
            struct pfn_run r = reserved_run(&reserved[i]);
            if (runs_overlap(cand, cand + n, r)) {
                cand = r.hi;
                moved = true;
            }
        }
        for (unsigned i = 0; i < n_placed; i++) {
            if (runs_overlap(cand, cand + n, placed[i])) {
                cand = placed[i].hi;
                moved = true;
            }
        }
        if (!moved) {
            *out = cand;
            return true;
        }
    }
}

static enum frame_err collect_zones(struct frame_allocator *fa, const struct frame_range *ram,
                                    unsigned n_ram)
{
    for (unsigned i = 0; i < n_ram; i++) {
        if (ram[i].end < ram[i].base)
            return FRAME_ERR_BAD_RANGE;
        /* Overlapping RAM ranges mean a broken memory map; refuse rather
         * than guess which description is right. */
        for (unsigned j = 0; j < i && ram[i].base < ram[i].end; j++) {
            if (ram[j].base < ram[j].end && ram[i].base < ram[j].end && ram[j].base < ram[i].end)
                return FRAME_ERR_BAD_RANGE;
        }
        uint64_t lo = pfn_ceil(ram[i].base), hi = pfn_floor(ram[i].end);
        if (hi <= lo)
            continue;
        if (fa->nzones == FRAME_MAX_ZONES)
            return FRAME_ERR_TOO_MANY_ZONES;
        /* Insertion sort keeps zones in address order whatever the device
         * tree's order, so allocation order depends only on the memory map. */
        unsigned k = fa->nzones++;
        while (k > 0 && fa->zones[k - 1].base_pfn > lo) {
            fa->zones[k] = fa->zones[k - 1];
            k--;
        }
        fa->zones[k] = (struct frame_zone){.base_pfn = lo, .npages = hi - lo};
    }
    return FRAME_OK;
}

static enum frame_err place_bitmaps(struct frame_allocator *fa, const struct frame_range *reserved,
                                    unsigned n_reserved, struct pfn_run *placed, unsigned *n_placed)
{
    bool need[FRAME_MAX_ZONES];
    for (unsigned i = 0; i < fa->nzones; i++) {
        struct frame_zone *z = &fa->zones[i];
        uint64_t scratch;
        need[i] =
            find_gap(z->base_pfn, zone_end_pfn(z), 1, reserved, n_reserved, NULL, 0, &scratch);
        uint64_t bytes = zone_words(z) * 2 * sizeof(uint64_t);
        z->meta_pages = need[i] ? pfn_ceil(bytes) : 0;
    }
    /* Own zone first (keeps a zone's metadata local to it), then any zone. */
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < fa->nzones; i++) {
            struct frame_zone *z = &fa->zones[i];
            if (!need[i])
                continue;
            for (unsigned j = 0; j < fa->nzones; j++) {
                if ((pass == 0) != (j == i))
                    continue;
                const struct frame_zone *host = &fa->zones[j];
                uint64_t at;
                if (find_gap(host->base_pfn, zone_end_pfn(host), z->meta_pages, reserved,
                             n_reserved, placed, *n_placed, &at)) {
                    z->meta_pa = at << FRAME_SHIFT;
                    placed[(*n_placed)++] = (struct pfn_run){at, at + z->meta_pages};
                    need[i] = false;
                    break;
                }
            }
        }
    }
    for (unsigned i = 0; i < fa->nzones; i++) {
        if (need[i])
            return FRAME_ERR_NO_METADATA_SPACE;
    }
    return FRAME_OK;
}

static void clip_and_reserve(uint64_t *map, const struct frame_zone *z, struct pfn_run r)
{
    uint64_t lo = r.lo > z->base_pfn ? r.lo : z->base_pfn;
    uint64_t hi = r.hi < zone_end_pfn(z) ? r.hi : zone_end_pfn(z);
    if (lo < hi)
        update_bits(map, 1, lo - z->base_pfn, hi - z->base_pfn, BITS_SET);
}

enum frame_err frame_alloc_init(struct frame_allocator *fa, const struct frame_range *ram,
                                unsigned n_ram, const struct frame_range *reserved,
                                unsigned n_reserved, void *(*phys_to_virt)(uint64_t pa, void *ctx),
                                void *ctx)
{
    if (fa == NULL || phys_to_virt == NULL || (ram == NULL && n_ram != 0) ||
        (reserved == NULL && n_reserved != 0))
        return FRAME_ERR_BAD_RANGE;
    for (unsigned i = 0; i < n_reserved; i++) {
        if (reserved[i].end < reserved[i].base)
            return FRAME_ERR_BAD_RANGE;
    }
    *fa = (struct frame_allocator){.phys_to_virt = phys_to_virt, .ctx = ctx};

    enum frame_err err = collect_zones(fa, ram, n_ram);
    if (err != FRAME_OK)
        return err;
    if (fa->nzones == 0)
        return FRAME_ERR_NO_MEMORY;

    struct pfn_run placed[FRAME_MAX_ZONES];
    unsigned n_placed = 0;
    err = place_bitmaps(fa, reserved, n_reserved, placed, &n_placed);
    if (err != FRAME_OK)
        return err;

    uint64_t total_free = 0;
    for (unsigned i = 0; i < fa->nzones; i++) {
        struct frame_zone *z = &fa->zones[i];
        if (z->meta_pages == 0)
            continue;
        uint64_t *map = zone_map(fa, z);
        if (map == NULL || ((uintptr_t)map & (sizeof(uint64_t) - 1)) != 0)
            return FRAME_ERR_NO_METADATA_SPACE;
        uint64_t words = zone_words(z);
        memset(map, 0, (size_t)(words * 2 * sizeof(uint64_t)));
        /* Bits past the zone's end read as reserved so scans need no bound
         * check inside the last word. */
        update_bits(map, 1, z->npages, words * WORD_BITS, BITS_SET);
        for (unsigned r = 0; r < n_reserved; r++)
            clip_and_reserve(map, z, reserved_run(&reserved[r]));
        for (unsigned p = 0; p < n_placed; p++)
            clip_and_reserve(map, z, placed[p]);
        uint64_t used = 0;
        for (uint64_t w = 0; w < words; w++)
            used += popcount64(map[2 * w + 1]);
        z->nfree = words * WORD_BITS - used;
        total_free += z->nfree;
    }
    if (total_free == 0)
        return FRAME_ERR_NO_MEMORY;
    return FRAME_OK;
}

enum frame_err frame_alloc(struct frame_allocator *fa, uint64_t *pa)
{
    if (pa == NULL)
        return FRAME_ERR_BAD_RANGE;
    for (unsigned i = 0; i < fa->nzones; i++) {
        struct frame_zone *z = &fa->zones[i];
        if (z->nfree == 0)
            continue;
        uint64_t *map = zone_map(fa, z);
        uint64_t words = zone_words(z);
        for (uint64_t w = z->hint; w < words; w++) {
            uint64_t avail = ~(map[2 * w] | map[2 * w + 1]);
            if (avail == 0) {
                z->hint = w + 1;
                continue;
            }
            unsigned b = (unsigned)ctz64(avail);
            map[2 * w] |= 1ull << b;
            z->nfree--;
            z->hint = w;
            *pa = (z->base_pfn + w * WORD_BITS + b) << FRAME_SHIFT;
            return FRAME_OK;
        }
    }
    return FRAME_ERR_NO_MEMORY;
}

static uint64_t align_up_pfn(uint64_t pfn, uint64_t align)
{
    /* pfn < 2^52 and align <= 2^63, so the sum cannot wrap. */
    return (pfn + align - 1) & ~(align - 1);
}

enum frame_err frame_alloc_contig(struct frame_allocator *fa, uint64_t npages, uint64_t align_pages,
                                  uint64_t *pa)
{
    if (pa == NULL || npages == 0 || align_pages == 0 || (align_pages & (align_pages - 1)) != 0)
        return FRAME_ERR_BAD_RANGE;
    for (unsigned i = 0; i < fa->nzones; i++) {
        struct frame_zone *z = &fa->zones[i];
        if (z->nfree < npages)
            continue;
        uint64_t *map = zone_map(fa, z);
        uint64_t idx = align_up_pfn(z->base_pfn + z->hint * WORD_BITS, align_pages) - z->base_pfn;
        while (idx <= z->npages && z->npages - idx >= npages) {
            uint64_t busy = scan(map, idx, idx + npages, false);
            if (busy == idx + npages) {
                z->nfree -= update_bits(map, 0, idx, idx + npages, BITS_SET);
                *pa = (z->base_pfn + idx) << FRAME_SHIFT;
                return FRAME_OK;
            }
            uint64_t next = scan(map, busy + 1, z->npages, true);
            if (next == z->npages)
                break;
            idx = align_up_pfn(z->base_pfn + next, align_pages) - z->base_pfn;
        }
    }
    return FRAME_ERR_NO_MEMORY;
}

enum frame_err frame_free_contig(struct frame_allocator *fa, uint64_t pa, uint64_t npages)
{
    if ((pa & (FRAME_SIZE - 1)) != 0 || npages == 0)
        return FRAME_ERR_BAD_RANGE;
    uint64_t pfn = pfn_floor(pa);
    struct frame_zone *z = find_zone(fa, pfn);
    if (z == NULL || npages > zone_end_pfn(z) - pfn)
        return FRAME_ERR_BAD_RANGE;
    if (z->meta_pages == 0)
        return FRAME_ERR_NOT_ALLOCATED;
    uint64_t *map = zone_map(fa, z);
    uint64_t idx = pfn - z->base_pfn;
    if (!all_allocated(map, idx, idx + npages))
        return FRAME_ERR_NOT_ALLOCATED;
    uint64_t freed = update_bits(map, 0, idx, idx + npages, BITS_CLEAR);
    z->nfree += freed;
    if (freed != 0 && idx / WORD_BITS < z->hint)
        z->hint = idx / WORD_BITS;
    return FRAME_OK;
}

enum frame_err frame_free(struct frame_allocator *fa, uint64_t pa)
{
    return frame_free_contig(fa, pa, 1);
}

enum frame_err frame_reserve(struct frame_allocator *fa, uint64_t base, uint64_t end)
{
    if (end < base)
        return FRAME_ERR_BAD_RANGE;
    struct frame_range r = {base, end};
    struct pfn_run run = reserved_run(&r);
    for (unsigned i = 0; i < fa->nzones; i++) {
        struct frame_zone *z = &fa->zones[i];
        if (z->meta_pages == 0 || !runs_overlap(z->base_pfn, zone_end_pfn(z), run))
            continue;
        uint64_t lo = run.lo > z->base_pfn ? run.lo : z->base_pfn;
        uint64_t hi = run.hi < zone_end_pfn(z) ? run.hi : zone_end_pfn(z);
        z->nfree -= update_bits(zone_map(fa, z), 1, lo - z->base_pfn, hi - z->base_pfn, BITS_SET);
    }
    return FRAME_OK;
}

uint64_t frame_count_free(const struct frame_allocator *fa)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < fa->nzones; i++)
        n += fa->zones[i].nfree;
    return n;
}

uint64_t frame_count_total(const struct frame_allocator *fa)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < fa->nzones; i++)
        n += fa->zones[i].npages;
    return n;
}

enum frame_state frame_state(const struct frame_allocator *fa, uint64_t pa)
{
    uint64_t pfn = pfn_floor(pa);
    const struct frame_zone *z = find_zone(fa, pfn);
    if (z == NULL)
        return FRAME_STATE_UNMANAGED;
    if (z->meta_pages == 0)
        return FRAME_STATE_RESERVED;
    const uint64_t *map = zone_map(fa, z);
    uint64_t idx = pfn - z->base_pfn;
    uint64_t bit = 1ull << (idx % WORD_BITS);
    if (map[2 * (idx / WORD_BITS)] & bit)
        return FRAME_STATE_ALLOCATED;
    if (map[2 * (idx / WORD_BITS) + 1] & bit)
        return FRAME_STATE_RESERVED;
    return FRAME_STATE_FREE;
}

bool frame_is_allocated(const struct frame_allocator *fa, uint64_t pa)
{
    return frame_state(fa, pa) == FRAME_STATE_ALLOCATED;
}

unsigned frame_zone_count(const struct frame_allocator *fa)
{
    return fa->nzones;
}

enum frame_err frame_zone_info(const struct frame_allocator *fa, unsigned i, uint64_t *base,
                               uint64_t *end, uint64_t *free_frames)
{
    if (i >= fa->nzones)
        return FRAME_ERR_BAD_RANGE;
    const struct frame_zone *z = &fa->zones[i];
    if (base != NULL)
        *base = z->base_pfn << FRAME_SHIFT;
    if (end != NULL)
        *end = zone_end_pfn(z) << FRAME_SHIFT;
    if (free_frames != NULL)
        *free_frames = z->nfree;
    return FRAME_OK;
}
