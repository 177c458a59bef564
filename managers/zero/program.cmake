newsys_program(zero ${NEWSYS_PROGRAM_DIR}/zero.c)
