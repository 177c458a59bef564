/* Flattened devicetree parser: validate once, then navigate cheaply.
 *
 * The blob comes from the boot loader and is trusted no further than its
 * bytes: fdt_open() checks the header (version, every block inside
 * totalsize, no overlaps, alignment) and then walks the structure block once,
 * checking every token, name, property length, string offset and the nesting.
 * That is the only O(n) pass that must happen before use; afterwards the
 * accessors rely on what it proved, but still bound every read by the block
 * so that a wrong offset from a caller can cost a wrong answer, never an
 * out-of-bounds read. Nothing here allocates or keeps state outside the
 * caller's struct fdt, so it runs the same in the kernel before the MMU is on
 * and in the host tests under the sanitizers.
 *
 * Format (Devicetree spec v0.4, ch. 5): a header of big-endian u32s, the
 * memory reservation block (u64 address/size pairs ended by 0,0), the
 * structure block (4-aligned tokens: BEGIN_NODE name, END_NODE, PROP len
 * nameoff value, NOP, END) and the strings block holding property names.
 */
#include "kernel/lib/fdt.h"

#include <string.h>

enum {
    FDT_HEADER_MAGIC = 0xd00dfeedu,
    TOK_BEGIN_NODE = 1,
    TOK_END_NODE = 2,
    TOK_PROP = 3,
    TOK_NOP = 4,
    TOK_END = 9,
    HDR_SIZE_V16 = 36, /* v17 adds size_dt_struct */
    HDR_SIZE_V17 = 40,
    RSV_ENTRY_SIZE = 16,
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static uint64_t align4(uint64_t x)
{
    return (x + 3) & ~(uint64_t)3;
}

static bool is_token(uint32_t t)
{
    return t == TOK_BEGIN_NODE || t == TOK_END_NODE || t == TOK_PROP || t == TOK_NOP ||
           t == TOK_END;
}

const char *fdt_strerror(enum fdt_err err)
{
    switch (err) {
    case FDT_OK:
        return "ok";
    case FDT_ERR_TRUNCATED:
        return "truncated";
    case FDT_ERR_BAD_MAGIC:
        return "bad magic";
    case FDT_ERR_BAD_VERSION:
        return "unsupported version";
    case FDT_ERR_BAD_HEADER:
        return "block offsets or sizes out of range or overlapping";
    case FDT_ERR_BAD_ALIGN:
        return "misaligned block or token";
    case FDT_ERR_BAD_TOKEN:
        return "unknown token";
    case FDT_ERR_BAD_STRING:
        return "unterminated or out-of-range name";
    case FDT_ERR_TOO_DEEP:
        return "nodes nested too deeply";
    case FDT_ERR_BAD_STRUCTURE:
        return "malformed node structure";
    case FDT_ERR_NOT_FOUND:
        return "not found";
    case FDT_ERR_BAD_VALUE:
        return "property value has the wrong size";
    case FDT_ERR_COUNT:
        break;
    }
    return "unknown error";
}

/* ---------------------------------------------------------------------- */
/* Validation                                                             */

struct span {
    uint64_t start, end;
};

static bool overlap(struct span a, struct span b)
{
    return a.start < a.end && b.start < b.end && a.start < b.end && b.start < a.end;
}

/* Header, rsvmap, struct and strings blocks must not share a byte. */
static enum fdt_err check_layout(const struct fdt *f, uint32_t hdr_size)
{
    uint64_t rsv = (uint64_t)(f->rsvmap - f->blob);
    uint64_t st = (uint64_t)(f->dt_struct - f->blob);
    uint64_t str = (uint64_t)(f->dt_strings - f->blob);
    struct span s[4] = {
        {0, hdr_size},
        {rsv, rsv + (uint64_t)(f->rsv_count + 1) * RSV_ENTRY_SIZE},
        {st, st + f->struct_size},
        {str, str + f->strings_size},
    };
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            if (overlap(s[i], s[j]))
                return FDT_ERR_BAD_HEADER;
    return FDT_OK;
}

static bool prop_name_ok(const struct fdt *f, uint32_t nameoff)
{
    return nameoff < f->strings_size &&
           memchr(f->dt_strings + nameoff, 0, f->strings_size - nameoff) != NULL;
}

/* One pass over the structure block, which may extend up to `limit` bytes
 * (v16 headers do not give its size). On success *end is the offset just past
 * FDT_END and f->root is set. */
static enum fdt_err walk_struct(struct fdt *f, uint32_t limit, uint32_t *end)
{
    const uint8_t *s = f->dt_struct;
    uint32_t pos = 0;
    uint32_t payload_end = 0; /* unpadded end of the previous token */
    unsigned depth = 0;
    bool root_seen = false;
    /* bit d: the open node at depth d already has a child, so no more props */
    uint64_t has_child = 0;

