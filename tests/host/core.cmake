# Kernel core: kernel objects, capabilities (with the derivation tree) and
# space banks, linked together since each uses the others' hooks.
set(NEWSYS_CORE_SOURCES ../../kernel/core/kobj.c ../../kernel/core/cap.c
    ../../kernel/core/bank.c)
find_package(Threads REQUIRED) # deep-structure tests run on a 64 KiB stack
newsys_host_test(test_cap test_cap.c SOURCES ${NEWSYS_CORE_SOURCES} LIBS Threads::Threads)
newsys_host_test(test_bank test_bank.c SOURCES ${NEWSYS_CORE_SOURCES} LIBS Threads::Threads)
