/* printf-style formatting for the kernel (kprintf) and anything else that
 * has a character sink but no C library.
 *
 * Supported: conversions d i u x X o c s p %, flags - 0 + space #, field
 * width and precision (decimal or *; a negative * width means '-', a negative
 * * precision means none), length modifiers hh h l ll z j t. Behaviour matches
 * C99 printf for these, with two deliberate differences:
 *   - %s with a NULL pointer prints "(null)" (cut by the precision like any
 *     string); %p prints 0x and lower-case hex for every value, 0x0 for NULL;
 *     the + and space flags do not apply to %p.
 *   - There is no floating point, no %n and no wide character: any other
 *     conversion (%f, %e, %g, %a, %n, %lc, %ls, a length modifier with %p
 *     ...) and a lone trailing '%' are copied to the output
 *     verbatim, flags and all, and consume no argument (a '*' inside one
 *     still consumes its int).
 * Widths and precisions above INT32_MAX saturate.
 */
#ifndef NEWSYS_KERNEL_LIB_FMT_H
#define NEWSYS_KERNEL_LIB_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Sends each produced character to put(c, ctx) in order. Returns the number
 * of characters produced, or -1 if that number does not fit in an int. */
int fmt_vformat(void (*put)(char c, void *ctx), void *ctx, const char *fmt, va_list ap);

/* Like C99 vsnprintf/snprintf: writes at most size - 1 characters and a NUL
 * to buf (buf may be NULL when size is 0), and returns the length the whole
 * output would have had. */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
