import FileOutput
import FineTune
import Foundation
import KerasFormat
import Sparsity

/// Removes unfinished outputs when the process is interrupted, then exits with 128 + the signal number.
enum Signals {
    static let handled = [SIGINT, SIGTERM, SIGHUP, SIGPIPE]

    static func install() {
        // The registry is made now (nothing is registered yet), never first inside a handler, where its
        // allocation could deadlock on a lock the interrupted code holds.
        AtomicOutput.removeAllPending()
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signalNumber in handled {
            signal(signalNumber) { received in
                AtomicOutput.removeAllPending()
                _exit(128 + received)
            }
            sigaddset(&unblock, signalNumber)
        }
        // A parent may start kprune with these signals blocked (Foundation's Process does): the handler
        // would then never run and the signal would wait in vain.
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }
}

/// A one-line progress display on standard error, shown only on a terminal and redrawn at most 10 times a
/// second. Updates may come from any thread.
final class ProgressLine: @unchecked Sendable {
    /// Whether anything is drawn: on a terminal, without --quiet.
    let enabled: Bool
    private let lock = NSLock()
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private var drawn = false

    init(quiet: Bool) {
        enabled = !quiet && isatty(STDERR_FILENO) == 1
    }

    func update(_ label: String, _ fraction: Double) {
        guard enabled else { return }
        lock.withLock {
            let now = ContinuousClock.now
            guard now - lastDraw >= .milliseconds(100) else { return }
            lastDraw = now
            drawn = true
            FileHandle.standardError.write(Data("\r\u{1B}[K\(label) \(Int(fraction * 100))%".utf8))
        }
    }

    func clear() {
        guard enabled else { return }
        lock.withLock {
            guard drawn else { return }
            drawn = false
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
    }
}
