/* Host tests for kernel/lib/fmt.c: the host C library's snprintf is the
 * oracle for everything C99 defines; the documented differences (NULL %s,
 * %p, unsupported conversions) are checked against fixed strings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/lib/fmt.h"

static unsigned long n_compared;

/* No format attribute: lets the tests pass formats the compiler would
 * rightly reject for printf (%f without an argument, a trailing %). */
static int raw_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void expect_out(const char *want, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n != (int)strlen(want) || strcmp(buf, want) != 0)
        fail_msg("format \"%s\": got \"%s\" (%d), want \"%s\"", fmt, buf, n, want);
}

static void compare(const char *fmt, int ra, const char *a, int rb, const char *b)
{
    n_compared++;
    if (ra != rb || memcmp(a, b, (size_t)ra + 1) != 0)
        fail_msg("format \"%s\": libc \"%s\" (%d), fmt \"%s\" (%d)", fmt, a, ra, b, rb);
}

#define CHECK(fmt, ...)                                                                            \
    do {                                                                                           \
        char a_[512], b_[512];                                                                     \
        int ra_ = snprintf(a_, sizeof a_, fmt, __VA_ARGS__);                                       \
        int rb_ = fmt_snprintf(b_, sizeof b_, fmt, __VA_ARGS__);                                   \
        assert_true(ra_ >= 0 && ra_ < (int)sizeof a_);                                             \
        compare(fmt, ra_, a_, rb_, b_);                                                            \
    } while (0)

static const uint64_t values[] = {
    0,
    1,
    (uint64_t)-1,
    7,
    8,
    42,
    127,
    128,
    255,
    256,
    32767,
    32768,
    65535,
    65536,
    (uint64_t)-32769,
    INT32_MAX,
    (uint64_t)(int64_t)INT32_MIN,
    UINT32_MAX,
    0x123456789abcdefull,
    INT64_MAX,
    (uint64_t)INT64_MIN,
    UINT64_MAX,
};
#define N_VALUES (sizeof values / sizeof values[0])

static const char *const lengths[] = {"", "hh", "h", "l", "ll", "z", "j", "t"};

/* Calls both implementations with v converted to the type the length
 * modifier and conversion name (default promotions included). */
static void check_int(const char *fmt, const char *len, char conv, uint64_t v)
{
    bool is_signed = conv == 'd' || conv == 'i';
    if (len[0] == '\0' || len[0] == 'h') {
        if (is_signed)
            CHECK(fmt, (int)v);
        else
            CHECK(fmt, (unsigned)v);
    } else if (!strcmp(len, "l")) {
        if (is_signed)
            CHECK(fmt, (long)v);
        else
            CHECK(fmt, (unsigned long)v);
    } else if (!strcmp(len, "ll")) {
        if (is_signed)
            CHECK(fmt, (long long)v);
        else
            CHECK(fmt, (unsigned long long)v);
    } else if (!strcmp(len, "z")) {
        if (is_signed)
            CHECK(fmt, (ptrdiff_t)v);
        else
            CHECK(fmt, (size_t)v);
    } else if (!strcmp(len, "j")) {
        if (is_signed)
            CHECK(fmt, (intmax_t)v);
        else
            CHECK(fmt, (uintmax_t)v);
    } else {
        CHECK(fmt, (ptrdiff_t)v);
    }
}

