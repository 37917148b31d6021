#include "CProcess.h"
#include <sys/prctl.h>
#include <sys/stat.h>

int kp_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}

int kp_file_mode(const char *path, int follow, unsigned int *mode) {
    struct stat info;
    int result = follow ? stat(path, &info) : lstat(path, &info);
    if (result == 0) { *mode = (unsigned int)info.st_mode; }
    return result;
}

#if defined(__GLIBC__)
#include <malloc.h>
int kp_keep_freed_memory(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes) == 1 && mallopt(M_TRIM_THRESHOLD, bytes) == 1;
}
#else
int kp_keep_freed_memory(int bytes) {
    (void)bytes;
    return 0;
}
#endif
