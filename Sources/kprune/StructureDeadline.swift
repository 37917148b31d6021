import Foundation

/// A time limit on reading an input's structure (its format, config, layers and where its weights are),
/// which takes milliseconds for any real file: a corrupt file can send libhdf5 into an endless loop (a
/// variable-length string whose global-heap reference points nowhere). The child arms `alarm` before it
/// opens the input and disarms it once the structure is read; when it fires, the child dies by `SIGALRM` and
/// the parent reports the input as corrupt, cleaning up as after a crash. The limit is
/// `KPRUNE_STRUCTURE_SECONDS` (default 30) seconds; 0 turns it off.
enum StructureDeadline {
    static let seconds: UInt32 = {
        guard let text = ProcessInfo.processInfo.environment["KPRUNE_STRUCTURE_SECONDS"], let value = UInt32(text)
        else { return 30 }
        return value
    }()

    /// Arms the limit (in a child process only: the parent never opens an input).
    static func arm() {
        guard Isolation.isChild else { return }
        // A caller may start kprune with SIGALRM blocked (Foundation's `Process` passes its mask on) or
        // ignored (an ignored signal stays ignored across exec): the limit would then never end the child.
        signal(SIGALRM, SIG_DFL)
        var alarmSignal = sigset_t()
        sigemptyset(&alarmSignal)
        sigaddset(&alarmSignal, SIGALRM)
        pthread_sigmask(SIG_UNBLOCK, &alarmSignal, nil)
        alarm(seconds)
    }

    /// Disarms it.
    static func disarm() { if Isolation.isChild { alarm(0) } }
}