    for (;;) {
        if (limit - pos < 4)
            return pos == limit ? FDT_ERR_BAD_STRUCTURE : FDT_ERR_TRUNCATED;
        uint32_t tok = be32(s + pos);
        uint64_t next;
        switch (tok) {
        case TOK_BEGIN_NODE: {
            if (depth == 0 && root_seen)
                return FDT_ERR_BAD_STRUCTURE; /* a second root */
            if (depth == FDT_MAX_DEPTH)
                return FDT_ERR_TOO_DEEP;
            const uint8_t *name = s + pos + 4;
            const uint8_t *nul = memchr(name, 0, limit - pos - 4);
            if (!nul)
                return FDT_ERR_BAD_STRING;
            payload_end = (uint32_t)(nul + 1 - s);
            next = align4(payload_end);
            if (next > limit)
                return FDT_ERR_TRUNCATED;
            if (depth == 0) {
                root_seen = true;
                f->root = (int)pos;
            } else {
                has_child |= (uint64_t)1 << (depth - 1);
            }
            has_child &= ~((uint64_t)1 << depth);
            depth++;
            break;
        }
        case TOK_END_NODE:
            if (depth == 0)
                return FDT_ERR_BAD_STRUCTURE;
            depth--;
            next = payload_end = pos + 4;
            break;
        case TOK_PROP: {
            if (depth == 0 || (has_child & ((uint64_t)1 << (depth - 1))))
                return FDT_ERR_BAD_STRUCTURE;
            if (limit - pos < 12)
                return FDT_ERR_TRUNCATED;
            uint32_t len = be32(s + pos + 4);
            uint32_t nameoff = be32(s + pos + 8);
            uint64_t vend = (uint64_t)pos + 12 + len;
            next = align4(vend);
            if (next > limit)
                return FDT_ERR_TRUNCATED;
            if (!prop_name_ok(f, nameoff))
                return FDT_ERR_BAD_STRING;
            payload_end = (uint32_t)vend;
            break;
        }
        case TOK_NOP:
            next = payload_end = pos + 4;
            break;
        case TOK_END:
            if (!root_seen || depth != 0)
                return FDT_ERR_BAD_STRUCTURE;
            *end = pos + 4;
            return FDT_OK;
        default:
            /* A writer that forgot the padding leaves the real token at the
             * unpadded end of the previous one: say so rather than "bad token". */
            if (payload_end != pos && limit - payload_end >= 4 && is_token(be32(s + payload_end)))
                return FDT_ERR_BAD_ALIGN;
            return FDT_ERR_BAD_TOKEN;
        }
        pos = (uint32_t)next;
    }
}

enum fdt_err fdt_open(struct fdt *fdt, const void *blob, size_t avail)
{
    memset(fdt, 0, sizeof *fdt);
    fdt->root = -1;
    const uint8_t *b = blob;
    if (!b || avail < 4)
        return FDT_ERR_TRUNCATED;
    if (be32(b) != FDT_HEADER_MAGIC)
        return FDT_ERR_BAD_MAGIC;
    if (avail < HDR_SIZE_V16)
        return FDT_ERR_TRUNCATED;

    uint32_t total = be32(b + 4);
    uint32_t off_struct = be32(b + 8);
    uint32_t off_strings = be32(b + 12);
    uint32_t off_rsv = be32(b + 16);
    uint32_t version = be32(b + 20);
    uint32_t last_comp = be32(b + 24);
    uint32_t boot_cpuid = be32(b + 28);
    uint32_t size_strings = be32(b + 32);

    if (version < 16 || last_comp > 17 || last_comp > version)
        return FDT_ERR_BAD_VERSION;
    uint32_t hdr_size = version >= 17 ? HDR_SIZE_V17 : HDR_SIZE_V16;
    if (total > avail)
        return FDT_ERR_TRUNCATED;
    if (total < hdr_size || total > INT32_MAX)
        return FDT_ERR_BAD_HEADER;

