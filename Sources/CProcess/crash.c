// The child's crash handler: removes unfinished outputs, tells the parent whether libhdf5 was running,
// and dies by the same signal. Only async-signal-safe work happens in the handler.
#define _GNU_SOURCE
#include "CProcess.h"
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

enum { maxRanges = 16, scannedWords = 256 };

static void (*crashCleanup)(void);
static int crashReportDescriptor = -1;
static volatile sig_atomic_t blameLibrary;
static uintptr_t rangeStart[maxRanges], rangeEnd[maxRanges];
static int rangeCount;

/// Records the executable segments of every loaded object whose name contains "libhdf5".
static int collectLibraryRanges(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "libhdf5") == NULL) { return 0; }
    for (int index = 0; index < info->dlpi_phnum && rangeCount < maxRanges; index++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[index];
        if (header->p_type != PT_LOAD || (header->p_flags & PF_X) == 0) { continue; }
        rangeStart[rangeCount] = info->dlpi_addr + header->p_vaddr;
        rangeEnd[rangeCount] = rangeStart[rangeCount] + header->p_memsz;
        rangeCount++;
    }
    return 0;
}

static int inLibrary(uintptr_t address) {
    for (int index = 0; index < rangeCount; index++) {
        if (address >= rangeStart[index] && address < rangeEnd[index]) { return 1; }
    }
    return 0;
}

/// Whether the crash happened in libhdf5: the faulting instruction is in it, or a return address into it
/// lies among the stack's top words (libhdf5 calling into the C library, say).
static int libraryWasRunning(void *context) {
    if (blameLibrary) { return 1; }
    if (context == NULL || rangeCount == 0) { return 0; }
    const ucontext_t *state = (const ucontext_t *)context;
#if defined(__x86_64__)
    uintptr_t pc = (uintptr_t)state->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)state->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    uintptr_t pc = (uintptr_t)state->uc_mcontext.pc;
    uintptr_t sp = (uintptr_t)state->uc_mcontext.sp;
#else
    uintptr_t pc = 0, sp = 0;
#endif
    if (inLibrary(pc)) { return 1; }
    if (sp == 0 || sp % sizeof(uintptr_t) != 0) { return 0; }
    const uintptr_t *words = (const uintptr_t *)sp;
    for (int index = 0; index < scannedWords; index++) {
        if (inLibrary(words[index])) { return 1; }
    }
    return 0;
}

static void handleCrash(int number, siginfo_t *info, void *context) {
    (void)info;
    if (crashCleanup != NULL) { crashCleanup(); }
    char site = libraryWasRunning(context) ? 'H' : 'K';
    if (crashReportDescriptor >= 0) { (void)!write(crashReportDescriptor, &site, 1); }
    signal(number, SIG_DFL);
    raise(number);
}

void kp_install_crash_handler(void (*cleanup)(void), int reportDescriptor) {
    crashCleanup = cleanup;
    crashReportDescriptor = reportDescriptor;
    dl_iterate_phdr(collectLibraryRanges, NULL);
    static char alternateStack[1 << 16];
    stack_t stack = {.ss_sp = alternateStack, .ss_size = sizeof alternateStack, .ss_flags = 0};
    sigaltstack(&stack, NULL);
    const int numbers[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE};
    for (size_t index = 0; index < sizeof numbers / sizeof numbers[0]; index++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = handleCrash;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        sigaction(numbers[index], &action, NULL);
    }
}

void kp_blame_library_for_crash(void) { blameLibrary = 1; }
