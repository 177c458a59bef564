/* Thin libfdt wrappers; see fdt_oracle.h for why they live apart. */
#include "fdt_oracle.h"

#include <libfdt.h>

int oracle_check_full(const void *blob, size_t size)
{
    return fdt_check_full(blob, size);
}
unsigned oracle_total_size(const void *blob)
{
    return fdt_totalsize(blob);
}
int oracle_num_rsv(const void *blob)
{
    return fdt_num_mem_rsv(blob);
}

int oracle_get_rsv(const void *blob, int i, uint64_t *addr, uint64_t *size)
{
    return fdt_get_mem_rsv(blob, i, addr, size);
}

int oracle_next_node(const void *blob, int node, int *depth)
{
    return fdt_next_node(blob, node, depth);
}

int oracle_first_subnode(const void *blob, int node)
{
    return fdt_first_subnode(blob, node);
}
int oracle_next_subnode(const void *blob, int node)
{
    return fdt_next_subnode(blob, node);
}
int oracle_parent(const void *blob, int node)
{
    return fdt_parent_offset(blob, node);
}
const char *oracle_node_name(const void *blob, int node)
{
    return fdt_get_name(blob, node, NULL);
}

int oracle_get_path(const void *blob, int node, char *buf, int len)
{
    return fdt_get_path(blob, node, buf, len);
}

int oracle_path_offset(const void *blob, const char *path)
{
    return fdt_path_offset(blob, path);
}
uint32_t oracle_phandle(const void *blob, int node)
{
    return fdt_get_phandle(blob, node);
}

int oracle_node_by_phandle(const void *blob, uint32_t phandle)
{
    return fdt_node_offset_by_phandle(blob, phandle);
}

int oracle_first_prop(const void *blob, int node)
{
    return fdt_first_property_offset(blob, node);
}
int oracle_next_prop(const void *blob, int prop)
{
    return fdt_next_property_offset(blob, prop);
}

const void *oracle_prop_at(const void *blob, int prop, const char **name, int *len)
{
    return fdt_getprop_by_offset(blob, prop, name, len);
}

const void *oracle_getprop(const void *blob, int node, const char *name, int *len)
{
    return fdt_getprop(blob, node, name, len);
}

int oracle_stringlist_count(const void *blob, int node, const char *name)
{
    return fdt_stringlist_count(blob, node, name);
}

const char *oracle_stringlist_get(const void *blob, int node, const char *name, int index)
{
    return fdt_stringlist_get(blob, node, name, index, NULL);
}

int oracle_is_compatible(const void *blob, int node, const char *compat)
{
    return fdt_node_check_compatible(blob, node, compat) == 0;
}

int oracle_address_cells(const void *blob, int node)
{
    return fdt_address_cells(blob, node);
}
int oracle_size_cells(const void *blob, int node)
{
    return fdt_size_cells(blob, node);
}

int oracle_open_into(const void *blob, void *buf, int bufsize)
{
    return fdt_open_into(blob, buf, bufsize);
}

static int node_at(const void *blob, const char *path)
{
    return fdt_path_offset(blob, path);
}

int oracle_setprop(void *blob, const char *path, const char *name, const void *val, int len)
{
    int n = node_at(blob, path);
    return n < 0 ? n : fdt_setprop(blob, n, name, val, len);
}

int oracle_setprop_u32(void *blob, const char *path, const char *name, uint32_t val)
{
    int n = node_at(blob, path);
    return n < 0 ? n : fdt_setprop_u32(blob, n, name, val);
}

int oracle_setprop_string(void *blob, const char *path, const char *name, const char *val)
{
    int n = node_at(blob, path);
    return n < 0 ? n : fdt_setprop_string(blob, n, name, val);
}

int oracle_delprop(void *blob, const char *path, const char *name)
{
    int n = node_at(blob, path);
    return n < 0 ? n : fdt_delprop(blob, n, name);
}

int oracle_add_node(void *blob, const char *parent_path, const char *name)
{
    int n = node_at(blob, parent_path);
    return n < 0 ? n : fdt_add_subnode(blob, n, name);
}

int oracle_del_node(void *blob, const char *path)
{
    int n = node_at(blob, path);
    return n < 0 ? n : fdt_del_node(blob, n);
}

int oracle_pack(void *blob)
{
    return fdt_pack(blob);
}
