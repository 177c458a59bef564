/* Formatted output without a C library (see fmt.h for what is supported).
 *
 * Design: a single pass over the format string pushing characters into a
 * caller-supplied sink, so kprintf can write straight to the console with no
 * buffer and snprintf is a thin sink that counts past the end of its buffer.
 * Every integer conversion goes through one routine working on the magnitude
 * as uintmax_t plus a sign, which keeps INT64_MIN free of overflow and puts
 * all the flag/width/precision rules (C99 7.19.6.1) in one place. Arguments
 * are read through a va_copy so helpers can take the list by pointer, which
 * is not portable for a va_list parameter (an array type on x86-64).
 */
#include "kernel/lib/fmt.h"

#include <stdbool.h>
#include <stdint.h>

_Static_assert(sizeof(int) == sizeof(int32_t), "fmt assumes 32-bit int");
_Static_assert(sizeof(ptrdiff_t) == sizeof(size_t), "%zd reads a ptrdiff_t");

#define FMT_LIMIT INT32_MAX

enum fmt_flag {
    FL_LEFT = 1 << 0,  /* - */
    FL_ZERO = 1 << 1,  /* 0 */
    FL_PLUS = 1 << 2,  /* + */
    FL_SPACE = 1 << 3, /* space */
    FL_ALT = 1 << 4,   /* # */
};

