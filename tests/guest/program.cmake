newsys_program(tests ${NEWSYS_PROGRAM_DIR}/tests_main.c)
