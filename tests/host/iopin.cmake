# The I/O-pin ledger (frames/iopin.c): quotas, leases, quarantine.
newsys_host_test(test_iopin test_iopin.c SOURCES ../../frames/iopin.c)
