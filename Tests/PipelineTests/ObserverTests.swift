import FineTune
import Foundation
import Pipeline
import Sparsity
import Synchronization
import TestSupport
import Testing

/// Records what a conversion tells its observer.
final class RecordingObserver: PruningObserver, @unchecked Sendable {
    enum Entry: Equatable {
        case structureRead
        case progressed(Double)
        case fineTune(FineTuneEvent)
    }

    let wantsFineTuneEvents: Bool
    private let lock = NSLock()
    private var recorded: [Entry] = []

    init(wantsFineTuneEvents: Bool = true) { self.wantsFineTuneEvents = wantsFineTuneEvents }

    var entries: [Entry] { lock.withLock { recorded } }

    func structureRead() { lock.withLock { recorded.append(.structureRead) } }
    func progressed(_ fraction: Double) { lock.withLock { recorded.append(.progressed(fraction)) } }
    func fineTuneProgressed(_ fraction: Double, _ event: FineTuneEvent) {
        lock.withLock { recorded.append(.fineTune(event)) }
    }
}

@Suite struct ObserverTests {
    /// Data-free pruning: the structure is read first and once, then the passes' fractions rise to 1.
    @Test func dataFreeProgressRisesToOne() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let observer = RecordingObserver()
        _ = try Converter.convert(
            ConversionRequest(
                input: input, output: directory.file("out.h5"),
                target: .sparsity(0.5)), observer: observer)
        let entries = observer.entries
        #expect(entries.first == .structureRead)
        #expect(entries.filter { $0 == .structureRead }.count == 1)
        let fractions = entries.compactMap { if case .progressed(let f) = $0 { f } else { nil } }
        #expect(!fractions.isEmpty)
        #expect(fractions == fractions.sorted())
        #expect(fractions.last == 1)
    }

    /// A fine-tune tells one event per epoch when the observer wants them, none otherwise (it then skips
    /// measuring each epoch), and the written file is the same either way.
    @Test func fineTuneEventsOnlyWhenWanted() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        writeNPY(
            directory.file("h.npy"), rows: 40, columns: 16,
            values: (0..<640).map { Float(($0 * 7919) % 113) / 113 - 0.5 })
        func run(_ observer: RecordingObserver, _ name: String) throws -> Data {
            let output = directory.file(name)
            _ = try Converter.convert(
                ConversionRequest(
                    input: input, output: output, target: .sparsity(0.5),
                    calibration: Calibration(
                        features: directory.file("h.npy"),
                        options: FineTuneOptions(method: .mask, epochs: 7))), observer: observer)
            return try Data(contentsOf: URL(fileURLWithPath: output))
        }
        let watching = RecordingObserver(wantsFineTuneEvents: true)
        let quiet = RecordingObserver(wantsFineTuneEvents: false)
        let watched = try run(watching, "a.h5")
        let unwatched = try run(quiet, "b.h5")
        let epochs = watching.entries.compactMap { entry -> Int? in
            if case .fineTune(.epochEnded(let phase, let epoch, let of, _)) = entry, phase == "mask", of == 7 {
                return epoch
            }
            return nil
        }
        #expect(epochs == Array(1...7))
        #expect(!quiet.entries.contains { if case .fineTune = $0 { true } else { false } })
        #expect(watched == unwatched)
    }
}
