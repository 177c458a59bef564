/* See fdt_testlib.h. Aborts on misuse: these run only inside tests. */
#include "fdt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t fdt_test_get32(const uint8_t *b, size_t off)
{
    return (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 | (uint32_t)b[off + 2] << 8 |
           b[off + 3];
}

void fdt_test_put32(uint8_t *b, size_t off, uint32_t v)
{
    b[off] = (uint8_t)(v >> 24);
    b[off + 1] = (uint8_t)(v >> 16);
    b[off + 2] = (uint8_t)(v >> 8);
    b[off + 3] = (uint8_t)v;
}

uint32_t fdt_test_hdr(const uint8_t *blob, unsigned field)
{
    return fdt_test_get32(blob, field);
}
void fdt_test_set_hdr(uint8_t *blob, unsigned field, uint32_t v)
{
    fdt_test_put32(blob, field, v);
}

uint8_t *fdt_test_dup(const void *p, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        abort();
    memcpy(b, p, size);
    return b;
}

uint8_t *fdt_test_load(const char *name, size_t *size, int compact)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", NEWSYS_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    *size = (size_t)len;
    if (compact && *size >= 8 && fdt_test_hdr(b, HDR_TOTALSIZE) < *size) {
        *size = fdt_test_hdr(b, HDR_TOTALSIZE);
        uint8_t *c = fdt_test_dup(b, *size);
        free(b);
        b = c;
    }
    return b;
}

uint8_t *fdt_test_splice(uint8_t *blob, size_t *size, uint32_t at, const void *bytes, size_t n)
{
    uint32_t off_struct = fdt_test_hdr(blob, HDR_OFF_STRUCT);
    uint32_t size_struct = fdt_test_hdr(blob, HDR_SIZE_STRUCT);
    uint32_t off_strings = fdt_test_hdr(blob, HDR_OFF_STRINGS);
    if (at > size_struct || off_strings < off_struct + size_struct ||
        fdt_test_hdr(blob, HDR_OFF_RSVMAP) > off_struct)
        abort();
    size_t pos = off_struct + at;
    uint8_t *b = malloc(*size + n);
    if (!b)
        abort();
    memcpy(b, blob, pos);
    memcpy(b + pos, bytes, n);
    memcpy(b + pos + n, blob + pos, *size - pos);
    free(blob);
    *size += n;
    fdt_test_set_hdr(b, HDR_SIZE_STRUCT, size_struct + (uint32_t)n);
    fdt_test_set_hdr(b, HDR_OFF_STRINGS, off_strings + (uint32_t)n);
    fdt_test_set_hdr(b, HDR_TOTALSIZE, fdt_test_hdr(b, HDR_TOTALSIZE) + (uint32_t)n);
    return b;
}
