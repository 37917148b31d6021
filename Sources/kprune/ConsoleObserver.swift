import FineTune
import Foundation
import Pipeline

/// Shows a conversion's progress on the terminal's progress line, and ends the limit on reading an input's
/// structure once it has been read (where the test hook `KPRUNE_TEST_PAUSE_ON` waits).
struct ConsoleObserver: PruningObserver {
    /// The input, as named on the command line.
    let input: String
    let progress: ProgressLine

    func structureRead() {
        StructureDeadline.disarm()
        TestHook.pauseIfAsked(on: input)
    }

    func progressed(_ fraction: Double) { progress.update(input, fraction) }

    /// Without a display the fine-tune skips measuring each epoch.
    var wantsFineTuneEvents: Bool { progress.enabled }

    func fineTuneProgressed(_ fraction: Double, _ event: FineTuneEvent) {
        progress.update("\(input): \(Self.describe(event))", fraction)
    }

    /// `mask epoch 3/100, held-out loss 0.1234` or `l1 strength 0.01: 512 of 1000 zeros`.
    static func describe(_ event: FineTuneEvent) -> String {
        switch event {
        case .epochEnded(let phase, let epoch, let epochs, let loss):
            String(format: "%@ epoch %d/%d, held-out loss %.4f", phase, epoch, epochs, loss)
        case .l1Solved(let strength, let zeros, let target):
            String(format: "l1 strength %.3g: %d of %d zeros", strength, zeros, target)
        }
    }
}
