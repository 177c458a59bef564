newsys_program(worker ${NEWSYS_PROGRAM_DIR}/worker.c)