/* Every flag subset x width x precision x length x value, per conversion. */
static void test_int_table(void **state)
{
    (void)state;
    static const char flag_chars[] = "-0+ #";
    static const char *const widths[] = {"", "0", "1", "5", "25"};
    static const char *const precs[] = {"", ".", ".0", ".1", ".5", ".25"};
    static const char convs[] = "diuxXo";
    n_compared = 0;
    for (const char *c = convs; *c; c++) {
        for (unsigned fs = 0; fs < 32; fs++) {
            /* '#' with d, i, u is undefined in C: not compared. */
            if ((fs & 16) && (*c == 'd' || *c == 'i' || *c == 'u'))
                continue;
            char flags[8];
            size_t nf = 0;
            for (unsigned b = 0; b < 5; b++) {
                if (fs & (1u << b))
                    flags[nf++] = flag_chars[b];
            }
            flags[nf] = '\0';
            for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
                /* Width "0" reads as one more 0 flag: still worth comparing. */
                for (size_t p = 0; p < sizeof precs / sizeof precs[0]; p++) {
                    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
                        char fmt[64];
                        snprintf(fmt, sizeof fmt, "%%%s%s%s%s%c", flags, widths[w], precs[p],
                                 lengths[l], *c);
                        for (size_t v = 0; v < N_VALUES; v++)
                            check_int(fmt, lengths[l], *c, values[v]);
                    }
                }
            }
        }
    }
    print_message("int table: %lu comparisons with libc\n", n_compared);
    assert_true(n_compared > 500000);
}

static void test_star(void **state)
{
    (void)state;
    static const int ws[] = {-20, -3, -1, 0, 1, 7, 30};
    static const int ps[] = {-5, -1, 0, 1, 3, 22};
    static const char *const fmts_wp[] = {"%*.*d",  "%-*.*d", "%0*.*x", "%+*.*i",
                                          "%#*.*o", "%#*.*X", "% *.*d", "%0*.*u"};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++) {
            for (size_t v = 0; v < N_VALUES; v++) {
                for (size_t f = 0; f < sizeof fmts_wp / sizeof fmts_wp[0]; f++)
                    CHECK(fmts_wp[f], ws[i], ps[j], (int)values[v]);
            }
        }
        CHECK("%*d", ws[i], -42);
        CHECK("%0*d", ws[i], -42);
        CHECK("%-*x", ws[i], 0xbeefu);
        CHECK("%*s", ws[i], "str");
        CHECK("%-*s", ws[i], "str");
        CHECK("%*c", ws[i], 'q');
        CHECK("%0*lld", ws[i], (long long)INT64_MIN);
    }
    for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++) {
        CHECK("%.*d", ps[j], 0);
        CHECK("%.*x", ps[j], 0u);
        CHECK("%.*s", ps[j], "abcdef");
        CHECK("%#.*o", ps[j], 0u);
        CHECK("%+.*lld", ps[j], (long long)INT64_MAX);
    }
}

static void test_extremes(void **state)
{
    (void)state;
    expect_out("-9223372036854775808", "%lld", (long long)INT64_MIN);
    expect_out("-9223372036854775808", "%jd", (intmax_t)INT64_MIN);
    expect_out("18446744073709551615", "%llu", (unsigned long long)UINT64_MAX);
    expect_out("ffffffffffffffff", "%lx", (unsigned long)UINT64_MAX);
    expect_out("1777777777777777777777", "%llo", (unsigned long long)UINT64_MAX);
    expect_out("01777777777777777777777", "%#llo", (unsigned long long)UINT64_MAX);
    expect_out("-2147483648", "%d", INT32_MIN);
    expect_out("", "%.0d", 0);
    expect_out("", "%.0x", 0u);
    expect_out("0", "%#.0o", 0u);
    expect_out("   ", "%3.0u", 0u);
    expect_out("+", "%+.0d", 0);
    expect_out("0", "%#x", 0u);
    expect_out("0x00001", "%#07x", 1u);
    expect_out("-0042", "%05d", -42);
    expect_out("  -42", "%05.0d", -42);
    expect_out("-42  ", "%-05d", -42);
    expect_out("-1", "%hhd", 255);
    expect_out("65535", "%hu", -1);
    CHECK("%lld %llu %llx", (long long)INT64_MIN, (unsigned long long)UINT64_MAX,
          (unsigned long long)UINT64_MAX);
}

