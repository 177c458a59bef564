/* Byte-string routines for the freestanding kernel. Word loops when
 * everything is 8-byte aligned, eight words a step for the long runs that
 * clear or copy whole pages (fresh frames, page-cache nodes); byte loops
 * otherwise. User copies go through the fault-safe uaccess helpers. */
#include <stdint.h>
#include <string.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if ((((uintptr_t)d | (uintptr_t)s | n) & 7) == 0) {
        uint64_t *dw = (uint64_t *)(void *)d;
        const uint64_t *sw = (const uint64_t *)(const void *)s;
        size_t w = n / 8, i = 0;
        for (; i + 8 <= w; i += 8) {
            uint64_t a = sw[i], b = sw[i + 1], c = sw[i + 2], e = sw[i + 3];
            uint64_t f = sw[i + 4], g = sw[i + 5], h = sw[i + 6], k = sw[i + 7];
            dw[i] = a, dw[i + 1] = b, dw[i + 2] = c, dw[i + 3] = e;
            dw[i + 4] = f, dw[i + 5] = g, dw[i + 6] = h, dw[i + 7] = k;
        }
        for (; i < w; i++)
            dw[i] = sw[i];
        return dst;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || n == 0)
        return dst;
    if (d < s || d >= s + n)
        return memcpy(dst, src, n);
    while (n--)
        d[n] = s[n];
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    if ((((uintptr_t)d | n) & 7) == 0) {
        uint64_t v = (unsigned char)c * 0x0101010101010101ull;
        uint64_t *dw = (uint64_t *)(void *)d;
        size_t w = n / 8, i = 0;
        for (; i + 8 <= w; i += 8) {
            dw[i] = v, dw[i + 1] = v, dw[i + 2] = v, dw[i + 3] = v;
            dw[i + 4] = v, dw[i + 5] = v, dw[i + 6] = v, dw[i + 7] = v;
        }
        for (; i < w; i++)
            dw[i] = v;
        return dst;
    }
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n; i++)
        if (p[i] == (unsigned char)c)
            return (void *)(p + i);
    return NULL;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}

char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return NULL;
    }
}
