/* Kernel command-line parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kernel/lib/cmdline.h"

static void test_get(void **state)
{
    (void)state;
    char v[16];
    assert_true(cmdline_get("init=tests selftest=wx", "init", v, sizeof(v)));
    assert_string_equal(v, "tests");
    assert_true(cmdline_get("  init=a\tinit=b  ", "init", v, sizeof(v)));
    assert_string_equal(v, "b"); /* the last one wins */
    assert_true(cmdline_get("x=", "x", v, sizeof(v)));
    assert_string_equal(v, "");
    assert_false(cmdline_get("initrd=1", "init", v, sizeof(v)));
    assert_false(cmdline_get("init", "init", v, sizeof(v)));
    assert_false(cmdline_get("", "init", v, sizeof(v)));
    assert_false(cmdline_get(NULL, "init", v, sizeof(v)));
}

static void test_get_truncation_is_an_error(void **state)
{
    (void)state;
    char v[4] = "zzz";
    assert_false(cmdline_get("init=long", "init", v, sizeof(v)));
    assert_true(cmdline_get("init=abc", "init", v, sizeof(v)));
    assert_string_equal(v, "abc");
    assert_false(cmdline_get("init=abc", "init", v, 0));
}

static void test_has(void **state)
{
    (void)state;
    assert_true(cmdline_has("quiet debug", "debug"));
    assert_true(cmdline_has("debug=2", "debug"));
    assert_false(cmdline_has("debugger", "debug"));
    assert_false(cmdline_has("nodebug", "debug"));
    assert_false(cmdline_has(NULL, "debug"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_get_truncation_is_an_error),
        cmocka_unit_test(test_has),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