static void test_strings_chars(void **state)
{
    (void)state;
    static const char *const strs[] = {"", "a", "hello", "a longer string here"};
    static const char *const fmts[] = {"%s",    "%-s",    "%0s",  "%3s",    "%-3s",
                                       "%10s",  "%-10s",  "%.0s", "%.2s",   "%.10s",
                                       "%5.2s", "%-5.2s", "%.s",  "%25.3s", "[%s]"};
    for (size_t s = 0; s < sizeof strs / sizeof strs[0]; s++) {
        for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
            if (!strcmp(fmts[f], "%0s"))
                continue; /* 0 with s is undefined */
            CHECK(fmts[f], strs[s]);
        }
    }
    /* The precision bounds the read: the array is not NUL-terminated. */
    static const char no_nul[3] = {'a', 'b', 'c'};
    CHECK("%.3s", no_nul);
    CHECK("%.2s|", no_nul);

    static const int chars[] = {'a', ' ', '~', 0x7f, 'Z'};
    static const char *const cfmts[] = {"%c", "%-c", "%1c", "%5c", "%-5c", "<%c>"};
    for (size_t c = 0; c < sizeof chars / sizeof chars[0]; c++) {
        for (size_t f = 0; f < sizeof cfmts / sizeof cfmts[0]; f++)
            CHECK(cfmts[f], chars[c]);
    }
    /* A NUL character is still output and counted. */
    char buf[8];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(fmt_snprintf(buf, sizeof buf, "a%cb", 0), 3);
    assert_memory_equal(buf, "a\0b\0", 4);

    expect_out("(null)", "%s", (char *)NULL);
    expect_out("[  (null)]", "[%8s]", (char *)NULL);
    expect_out("(nu", "%.3s", (char *)NULL);
    expect_out("100%", "100%%");
    expect_out("%%", "%%%%");
}

static void test_pointer(void **state)
{
    (void)state;
    int x;
    void *ptrs[] = {&x, (void *)(uintptr_t)1, (void *)(uintptr_t)0xdeadbeefcafe,
                    (void *)(uintptr_t)UINT64_MAX};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) {
        CHECK("%p", ptrs[i]);
        CHECK("%20p", ptrs[i]);
        CHECK("%-20p|", ptrs[i]);
        char a[64], b[64];
        snprintf(a, sizeof a, "%#lx", (unsigned long)(uintptr_t)ptrs[i]);
        fmt_snprintf(b, sizeof b, "%p", ptrs[i]);
        assert_string_equal(a, b);
    }
    expect_out("0x0", "%p", NULL);
    expect_out("  0x0", "%5p", NULL);
    expect_out("0x0  |", "%-5p|", NULL);
    expect_out("0xff", "%+p", (void *)(uintptr_t)0xff);
}

static void test_mixed(void **state)
{
    (void)state;
    CHECK("a%db%sc%xd%%e%cf", -17, "mid", 0xabcu, 'Z');
    CHECK("[%5d|%-5d|%05d|%+d|% d]", 42, 42, 42, 42, 42);
    CHECK("%hhu %hu %u %lu %llu %zu %ju %tu", (unsigned char)200, (unsigned short)60000,
          4000000000u, 1ul, 2ull, (size_t)3, (uintmax_t)4, (ptrdiff_t)-5);
    CHECK("%zd %td %jd", (ptrdiff_t)-1, (ptrdiff_t)PTRDIFF_MIN, (intmax_t)INTMAX_MIN);
    CHECK("%s=%#010llx (%lld)", "reg", 0x80200000ull, -1ll);
    CHECK("plain text, no conversions%s", "");
}

