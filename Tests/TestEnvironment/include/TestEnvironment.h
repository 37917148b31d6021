// Process-wide settings for the test binary, applied before any test or library code runs.
#ifndef KPRUNE_TEST_ENVIRONMENT_H
#define KPRUNE_TEST_ENVIRONMENT_H

/// Whether libhdf5's file locking was turned off for this process (HDF5_USE_FILE_LOCKING=FALSE).
int kp_test_file_locking_disabled(void);

#endif
