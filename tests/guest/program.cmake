newsys_program(tests ${NEWSYS_PROGRAM_DIR}/tests_main.c ${NEWSYS_PROGRAM_DIR}/storage_tests.c
               ${NEWSYS_PROGRAM_DIR}/crash_tests.c
               ${NEWSYS_PROGRAM_DIR}/stress_tests.c)
newsys_program(fuzztest ${NEWSYS_PROGRAM_DIR}/fuzztest.c)
newsys_program(mprobe ${NEWSYS_PROGRAM_DIR}/mprobe.c)
newsys_program(disktest ${NEWSYS_PROGRAM_DIR}/disk_tests.c)
