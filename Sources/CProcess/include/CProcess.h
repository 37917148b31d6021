#ifndef KPRUNE_CPROCESS_H
#define KPRUNE_CPROCESS_H

/// Asks the kernel to send `signal` to this process when its parent dies (`prctl(PR_SET_PDEATHSIG)`,
/// which Swift cannot call: `prctl` is variadic). Returns 0, or -1 with errno set.
int kp_set_parent_death_signal(int signal);

/// The mode bits (`st_mode`) of what `path` names, following symbolic links when `follow` is non-zero
/// (`stat`) and not otherwise (`lstat`). Returns 0 and sets `*mode`, or -1 with errno set. (Swift's view of
/// `struct stat` depends on which clang module first declared it, which strict member-import checking
/// rejects in some builds; this keeps the struct on the C side.)
int kp_file_mode(const char *path, int follow, unsigned int *mode);

/// Makes glibc keep freed blocks of up to `bytes` in the heap for reuse instead of mapping each afresh and
/// returning it to the kernel when freed (`mallopt(M_MMAP_THRESHOLD)` and `mallopt(M_TRIM_THRESHOLD)`,
/// whose macros Swift does not import). Returns 1 when both were set, 0 otherwise (and on other C
/// libraries, where it does nothing).
int kp_keep_freed_memory(int bytes);

/// Installs the crash handler of a child working on one input, for SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT
/// and SIGFPE, on an alternate stack (so a stack overflow still runs it). The handler calls `cleanup`
/// (which must be async-signal-safe), writes one byte to `reportDescriptor` when it is not -1 ('H' when
/// libhdf5 was running: the faulting instruction, or a return address near the stack's top, lies in it;
/// 'K' otherwise), then dies by the same signal.
void kp_install_crash_handler(void (*cleanup)(void), int reportDescriptor);

/// Makes the next crash count as libhdf5's (the test hook that stands in for a corrupt file).
void kp_blame_library_for_crash(void);

#endif
