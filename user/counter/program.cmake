newsys_program(counter ${NEWSYS_PROGRAM_DIR}/counter.c)
