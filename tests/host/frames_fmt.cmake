# Frame allocator and kernel printf formatter.
newsys_host_test(test_frame_alloc test_frame_alloc.c SOURCES ../../frames/frame_alloc.c)
newsys_host_test(test_fmt test_fmt.c SOURCES ../../kernel/lib/fmt.c)
