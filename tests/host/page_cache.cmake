# Per-object page cache (radix index + reverse map).
newsys_host_test(test_page_cache test_page_cache.c SOURCES ../../memobj/page_cache.c)
