newsys_program(hello ${NEWSYS_PROGRAM_DIR}/hello.c)
