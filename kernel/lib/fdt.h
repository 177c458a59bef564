/* Read-only flattened devicetree (DTB) parser.
 *
 * Contract: fdt_open() validates the header and walks the whole structure
 * block once. Only after it returns FDT_OK may the other functions be used;
 * they then trust the layout and stay cheap (no allocation, no recursion,
 * O(size of the struct block) at worst). Even handed a bogus node offset they
 * never read outside the blob: they return -1 / NULL / an error instead.
 *
 * Node and property handles are byte offsets into the structure block (the
 * same numbers libfdt uses); a negative value means "none". The blob may sit
 * at any alignment: every multi-byte field is decoded byte by byte, and
 * property values are handed out as unaligned `const void *`.
 */
#ifndef NEWSYS_KERNEL_LIB_FDT_H
#define NEWSYS_KERNEL_LIB_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The host tests link libfdt as an oracle, and libfdt exports a few of these
 * names with other signatures: keep our symbols apart there. */
#ifdef NEWSYS_HOST
#define fdt_strerror      newsys_fdt_strerror
#define fdt_next_node     newsys_fdt_next_node
#define fdt_path_offset   newsys_fdt_path_offset
#define fdt_address_cells newsys_fdt_address_cells
#define fdt_size_cells    newsys_fdt_size_cells
#endif

#define FDT_MAX_DEPTH 32 /* nodes open at once, the root counting as one */

/* fdt_address_cells()/fdt_size_cells() of a property with the wrong length:
 * larger than any count we decode, so it is rejected where it is used. */
#define FDT_CELLS_INVALID UINT32_MAX

enum fdt_err {
    FDT_OK = 0,
    FDT_ERR_TRUNCATED, /* blob shorter than its header says, or a token cut
                          by the end of the structure block */
    FDT_ERR_BAD_MAGIC,
    FDT_ERR_BAD_VERSION, /* needs version >= 16, last_comp_version <= 17 */
    FDT_ERR_BAD_HEADER,  /* offsets/sizes out of range or overlapping */
    FDT_ERR_BAD_ALIGN,   /* rsvmap not 8-aligned, struct block/size not
                            4-aligned, or a bad token where a valid one
                            starts at the unpadded end of the previous one */
    FDT_ERR_BAD_TOKEN,
    FDT_ERR_BAD_STRING, /* name/prop-name unterminated or out of the strings block */
    FDT_ERR_TOO_DEEP,
    FDT_ERR_BAD_STRUCTURE, /* unbalanced begin/end, data after END, missing
                              END, props after child nodes, two roots ... */
    FDT_ERR_NOT_FOUND,
    FDT_ERR_BAD_VALUE, /* property has the wrong length for what was asked,
                          or cell counts we cannot decode */
    FDT_ERR_COUNT
};

const char *fdt_strerror(enum fdt_err err);

/* Caller-allocated; filled by fdt_open(). Treat as opaque. */
struct fdt {
    const uint8_t *blob;
    const uint8_t *dt_struct;
    const uint8_t *dt_strings;
    const uint8_t *rsvmap;
    uint32_t total_size;
    uint32_t version;
    uint32_t boot_cpuid;
    uint32_t struct_size;
    uint32_t strings_size;
    uint32_t rsv_count;
    int root;
};

/* Validates `avail` bytes at `blob`. On failure *fdt is left empty (every
 * lookup on it finds nothing). */
enum fdt_err fdt_open(struct fdt *fdt, const void *blob, size_t avail);
uint32_t fdt_total_size(const struct fdt *fdt);
uint32_t fdt_boot_cpuid(const struct fdt *fdt);

/* --- Navigation ------------------------------------------------------- */

int fdt_root(const struct fdt *fdt);
int fdt_first_child(const struct fdt *fdt, int node);
int fdt_next_sibling(const struct fdt *fdt, int node);
int fdt_parent(const struct fdt *fdt, int node); /* O(n) */
/* Next node in document order, -1 at the end. node < 0 starts before the
 * root. If depth is not NULL it is adjusted by the nesting change (+1 into a
 * child, -1 per node closed), so to walk the subtree of N start at N with
 * *depth = 0 and stop when it drops to <= 0. */
