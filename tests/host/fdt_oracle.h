/* libfdt behind plain C types, for the FDT tests: the oracle our parser is
 * compared with, and an editor for building variants of real blobs.
 * libfdt.h and kernel/lib/fdt.h cannot share a translation unit (they
 * declare some of the same names differently), so only fdt_oracle.c sees
 * libfdt. Negative returns are libfdt errors. */
#ifndef NEWSYS_TESTS_FDT_ORACLE_H
#define NEWSYS_TESTS_FDT_ORACLE_H

#include <stddef.h>
#include <stdint.h>

int oracle_check_full(const void *blob, size_t size);
unsigned oracle_total_size(const void *blob);
int oracle_num_rsv(const void *blob);
int oracle_get_rsv(const void *blob, int i, uint64_t *addr, uint64_t *size);

int oracle_next_node(const void *blob, int node, int *depth);
int oracle_first_subnode(const void *blob, int node);
int oracle_next_subnode(const void *blob, int node);
int oracle_parent(const void *blob, int node);
const char *oracle_node_name(const void *blob, int node);
int oracle_get_path(const void *blob, int node, char *buf, int len);
int oracle_path_offset(const void *blob, const char *path);
uint32_t oracle_phandle(const void *blob, int node);
int oracle_node_by_phandle(const void *blob, uint32_t phandle);

int oracle_first_prop(const void *blob, int node);
int oracle_next_prop(const void *blob, int prop);
const void *oracle_prop_at(const void *blob, int prop, const char **name, int *len);
const void *oracle_getprop(const void *blob, int node, const char *name, int *len);
int oracle_stringlist_count(const void *blob, int node, const char *name);
const char *oracle_stringlist_get(const void *blob, int node, const char *name, int index);
int oracle_is_compatible(const void *blob, int node, const char *compat); /* 1 / 0 */
int oracle_address_cells(const void *blob, int node);
int oracle_size_cells(const void *blob, int node);

/* Editing, on a blob copied into a buffer of `bufsize` bytes with room. */
int oracle_open_into(const void *blob, void *buf, int bufsize);
int oracle_setprop(void *blob, const char *path, const char *name, const void *val, int len);
int oracle_setprop_u32(void *blob, const char *path, const char *name, uint32_t val);
int oracle_setprop_string(void *blob, const char *path, const char *name, const char *val);
int oracle_delprop(void *blob, const char *path, const char *name);
int oracle_add_node(void *blob, const char *parent_path, const char *name); /* offset */
int oracle_del_node(void *blob, const char *path);
int oracle_pack(void *blob);

#endif
