/* Helpers shared by the FDT and platform tests: loading the generated blobs
 * and editing raw bytes of a blob to make malformed variants. */
#ifndef NEWSYS_TESTS_FDT_TESTLIB_H
#define NEWSYS_TESTS_FDT_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

/* Header field offsets (Devicetree spec 5.2). */
enum {
    HDR_MAGIC = 0,
    HDR_TOTALSIZE = 4,
    HDR_OFF_STRUCT = 8,
    HDR_OFF_STRINGS = 12,
    HDR_OFF_RSVMAP = 16,
    HDR_VERSION = 20,
    HDR_LAST_COMP = 24,
    HDR_BOOT_CPUID = 28,
    HDR_SIZE_STRINGS = 32,
    HDR_SIZE_STRUCT = 36,
};

/* NEWSYS_TEST_DATA/<name> in a fresh malloc'd buffer of exactly its size
 * (so ASan flags any read past it); NULL if unreadable. If `compact`, only
 * the header's totalsize bytes are kept (QEMU dumps pad to 1 MiB). */
uint8_t *fdt_test_load(const char *name, size_t *size, int compact);
/* An exactly sized malloc'd copy. */
uint8_t *fdt_test_dup(const void *p, size_t size);

uint32_t fdt_test_get32(const uint8_t *blob, size_t off);
void fdt_test_put32(uint8_t *blob, size_t off, uint32_t v);
/* Field of the header / byte offset of the struct and strings blocks. */
uint32_t fdt_test_hdr(const uint8_t *blob, unsigned field);
void fdt_test_set_hdr(uint8_t *blob, unsigned field, uint32_t v);

/* Inserts n bytes at struct-block offset `at` of a blob laid out header,
 * rsvmap, struct, strings (as dtc and QEMU write them), fixing the header.
 * Frees `blob`; returns the new exactly sized blob and its size. */
uint8_t *fdt_test_splice(uint8_t *blob, size_t *size, uint32_t at, const void *bytes, size_t n);

#endif
