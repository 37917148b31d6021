import Foundation

/// The parent's handling of SIGINT, SIGTERM and SIGHUP: forwarded to the running child, which removes its
/// unfinished outputs and exits; the parent then stops the batch with 128 + the signal number.
enum Forwarding {
    /// The running child's pid, 0 when none; read by the signal handler.
    nonisolated(unsafe) static let child: UnsafeMutablePointer<pid_t> = {
        let pointer = UnsafeMutablePointer<pid_t>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return pointer
    }()
    /// The last signal received, 0 when none.
    nonisolated(unsafe) static let signalNumber: UnsafeMutablePointer<Int32> = {
        let pointer = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return pointer
    }()

    static var received: Int32? { signalNumber.pointee == 0 ? nil : signalNumber.pointee }

    static func install() {
        // Both are initialised here, never first in the handler.
        _ = child
        _ = signalNumber
        // A caller may have blocked them (Foundation's `Process` passes on a blocked mask); the child
        // inherits this thread's mask, so both get them.
        var forwarded = sigset_t()
        sigemptyset(&forwarded)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&forwarded, number) }
        sigprocmask(SIG_UNBLOCK, &forwarded, nil)
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number) { received in
                Forwarding.signalNumber.pointee = received
                let pid = Forwarding.child.pointee
                if pid > 0 { kill(pid, received) }
            }
        }
    }
}