static void test_unsupported_verbatim(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(raw_snprintf(buf, sizeof buf, "%f"), 2);
    assert_string_equal(buf, "%f");
    assert_int_equal(raw_snprintf(buf, sizeof buf, "x=%5.2f!"), 8);
    assert_string_equal(buf, "x=%5.2f!");
    assert_int_equal(raw_snprintf(buf, sizeof buf, "%e%g%a%n%lc%q%ls%hhp"), 20);
    assert_string_equal(buf, "%e%g%a%n%lc%q%ls%hhp");
    /* Unsupported conversions take no argument: the next one gets it. */
    raw_snprintf(buf, sizeof buf, "%f %d", 7);
    assert_string_equal(buf, "%f 7");
    /* A '*' is still read. */
    raw_snprintf(buf, sizeof buf, "%*f %d", 3, 9);
    assert_string_equal(buf, "%*f 9");
    assert_int_equal(raw_snprintf(buf, sizeof buf, "end%"), 4);
    assert_string_equal(buf, "end%");
    assert_int_equal(raw_snprintf(buf, sizeof buf, "end%-08.3l"), 10);
    assert_string_equal(buf, "end%-08.3l");
    assert_int_equal(raw_snprintf(buf, sizeof buf, "%"), 1);
    assert_string_equal(buf, "%");
}

/* Every buffer size from 0 to past the end, against libc, with a guard area
 * after the buffer that must stay untouched. */
static void check_truncation(const char *fmt, ...)
{
    char full[256];
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int len = vsnprintf(full, sizeof full, fmt, ap);
    va_end(ap);
    assert_true(len >= 0 && len < (int)sizeof full - 8);
    for (size_t size = 0; size <= (size_t)len + 3; size++) {
        char mine[300], libc[300];
        memset(mine, 0x5a, sizeof mine);
        memset(libc, 0x5a, sizeof libc);
        va_list a1, a2;
        va_copy(a1, ap2);
        va_copy(a2, ap2);
        int rm = fmt_vsnprintf(size ? mine : NULL, size, fmt, a1);
        int rl = vsnprintf(size ? libc : NULL, size, fmt, a2);
        va_end(a1);
        va_end(a2);
        assert_int_equal(rm, len);
        assert_int_equal(rl, len);
        assert_memory_equal(mine, libc, sizeof mine);
        if (size > 0) {
            size_t keep = size - 1 < (size_t)len ? size - 1 : (size_t)len;
            assert_memory_equal(mine, full, keep);
            assert_int_equal(mine[keep], '\0');
        }
        for (size_t i = size; i < sizeof mine; i++)
            assert_int_equal((unsigned char)mine[i], 0x5a);
    }
    va_end(ap2);
}

static void test_truncation(void **state)
{
    (void)state;
    check_truncation("%lld|%llu", (long long)INT64_MIN, (unsigned long long)UINT64_MAX);
    check_truncation("%-12s|%#x|%c|%%", "hello", 0x1234u, 'q');
    check_truncation("%030.20lx", 0xfeedfacecafebeefull);
    check_truncation("");
    check_truncation("x");
    check_truncation("%p", (void *)(uintptr_t)0x80200000);
}

struct sink {
    char buf[128];
    size_t n;
};

static void sink_put(char c, void *ctx)
{
    struct sink *s = ctx;
    if (s->n < sizeof s->buf)
        s->buf[s->n] = c;
    s->n++;
}

static int sink_format(struct sink *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vformat(sink_put, s, fmt, ap);
    va_end(ap);
    return n;
}

static void test_vformat_sink(void **state)
{
    (void)state;
    struct sink s = {.n = 0};
    int n = sink_format(&s, "hart %u at %#lx: %s", 3u, 0x80200000ul, "up");
    assert_int_equal(n, (int)s.n);
    assert_int_equal(n, (int)strlen("hart 3 at 0x80200000: up"));
    assert_memory_equal(s.buf, "hart 3 at 0x80200000: up", s.n);
    /* No terminator is sent to the sink. */
    struct sink e = {.n = 0};
    assert_int_equal(sink_format(&e, "%s", ""), 0);
    assert_int_equal(e.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_table),
        cmocka_unit_test(test_star),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_strings_chars),
        cmocka_unit_test(test_pointer),
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_unsupported_verbatim),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_vformat_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