    /* v16: the struct block runs at most to the end of the blob; its real
     * size is learnt from the walk. */
    bool have_size = version >= 17;
    uint32_t size_struct =
        have_size ? be32(b + 36) : total - (off_struct < total ? off_struct : total);

    if (off_rsv < hdr_size || (uint64_t)off_rsv + RSV_ENTRY_SIZE > total || off_struct < hdr_size ||
        (uint64_t)off_struct + size_struct > total || off_strings < hdr_size ||
        (uint64_t)off_strings + size_strings > total)
        return FDT_ERR_BAD_HEADER;
    if (off_rsv % 8 != 0 || off_struct % 4 != 0 || (have_size && size_struct % 4 != 0))
        return FDT_ERR_BAD_ALIGN;

    uint32_t nrsv = 0;
    for (uint32_t o = off_rsv;; o += RSV_ENTRY_SIZE, nrsv++) {
        if (total - o < RSV_ENTRY_SIZE)
            return FDT_ERR_BAD_HEADER; /* no 0,0 terminator inside the blob */
        if (be64(b + o) == 0 && be64(b + o + 8) == 0)
            break;
    }

    struct fdt f = {
        .blob = b,
        .dt_struct = b + off_struct,
        .dt_strings = b + off_strings,
        .rsvmap = b + off_rsv,
        .total_size = total,
        .version = version,
        .boot_cpuid = boot_cpuid,
        .struct_size = size_struct,
        .strings_size = size_strings,
        .rsv_count = nrsv,
        .root = -1,
    };
    enum fdt_err err;
    if (have_size && (err = check_layout(&f, hdr_size)) != FDT_OK)
        return err;
    uint32_t end;
    if ((err = walk_struct(&f, size_struct, &end)) != FDT_OK)
        return err;
    if (have_size) {
        if (end != size_struct)
            return FDT_ERR_BAD_STRUCTURE; /* data after FDT_END */
    } else {
        f.struct_size = end;
        if ((err = check_layout(&f, hdr_size)) != FDT_OK)
            return err;
    }
    *fdt = f;
    return FDT_OK;
}

uint32_t fdt_total_size(const struct fdt *fdt)
{
    return fdt->total_size;
}

uint32_t fdt_boot_cpuid(const struct fdt *fdt)
{
    return fdt->boot_cpuid;
}

/* ---------------------------------------------------------------------- */
/* Token stepping. Bounded even for offsets fdt_open() never produced:     */
/* anything outside the block reads as FDT_END.                            */

static uint32_t tok_at(const struct fdt *f, int off)
{
    if (off < 0 || (off & 3) || (uint64_t)off + 4 > f->struct_size)
        return TOK_END;
    return be32(f->dt_struct + off);
}

/* Offset of the token after the one at `off` (of type `tok`). */
static int tok_next(const struct fdt *f, int off, uint32_t tok)
{
    uint64_t next;
    uint32_t room = f->struct_size - (uint32_t)off - 4;
    switch (tok) {
    case TOK_BEGIN_NODE:
        next = align4((uint64_t)off + 4 + strnlen((const char *)f->dt_struct + off + 4, room) + 1);
        break;
    case TOK_PROP:
        next =
            room < 8 ? f->struct_size : align4((uint64_t)off + 12 + be32(f->dt_struct + off + 4));
        break;
    default:
        next = (uint64_t)off + 4;
        break;
    }
    return next > f->struct_size ? (int)f->struct_size : (int)next;
}

/* First token at or after `off` that is not a NOP. */
static int skip_nops(const struct fdt *f, int off, uint32_t *tok)
{
    while ((*tok = tok_at(f, off)) == TOK_NOP)
        off += 4;
    return off;
}

/* The token after a node's BEGIN_NODE, or -1 if `node` is not a node. */
static int node_body(const struct fdt *f, int node)
{
    if (tok_at(f, node) != TOK_BEGIN_NODE)
        return -1;
    return tok_next(f, node, TOK_BEGIN_NODE);
}

int fdt_root(const struct fdt *fdt)
{
    return fdt->root;
}

int fdt_first_child(const struct fdt *fdt, int node)
{
    int off = node_body(fdt, node);
    if (off < 0)
        return -1;
    for (;;) {
        uint32_t t = tok_at(fdt, off);
        if (t == TOK_BEGIN_NODE)
            return off;
        if (t != TOK_PROP && t != TOK_NOP)
            return -1;
        off = tok_next(fdt, off, t);
    }
}

int fdt_next_sibling(const struct fdt *fdt, int node)
{
    if (tok_at(fdt, node) != TOK_BEGIN_NODE)
        return -1;
    int off = node;
    unsigned depth = 0;
    for (;;) {
        uint32_t t = tok_at(fdt, off);
        if (t == TOK_END)
            return -1;
        int next = tok_next(fdt, off, t);
        if (t == TOK_BEGIN_NODE) {
            depth++;
        } else if (t == TOK_END_NODE && --depth == 0) {
            off = next;
            break;
        }
        off = next;
    }
    uint32_t t;
    off = skip_nops(fdt, off, &t);
    return t == TOK_BEGIN_NODE ? off : -1;
}

int fdt_next_node(const struct fdt *fdt, int node, int *depth)
{
    int off = 0;
    if (node >= 0 && (off = node_body(fdt, node)) < 0)
        return -1;
    for (;;) {
        uint32_t t = tok_at(fdt, off);
        if (t == TOK_BEGIN_NODE) {
            if (depth)
                ++*depth;
            return off;
        }
        if (t == TOK_END)
            return -1;
        if (t == TOK_END_NODE && depth)
            --*depth;
        off = tok_next(fdt, off, t);
    }
}

/* Fills stack[0..n-1] with the root ... node chain; returns n, 0 if `node`
 * is not a node. */
static unsigned node_chain(const struct fdt *f, int node, int stack[FDT_MAX_DEPTH])
{
    unsigned depth = 0;
    int off = 0;
    for (;;) {
        uint32_t t = tok_at(f, off);
        if (t == TOK_END)
            return 0;
        if (t == TOK_BEGIN_NODE) {
            if (depth == FDT_MAX_DEPTH)
                return 0; /* cannot happen after fdt_open() */
            stack[depth++] = off;
            if (off == node)
                return depth;
        } else if (t == TOK_END_NODE) {
            if (depth == 0)
                return 0;
            depth--;
        }
        off = tok_next(f, off, t);
    }
}

int fdt_parent(const struct fdt *fdt, int node)
{
    int stack[FDT_MAX_DEPTH];
    unsigned n = node_chain(fdt, node, stack);
    return n >= 2 ? stack[n - 2] : -1;
}

const char *fdt_node_name(const struct fdt *fdt, int node)
{
    if (tok_at(fdt, node) != TOK_BEGIN_NODE)
        return NULL;
    const char *name = (const char *)fdt->dt_struct + node + 4;
    size_t room = fdt->struct_size - (uint32_t)node - 4;
    return strnlen(name, room) < room ? name : NULL;
}

/* ---------------------------------------------------------------------- */
/* Properties                                                             */

int fdt_first_prop(const struct fdt *fdt, int node)
{
    int off = node_body(fdt, node);
    if (off < 0)
        return -1;
    uint32_t t;
    off = skip_nops(fdt, off, &t);
    return t == TOK_PROP ? off : -1;
}

int fdt_next_prop(const struct fdt *fdt, int prop)
{
    if (tok_at(fdt, prop) != TOK_PROP)
        return -1;
    uint32_t t;
    int off = skip_nops(fdt, tok_next(fdt, prop, TOK_PROP), &t);
    return t == TOK_PROP ? off : -1;
}

const void *fdt_prop_at(const struct fdt *fdt, int prop, const char **name, uint32_t *len)
{
    if (tok_at(fdt, prop) != TOK_PROP || fdt->struct_size - (uint32_t)prop < 12)
        return NULL;
    const uint8_t *p = fdt->dt_struct + prop;
    uint32_t vlen = be32(p + 4);
    uint32_t nameoff = be32(p + 8);
    if ((uint64_t)prop + 12 + vlen > fdt->struct_size || !prop_name_ok(fdt, nameoff))
        return NULL;
    if (name)
        *name = (const char *)fdt->dt_strings + nameoff;
    if (len)
        *len = vlen;
    return p + 12;
}

static const void *prop_n(const struct fdt *f, int node, const char *name, size_t namelen,
                          uint32_t *len)
{
    for (int p = fdt_first_prop(f, node); p >= 0; p = fdt_next_prop(f, p)) {
        const char *pname;
        const void *v = fdt_prop_at(f, p, &pname, len);
        if (v && strnlen(pname, namelen + 1) == namelen && memcmp(pname, name, namelen) == 0)
            return v;
    }
    return NULL;
}

const void *fdt_prop(const struct fdt *fdt, int node, const char *name, uint32_t *len)
{
    uint32_t l;
    return prop_n(fdt, node, name, strlen(name), len ? len : &l);
}

enum fdt_err fdt_prop_u32(const struct fdt *fdt, int node, const char *name, uint32_t *out)
{
    uint32_t len;
    const void *v = fdt_prop(fdt, node, name, &len);
    if (!v)
        return FDT_ERR_NOT_FOUND;
    if (len != 4)
        return FDT_ERR_BAD_VALUE;
    *out = (uint32_t)fdt_read_cells(v, 1);
    return FDT_OK;
}

enum fdt_err fdt_prop_u64(const struct fdt *fdt, int node, const char *name, uint64_t *out)
{
    uint32_t len;
    const void *v = fdt_prop(fdt, node, name, &len);
    if (!v)
        return FDT_ERR_NOT_FOUND;
    if (len != 4 && len != 8)
        return FDT_ERR_BAD_VALUE;
    *out = fdt_read_cells(v, len / 4);
    return FDT_OK;
}

enum fdt_err fdt_prop_string(const struct fdt *fdt, int node, const char *name, const char **out)
{
    uint32_t len;
    const void *v = fdt_prop(fdt, node, name, &len);
    if (!v)
        return FDT_ERR_NOT_FOUND;
    if (!memchr(v, 0, len))
        return FDT_ERR_BAD_VALUE;
    *out = v;
    return FDT_OK;
}

/* A stringlist property: NUL-terminated strings back to back. */
struct strlist {
    const char *p;
    uint32_t len;
};

static bool strlist_open(const struct fdt *f, int node, const char *name, struct strlist *sl)
{
    sl->p = fdt_prop(f, node, name, &sl->len);
    return sl->p != NULL;
}

/* The string at *pos (advancing it), or NULL at the end / at an
 * unterminated tail. */
static const char *strlist_next(const struct strlist *sl, uint32_t *pos)
{
    if (*pos >= sl->len)
        return NULL;
    const char *s = sl->p + *pos;
    const char *nul = memchr(s, 0, sl->len - *pos);
    if (!nul)
        return NULL;
    *pos = (uint32_t)(nul + 1 - sl->p);
    return s;
}

int fdt_strlist_count(const struct fdt *fdt, int node, const char *name)
{
    struct strlist sl;
    if (!strlist_open(fdt, node, name, &sl))
        return -1;
    int n = 0;
    for (uint32_t pos = 0; strlist_next(&sl, &pos);)
        n++;
    return n;
}

int fdt_strlist_find(const struct fdt *fdt, int node, const char *name, const char *str)
{
    struct strlist sl;
    if (!strlist_open(fdt, node, name, &sl))
        return -1;
    const char *s;
    int i = 0;
    for (uint32_t pos = 0; (s = strlist_next(&sl, &pos)) != NULL; i++)
        if (strcmp(s, str) == 0)
            return i;
    return -1;
}

enum fdt_err fdt_strlist_get(const struct fdt *fdt, int node, const char *name, unsigned index,
                             const char **out)
{
    struct strlist sl;
    if (!strlist_open(fdt, node, name, &sl))
        return FDT_ERR_NOT_FOUND;
    uint32_t pos = 0;
    for (unsigned i = 0;; i++) {
        if (pos >= sl.len)
            return FDT_ERR_NOT_FOUND;
        const char *s = strlist_next(&sl, &pos);
        if (!s)
            return FDT_ERR_BAD_VALUE;
        if (i == index) {
            *out = s;
            return FDT_OK;
        }
    }
}

bool fdt_node_is_compatible(const struct fdt *fdt, int node, const char *compat)
{
    return fdt_strlist_find(fdt, node, "compatible", compat) >= 0;
}

bool fdt_node_is_enabled(const struct fdt *fdt, int node)
{
    const char *status;
    switch (fdt_prop_string(fdt, node, "status", &status)) {
    case FDT_ERR_NOT_FOUND:
        return true;
    case FDT_OK:
        return strcmp(status, "okay") == 0 || strcmp(status, "ok") == 0;
    default:
        return false; /* a garbled status is not a promise the device works */
    }
}

uint64_t fdt_read_cells(const void *p, unsigned ncells)
{
    switch (ncells) {
    case 1:
        return be32(p);
    case 2:
        return be64(p);
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------------- */
/* Paths and phandles                                                     */

uint32_t fdt_node_phandle(const struct fdt *fdt, int node)
{
    uint32_t ph;
    if (fdt_prop_u32(fdt, node, "phandle", &ph) == FDT_OK ||
        fdt_prop_u32(fdt, node, "linux,phandle", &ph) == FDT_OK)
        return ph;
    return 0;
}

int fdt_node_by_phandle(const struct fdt *fdt, uint32_t phandle)
{
    if (phandle == 0 || phandle == UINT32_MAX)
        return -1;
    for (int n = fdt_next_node(fdt, -1, NULL); n >= 0; n = fdt_next_node(fdt, n, NULL))
        if (fdt_node_phandle(fdt, n) == phandle)
            return n;
    return -1;
}

/* Child of `node` named by comp[0..n): the full name, or, when comp has no
 * '@', the name without its unit address. */
static int child_named(const struct fdt *f, int node, const char *comp, size_t n)
{
    bool unit_given = memchr(comp, '@', n) != NULL;
    for (int c = fdt_first_child(f, node); c >= 0; c = fdt_next_sibling(f, c)) {
        const char *name = fdt_node_name(f, c);
        if (!name || strnlen(name, n) != n || memcmp(name, comp, n) != 0)
            continue;
        if (name[n] == '\0' || (!unit_given && name[n] == '@'))
            return c;
    }
    return -1;
}

static int path_lookup(const struct fdt *f, const char *path, size_t len, bool allow_alias)
{
    const char *p = path, *end = path + len;
    int node = f->root;
    if (len == 0 || node < 0)
        return -1;
    if (*p != '/') {
        if (!allow_alias)
            return -1;
        const char *slash = memchr(p, '/', len);
        const char *alias_end = slash ? slash : end;
        int aliases = path_lookup(f, "/aliases", 8, false);
        uint32_t vlen;
        const char *target = aliases < 0 ? NULL : prop_n(f, aliases, p, alias_end - p, &vlen);
        if (!target || !memchr(target, 0, vlen))
            return -1;
        /* An alias names an absolute path; no alias chains. */
        node = path_lookup(f, target, strlen(target), false);
        if (node < 0)
            return -1;
        p = alias_end;
    }
    while (p < end) {
        if (*p == '/') {
            p++;
            continue;
        }
        const char *slash = memchr(p, '/', end - p);
        const char *comp_end = slash ? slash : end;
        node = child_named(f, node, p, comp_end - p);
        if (node < 0)
            return -1;
        p = comp_end;
    }
    return node;
}

int fdt_path_offset_n(const struct fdt *fdt, const char *path, size_t len)
{
    return path_lookup(fdt, path, len, true);
}

int fdt_path_offset(const struct fdt *fdt, const char *path)
{
    return path_lookup(fdt, path, strlen(path), true);
}

/* ---------------------------------------------------------------------- */
/* Addresses                                                              */

static uint32_t cells_prop(const struct fdt *f, int node, const char *name, uint32_t dflt)
{
    uint32_t v;
    switch (fdt_prop_u32(f, node, name, &v)) {
    case FDT_OK:
        return v;
    case FDT_ERR_NOT_FOUND:
        return dflt;
    default:
        return FDT_CELLS_INVALID;
    }
}

uint32_t fdt_address_cells(const struct fdt *fdt, int node)
{
    return cells_prop(fdt, node, "#address-cells", 2);
}

uint32_t fdt_size_cells(const struct fdt *fdt, int node)
{
    return cells_prop(fdt, node, "#size-cells", 1);
}

/* The reg property of `node` laid out by `parent`'s cell counts. */
struct reg_layout {
    const uint8_t *p;
    uint32_t ac, sc, count;
};

static enum fdt_err reg_layout(const struct fdt *f, int node, int parent, struct reg_layout *r)
{
    uint32_t len;
    r->p = fdt_prop(f, node, "reg", &len);
    if (!r->p) {
        r->count = 0;
        return FDT_OK;
    }
    if (parent < 0)
        return FDT_ERR_NOT_FOUND; /* reg on the root: no bus to decode it */
    r->ac = fdt_address_cells(f, parent);
    r->sc = fdt_size_cells(f, parent);
    if (r->ac < 1 || r->ac > 2 || r->sc > 2)
        return FDT_ERR_BAD_VALUE;
    uint32_t entry = (r->ac + r->sc) * 4;
    if (len % entry != 0)
        return FDT_ERR_BAD_VALUE;
    r->count = len / entry;
    return FDT_OK;
}

static enum fdt_err reg_entry(const struct reg_layout *r, unsigned index, uint64_t *addr,
                              uint64_t *size)
{
    if (index >= r->count)
        return FDT_ERR_NOT_FOUND;
    const uint8_t *e = r->p + (size_t)index * (r->ac + r->sc) * 4;
    *addr = fdt_read_cells(e, r->ac);
    *size = fdt_read_cells(e + r->ac * 4, r->sc);
    return FDT_OK;
}

enum fdt_err fdt_reg_count(const struct fdt *fdt, int node, unsigned *count)
{
    struct reg_layout r;
    enum fdt_err err = reg_layout(fdt, node, fdt_parent(fdt, node), &r);
    if (err == FDT_OK)
        *count = r.count;
    return err;
}

enum fdt_err fdt_reg_raw(const struct fdt *fdt, int node, unsigned index, uint64_t *addr,
                         uint64_t *size)
{
    struct reg_layout r;
    enum fdt_err err = reg_layout(fdt, node, fdt_parent(fdt, node), &r);
    return err != FDT_OK ? err : reg_entry(&r, index, addr, size);
}

/* Maps [*addr, *addr + size) from the address space of `bus`'s children to
 * that of `bus`'s parent through bus's `ranges`. */
static enum fdt_err translate_one(const struct fdt *f, int bus, int bus_parent, uint64_t *addr,
                                  uint64_t size)
{
    uint32_t len;
    const uint8_t *rg = fdt_prop(f, bus, "ranges", &len);
    if (!rg)
        return FDT_ERR_NOT_FOUND;
    if (len == 0)
        return FDT_OK;
    uint32_t cac = fdt_address_cells(f, bus);
    uint32_t csc = fdt_size_cells(f, bus);
    uint32_t pac = fdt_address_cells(f, bus_parent);
    if (cac < 1 || cac > 2 || csc < 1 || csc > 2 || pac < 1 || pac > 2)
        return FDT_ERR_BAD_VALUE;
    uint32_t entry = (cac + pac + csc) * 4;
    if (len % entry != 0)
        return FDT_ERR_BAD_VALUE;
    for (uint32_t o = 0; o < len; o += entry) {
        uint64_t child = fdt_read_cells(rg + o, cac);
        uint64_t parent = fdt_read_cells(rg + o + cac * 4, pac);
        uint64_t rsize = fdt_read_cells(rg + o + (cac + pac) * 4, csc);
        if (*addr < child)
            continue;
        uint64_t delta = *addr - child;
        if (delta >= rsize || size > rsize - delta)
            continue;
        if (delta > UINT64_MAX - parent)
            return FDT_ERR_BAD_VALUE;
        *addr = parent + delta;
        return FDT_OK;
    }
    return FDT_ERR_NOT_FOUND;
}

enum fdt_err fdt_reg(const struct fdt *fdt, int node, unsigned index, uint64_t *addr,
                     uint64_t *size)
{
    int chain[FDT_MAX_DEPTH];
    unsigned n = node_chain(fdt, node, chain);
    if (n == 0)
        return FDT_ERR_NOT_FOUND;
    struct reg_layout r;
    enum fdt_err err = reg_layout(fdt, node, n >= 2 ? chain[n - 2] : -1, &r);
    if (err != FDT_OK)
        return err;
    uint64_t a, s;
    if ((err = reg_entry(&r, index, &a, &s)) != FDT_OK)
        return err;
    /* chain[0] is the root, whose children's addresses are CPU addresses. */
    for (unsigned i = n - 2; i > 0; i--)
        if ((err = translate_one(fdt, chain[i], chain[i - 1], &a, s)) != FDT_OK)
            return err;
    *addr = a;
    *size = s;
    return FDT_OK;
}

/* ---------------------------------------------------------------------- */
/* Memory reservation block                                               */

unsigned fdt_rsv_count(const struct fdt *fdt)
{
    return fdt->rsv_count;
}

enum fdt_err fdt_rsv_get(const struct fdt *fdt, unsigned index, uint64_t *addr, uint64_t *size)
{
    if (index >= fdt->rsv_count)
        return FDT_ERR_NOT_FOUND;
    const uint8_t *e = fdt->rsvmap + (size_t)index * RSV_ENTRY_SIZE;
    *addr = be64(e);
    *size = be64(e + 8);
    return FDT_OK;
}
