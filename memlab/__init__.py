"""memlab's command line. It ties instruments, procedures, storage and analysis together and
owns no measurement logic of its own."""
