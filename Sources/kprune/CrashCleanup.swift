import FileOutput
import Foundation

/// In a child: a crash first removes the registered unfinished outputs and staging, then kills the
/// process by the same signal, so the parent sees how it died.
enum CrashCleanup {
    static func install() {
        // An alternate stack, so a stack overflow's SIGSEGV still runs the handler.
        let size = 1 << 16
        var stack = stack_t()
        stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        stack.ss_size = size
        stack.ss_flags = 0
        sigaltstack(&stack, nil)
        for number in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { received in
                AtomicOutput.removeAllPending()
                signal(received, SIG_DFL)
                raise(received)
            }
            action.sa_flags = Int32(SA_ONSTACK)
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }
}
