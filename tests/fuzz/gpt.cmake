# Fuzzer for init's GUID-partition-table reader. Seeds: tests/fuzz/corpus/
# fuzz_gpt (a flag byte, the disk size, then an 8-sector disk whose table
# sfdisk wrote: a boot partition and a NewSys data partition; and the
# input that found usable space over the headers).
newsys_fuzzer(fuzz_gpt fuzz_gpt.c SOURCES ../../user/init/gpt.c ../../managers/disk/disk_table.c)