int fdt_next_node(const struct fdt *fdt, int node, int *depth);
/* Full name including "@unit"; "" for the root. */
const char *fdt_node_name(const struct fdt *fdt, int node);
/* "/soc/uart@10000000"; a component without '@' also matches a name with
 * one ("uart" finds "uart@..."), first in document order. A path not starting
 * with '/' begins with an alias from /aliases. */
int fdt_path_offset(const struct fdt *fdt, const char *path);
int fdt_path_offset_n(const struct fdt *fdt, const char *path, size_t len);
/* `phandle`, else `linux,phandle`; 0 if none (or malformed). */
uint32_t fdt_node_phandle(const struct fdt *fdt, int node);
int fdt_node_by_phandle(const struct fdt *fdt, uint32_t phandle); /* O(n) */

/* --- Properties --------------------------------------------------------- */

/* Iteration over one node's properties; handles are offsets like nodes. */
int fdt_first_prop(const struct fdt *fdt, int node);
int fdt_next_prop(const struct fdt *fdt, int prop);
const void *fdt_prop_at(const struct fdt *fdt, int prop, const char **name, uint32_t *len);

/* Value of the named property (NULL if absent); *len gets its length. */
const void *fdt_prop(const struct fdt *fdt, int node, const char *name, uint32_t *len);
/* NOT_FOUND if absent, BAD_VALUE if the length is not 4 (u64: 4 or 8), or
 * the string has no NUL within the value. Nothing is written on error. */
enum fdt_err fdt_prop_u32(const struct fdt *fdt, int node, const char *name, uint32_t *out);
enum fdt_err fdt_prop_u64(const struct fdt *fdt, int node, const char *name, uint64_t *out);
enum fdt_err fdt_prop_string(const struct fdt *fdt, int node, const char *name, const char **out);

/* Stringlists ("a\0b\0"); an unterminated tail is not a string. */
int fdt_strlist_count(const struct fdt *fdt, int node, const char *name); /* -1 if absent */
int fdt_strlist_find(const struct fdt *fdt, int node, const char *name, const char *str);
enum fdt_err fdt_strlist_get(const struct fdt *fdt, int node, const char *name, unsigned index,
                             const char **out);
bool fdt_node_is_compatible(const struct fdt *fdt, int node, const char *compat);
/* `status` absent, "okay" or "ok". */
bool fdt_node_is_enabled(const struct fdt *fdt, int node);

/* Big-endian value of 1 or 2 cells at p (any alignment); 0 for other counts. */
uint64_t fdt_read_cells(const void *p, unsigned ncells);

/* --- Addresses ---------------------------------------------------------- */

/* #address-cells / #size-cells of `node` (they describe its children's
 * reg): 2 and 1 when absent, FDT_CELLS_INVALID when malformed. */
uint32_t fdt_address_cells(const struct fdt *fdt, int node);
uint32_t fdt_size_cells(const struct fdt *fdt, int node);
/* Entries in `reg` (0 if absent). BAD_VALUE if the parent's cell counts
 * (address 1..2, size 0..2) or the length do not fit. */
enum fdt_err fdt_reg_count(const struct fdt *fdt, int node, unsigned *count);
/* Entry `index` of `reg` in the parent bus's address space, untranslated. */
enum fdt_err fdt_reg_raw(const struct fdt *fdt, int node, unsigned index, uint64_t *addr,
                         uint64_t *size);
/* Entry `index` of `reg` as a CPU physical address: translated through the
 * `ranges` of every ancestor bus (empty = identity). NOT_FOUND if a bus has
 * no `ranges` or no range holds the whole region; BAD_VALUE if cell counts
 * exceed 2 or the translation overflows 64 bits. */
enum fdt_err fdt_reg(const struct fdt *fdt, int node, unsigned index, uint64_t *addr,
                     uint64_t *size);

/* --- Memory reservation block ------------------------------------------ */

unsigned fdt_rsv_count(const struct fdt *fdt);
enum fdt_err fdt_rsv_get(const struct fdt *fdt, unsigned index, uint64_t *addr, uint64_t *size);

#endif
