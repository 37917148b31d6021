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
