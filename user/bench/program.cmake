newsys_program(bench ${NEWSYS_PROGRAM_DIR}/bench.c)
