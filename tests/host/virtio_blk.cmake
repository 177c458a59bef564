# virtio-blk: split-virtqueue bookkeeping, request chains and answer checks,
# and the block interface, against a fake (and lying) device.
newsys_host_test(test_virtq test_virtq.c SOURCES ../../virtio-blk/virtq.c
    ../../virtio-blk/vblk_req.c ../../virtio-blk/blk.c)