enum fmt_len { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

struct fmt_spec {
    unsigned flags;
    int width;
    int prec; /* -1: none */
    enum fmt_len len;
};

struct fmt_out {
    void (*put)(char c, void *ctx);
    void *ctx;
    size_t count;
};

static void emit(struct fmt_out *o, char c)
{
    o->put(c, o->ctx);
    o->count++;
}

static void emit_rep(struct fmt_out *o, char c, long n)
{
    for (; n > 0; n--)
        emit(o, c);
}

static void emit_str(struct fmt_out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        emit(o, s[i]);
}

/* Parses decimal digits, saturating at FMT_LIMIT. */
static int parse_num(const char **p)
{
    int v = 0;
    while (**p >= '0' && **p <= '9') {
        int d = **p - '0';
        v = v > (FMT_LIMIT - d) / 10 ? FMT_LIMIT : v * 10 + d;
        (*p)++;
    }
    return v;
}

static void emit_padded(struct fmt_out *o, const struct fmt_spec *sp, const char *s, size_t n)
{
    long pad = (long)sp->width - (long)n;
    if (!(sp->flags & FL_LEFT))
        emit_rep(o, ' ', pad);
    emit_str(o, s, n);
    if (sp->flags & FL_LEFT)
        emit_rep(o, ' ', pad);
}

static void emit_int(struct fmt_out *o, const struct fmt_spec *sp, uintmax_t mag, bool neg,
                     char conv)
{
    unsigned base = 10;
    const char *digit_set = "0123456789abcdef";
    if (conv == 'x' || conv == 'p')
        base = 16;
    else if (conv == 'X') {
        base = 16;
        digit_set = "0123456789ABCDEF";
    } else if (conv == 'o')
        base = 8;

    char digits[3 * sizeof(uintmax_t) + 1]; /* octal needs 22 for 64 bits */
    int nd = 0;
    if (!(mag == 0 && sp->prec == 0)) {
        uintmax_t v = mag;
        do {
            digits[nd++] = digit_set[v % base];
            v /= base;
        } while (v != 0);
    }

    char prefix[2];
    int np = 0;
    if (conv == 'd' || conv == 'i') {
        if (neg)
            prefix[np++] = '-';
        else if (sp->flags & FL_PLUS)
            prefix[np++] = '+';
        else if (sp->flags & FL_SPACE)
            prefix[np++] = ' ';
    } else if (conv == 'p' || (base == 16 && (sp->flags & FL_ALT) && mag != 0)) {
        prefix[np++] = '0';
        prefix[np++] = conv == 'X' ? 'X' : 'x';
    }

    long zeros = sp->prec > nd ? (long)sp->prec - nd : 0;
    /* '#' with o forces a leading zero digit, unless one is already there. */
    if (conv == 'o' && (sp->flags & FL_ALT) && zeros == 0 && !(nd == 1 && mag == 0))
        zeros = 1;
    long body = np + zeros + nd;
    long pad = sp->width > body ? (long)sp->width - body : 0;
    /* The 0 flag pads with zeros after the sign or prefix; an explicit
     * precision or - turns it off. */
    if ((sp->flags & FL_ZERO) && !(sp->flags & FL_LEFT) && sp->prec < 0) {
        zeros += pad;
        pad = 0;
    }

    if (!(sp->flags & FL_LEFT))
        emit_rep(o, ' ', pad);
    emit_str(o, prefix, (size_t)np);
    emit_rep(o, '0', zeros);
    while (nd > 0)
        emit(o, digits[--nd]);
    if (sp->flags & FL_LEFT)
        emit_rep(o, ' ', pad);
}

static intmax_t fetch_signed(va_list *ap, enum fmt_len len)
{
    switch (len) {
    case LEN_HH:
        return (signed char)va_arg(*ap, int);
    case LEN_H:
        return (short)va_arg(*ap, int);
    case LEN_L:
        return va_arg(*ap, long);
    case LEN_LL:
        return va_arg(*ap, long long);
    case LEN_Z: /* the signed type matching size_t */
    case LEN_T:
        return va_arg(*ap, ptrdiff_t);
    case LEN_J:
        return va_arg(*ap, intmax_t);
    case LEN_NONE:
    default:
        return va_arg(*ap, int);
    }
}

static uintmax_t fetch_unsigned(va_list *ap, enum fmt_len len)
{
    switch (len) {
    case LEN_HH:
        return (unsigned char)va_arg(*ap, unsigned);
    case LEN_H:
        return (unsigned short)va_arg(*ap, unsigned);
    case LEN_L:
        return va_arg(*ap, unsigned long);
    case LEN_LL:
        return va_arg(*ap, unsigned long long);
    case LEN_Z:
        return va_arg(*ap, size_t);
    case LEN_T: /* the unsigned type matching ptrdiff_t */
        return (size_t)va_arg(*ap, ptrdiff_t);
    case LEN_J:
        return va_arg(*ap, uintmax_t);
    case LEN_NONE:
    default:
        return va_arg(*ap, unsigned);
    }
}

static const char *parse_length(const char *p, enum fmt_len *len)
{
    *len = LEN_NONE;
    switch (*p) {
    case 'h':
        if (p[1] == 'h') {
            *len = LEN_HH;
            return p + 2;
        }
        *len = LEN_H;
        return p + 1;
    case 'l':
        if (p[1] == 'l') {
            *len = LEN_LL;
            return p + 2;
        }
        *len = LEN_L;
        return p + 1;
    case 'z':
        *len = LEN_Z;
        return p + 1;
    case 'j':
        *len = LEN_J;
        return p + 1;
    case 't':
        *len = LEN_T;
        return p + 1;
    default:
        return p;
    }
}

/* Handles one conversion starting just after '%'; returns the position
 * after it. */
static const char *convert(struct fmt_out *o, const char *start, va_list *ap)
{
    const char *p = start;
    struct fmt_spec sp = {.prec = -1};
    for (;; p++) {
        if (*p == '-')
            sp.flags |= FL_LEFT;
        else if (*p == '0')
            sp.flags |= FL_ZERO;
        else if (*p == '+')
            sp.flags |= FL_PLUS;
        else if (*p == ' ')
            sp.flags |= FL_SPACE;
        else if (*p == '#')
            sp.flags |= FL_ALT;
        else
            break;
    }
    if (*p == '*') {
        int w = va_arg(*ap, int);
        p++;
        if (w < 0) {
            sp.flags |= FL_LEFT;
            w = w == INT32_MIN ? FMT_LIMIT : -w;
        }
        sp.width = w;
    } else {
        sp.width = parse_num(&p);
    }
    if (*p == '.') {
        p++;
        if (*p == '*') {
            int pr = va_arg(*ap, int);
            p++;
            sp.prec = pr < 0 ? -1 : pr;
        } else {
            sp.prec = parse_num(&p);
        }
    }
    p = parse_length(p, &sp.len);

    char conv = *p;
    /* Wide characters and strings (%lc, %ls) are not supported. */
    if (sp.len != LEN_NONE && (conv == 'c' || conv == 's' || conv == 'p'))
        conv = '?';
    switch (conv) {
    case 'd':
    case 'i': {
        intmax_t v = fetch_signed(ap, sp.len);
        uintmax_t mag = v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v;
        emit_int(o, &sp, mag, v < 0, conv);
        break;
    }
    case 'u':
    case 'x':
    case 'X':
    case 'o':
        emit_int(o, &sp, fetch_unsigned(ap, sp.len), false, conv);
        break;
    case 'p':
        emit_int(o, &sp, (uintptr_t)va_arg(*ap, void *), false, 'p');
        break;
    case 'c': {
        char c = (char)(unsigned char)va_arg(*ap, int);
        emit_padded(o, &sp, &c, 1);
        break;
    }
    case 's': {
        const char *s = va_arg(*ap, const char *);
        if (s == NULL)
            s = "(null)";
        /* Never read past the precision: the string need not be terminated. */
        size_t n = 0;
        while ((sp.prec < 0 || n < (size_t)sp.prec) && s[n] != '\0')
            n++;
        emit_padded(o, &sp, s, n);
        break;
    }
    case '%':
        emit(o, '%');
        break;
    case '\0':
        /* A trailing incomplete conversion: copy it and stop at the NUL. */
        emit(o, '%');
        emit_str(o, start, (size_t)(p - start));
        return p;
    default:
        emit(o, '%');
        emit_str(o, start, (size_t)(p - start) + 1);
        break;
    }
    return p + 1;
}

int fmt_vformat(void (*put)(char c, void *ctx), void *ctx, const char *fmt, va_list ap)
{
    struct fmt_out o = {.put = put, .ctx = ctx};
    va_list args;
    va_copy(args, ap);
    const char *p = fmt;
    while (*p != '\0') {
        if (*p != '%') {
            emit(&o, *p++);
            continue;
        }
        p = convert(&o, p + 1, &args);
    }
    va_end(args);
    return o.count > (size_t)FMT_LIMIT ? -1 : (int)o.count;
}

struct fmt_buf {
    char *buf;
    size_t size, pos;
};

static void buf_put(char c, void *ctx)
{
    struct fmt_buf *b = ctx;
    if (b->pos + 1 < b->size)
        b->buf[b->pos] = c;
    b->pos++;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct fmt_buf b = {.buf = buf, .size = size};
    int n = fmt_vformat(buf_put, &b, fmt, ap);
    if (size > 0)
        buf[b.pos < size ? b.pos : size - 1] = '\0';
    return n;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
