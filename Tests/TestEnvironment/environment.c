#include <stdlib.h>
#include <string.h>

#include "TestEnvironment.h"

// Tests run in parallel in one process, and some start tools (h5repack, h5jam, the kprune binary). A child
// inherits every descriptor open at that moment, and with it libhdf5's flock on those files, until it exits:
// another test reopening such a file then fails with "unable to lock file". libhdf5 reads this variable once,
// when it starts, so it is set before main runs.
__attribute__((constructor)) static void kp_disable_hdf5_file_locking(void) {
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
}

int kp_test_file_locking_disabled(void) {
    const char *value = getenv("HDF5_USE_FILE_LOCKING");
    return value != NULL && strcmp(value, "FALSE") == 0;
}
