# IPC: the real kernel/core/ipc.c, with the real capability, object and bank
# code, behind a fake of the rest of the kernel (scheduler, kcache, thread
# and space objects: fake_kernel.c).
newsys_host_test(test_ipc test_ipc.c SOURCES fake_kernel.c ../../kernel/core/ipc.c ../../kernel/core/notification.c
    ../../kernel/core/object.c ../../kernel/core/kobj.c ../../kernel/core/cap.c
    ../../kernel/core/bank.c)
