/* Kernel command line (/chosen bootargs): space-separated words, each either
 * `key=value` or a bare `flag`. Portable and allocation-free. */
#ifndef NEWSYS_LIB_CMDLINE_H
#define NEWSYS_LIB_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

/* Copy the value of the last `key=value` into `out` (NUL-terminated,
 * truncated to `out_len - 1`). False if absent or if it did not fit. */
bool cmdline_get(const char *args, const char *key, char *out, size_t out_len);
/* True if the bare word `flag` (or `flag=...`) appears. */
bool cmdline_has(const char *args, const char *flag);

#endif
