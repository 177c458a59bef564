# FDT parser + platform description: tests/fuzz/corpus/fuzz_fdt holds small
# valid trees (v17 and v16 headers) and a few broken ones.
newsys_fuzzer(fuzz_fdt fuzz_fdt.c
    SOURCES ../../kernel/lib/fdt.c ../../kernel/boot/platform.c)
