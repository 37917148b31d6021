internal import CProcess
import FileOutput
import Foundation

/// In a child: a crash first removes the registered unfinished outputs and staging, then tells the parent
/// where it happened (in libhdf5 or in kprune's own code, through the descriptor `KPRUNE_CRASH_REPORT_FD`
/// names), then kills the process by the same signal, so the parent sees how it died. The handler is C
/// (`kp_install_crash_handler`): it reads the faulting instruction's address from the signal's context.
enum CrashCleanup {
    static let reportVariable = "KPRUNE_CRASH_REPORT_FD"

    static func install(reportDescriptor: String?) {
        // The registry is made now, never first inside the handler.
        AtomicOutput.removeAllPending()
        let descriptor = reportDescriptor.flatMap { Int32($0) } ?? -1
        kp_install_crash_handler({ AtomicOutput.removeAllPending() }, descriptor)
    }

    /// Makes the next crash count as libhdf5's: the test hook that stands in for a corrupt file.
    static func blameLibrary() { kp_blame_library_for_crash() }
}
