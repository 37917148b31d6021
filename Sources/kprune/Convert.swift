import ArgumentParser
import Foundation
import KerasFormat
import PruningEngine

extension Kprune {
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prune a layer's kernel to an exact zero count and write a new Keras file.",
            discussion: """
                The output goes beside each input (m.h5 -> m.pruned.h5, m.keras -> m.pruned.keras, \
                w.weights.h5 -> w.pruned.weights.h5) unless -o or --output-dir says otherwise. It is written \
                to a temporary file and renamed into place when complete; the input is never written.
                """)

        @Argument(help: "Keras files: .h5, .keras or .weights.h5.")
        var inputs: [String]

        @Option(help: "Fraction of the kernel to make zero, from 0 to 1 (rounded to the nearest count, halves up).")
        var sparsity: Double?

        @Option(help: "Exact number of zeros the kernel must hold.")
        var zeros: Int?

        @Option(name: [.short, .customLong("output")], help: "Output file (one input only).")
        var output: String?

        @Option(help: "Directory for the outputs, named as by default.")
        var outputDir: String?

        @Option(help: "Layer to prune instead of the final one: a name, or a nested path such as outer/head.")
        var layer: String?

        @Option(help: "Calibration data: the final layer's inputs, one row per sample (h.npy, h.npz:NAME, h.h5:/PATH).")
        var features: String?

        @Option(help: "Labels for the calibration rows: class ids, one-hot rows or regression targets.")
        var labels: String?

        @Option(help: "mask: gradual magnitude pruning with regrowth and a fine-tune (default with --features); l1: a proximal L1 path to the count, projection and debiasing; magnitude: no training.")
        var method: MethodArgument?

        @Option(help: "Passes over the calibration data (default: automatic, at least 100 and at least 2,000 steps).")
        var epochs: Int?

        @Option(help: "Samples per step.")
        var batchSize: Int = FineTuneOptions().batchSize

        @Option(help: "The momentum step (default: automatic, from the calibration data's curvature).")
        var learningRate: Double?

        @Option(help: "Seed for the split and the shuffles: the same seed gives the same output file.")
        var seed: UInt64 = FineTuneOptions().seed

        @Option(help: "Fraction of the calibration rows held out to measure before and after.")
        var validationSplit: Double = FineTuneOptions().validationSplit

        @Option(name: .customLong("in-memory-limit"), help: ArgumentHelp(
            "Calibration data up to this many MiB (as float32) is read into memory; larger data is streamed from its files in blocks.",
            valueName: "MiB"))
        var inMemoryLimit: Int = FineTuneOptions().inMemoryLimit >> 20

        @Flag(help: "Replace existing output files.")
        var force = false

        @Flag(help: "Replace each input with its converted file.")
        var inPlace = false

        @Flag(help: "Print one JSON object per input on standard output.")
        var json = false

        @Flag(help: "Print nothing on success.")
        var quiet = false

        func validate() throws {
            guard (sparsity == nil) != (zeros == nil) else {
                throw ValidationError("give exactly one of --sparsity F or --zeros N")
            }
            if let sparsity, !(sparsity.isFinite && (0...1).contains(sparsity)) {
                throw ValidationError("--sparsity \(sparsity) is outside [0, 1]")
            }
            if let zeros, zeros < 0 { throw ValidationError("--zeros \(zeros) is negative") }
            if output != nil, inputs.count > 1 {
                throw ValidationError("-o names one output; use --output-dir with several inputs")
            }
            if output != nil, outputDir != nil { throw ValidationError("give -o or --output-dir, not both") }
            if inPlace, output != nil || outputDir != nil {
                throw ValidationError("--in-place writes over the input; it takes no -o or --output-dir")
            }
            if labels != nil, features == nil { throw ValidationError("--labels goes with --features") }
            if let method, method != .magnitude, features == nil {
                throw ValidationError("--method \(method.rawValue) fine-tunes on calibration data: give --features")
            }
            if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
            guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
            if let learningRate, !(learningRate.isFinite && learningRate > 0) {
                throw ValidationError("--learning-rate must be a positive number")
            }
            guard inMemoryLimit >= 0 else { throw ValidationError("--in-memory-limit must be 0 or more") }
            guard validationSplit.isFinite, validationSplit >= 0, validationSplit < 1 else {
                throw ValidationError("--validation-split must lie in [0, 1)")
            }
        }

        func run() throws {
            // Each input is worked on in a child process (Isolation.swift): here, in the child, its one input.
            let inputs = try Isolation.inputsForThisProcess(inputs, outputFile: output, outputDirectory: outputDir)
            Signals.install()
            let target: ZeroTarget = sparsity.map(ZeroTarget.sparsity) ?? .zeros(zeros ?? 0)
            let progress = ProgressLine(quiet: quiet)
            var failures = 0
            for input in inputs {
                let destination = inPlace ? input
                    : output ?? Converter.defaultOutputPath(for: input, directory: outputDir)
                let calibration = features.map {
                    Calibration(features: $0, labels: labels, options: FineTuneOptions(
                        method: method?.method ?? .mask, epochs: epochs, batchSize: batchSize, learningRate: learningRate,
                        seed: seed, validationSplit: validationSplit, inMemoryLimit: inMemoryLimit << 20))
                }
                let request = ConversionRequest(input: input, output: destination, target: target, layer: layer,
                                                overwrite: force, inPlace: inPlace, calibration: calibration)
                do {
                    // A name Keras would not load is refused before any work; in place, the name is the input's.
                    if !inPlace { try OutputName.check(output: destination, forInput: input) }
                    // No display, no callback: a fine-tune then skips measuring each epoch.
                    var onProgress: (@Sendable (ConversionProgress) -> Void)? = nil
                    if progress.enabled {
                        onProgress = { step in
                            progress.update(step.detail.map { "\(input): \($0)" } ?? input, step.fraction)
                        }
                    }
                    StructureDeadline.arm()
                    defer { StructureDeadline.disarm() }
                    let report = try Converter.convert(request, progress: onProgress,
                                                       structureRead: StructureDeadline.disarm)
                    progress.clear()
                    if json {
                        print(jsonLine(report))
                    } else if !quiet {
                        print(summary(report))
                    }
                } catch {
                    progress.clear()
                    ErrorLine.report(error, file: input)
                    failures += 1
                }
            }
            if failures > 0 { throw ExitCode.failure }
        }

        private func summary(_ report: ConversionReport) -> String {
            let shape = report.kernelShape.map(String.init).joined(separator: "x")
            var line = "\(report.input) -> \(report.output): \(report.layer) kernel \(shape) \(report.dtype), "
            line += "zeros \(report.zerosBefore) -> \(report.zerosAfter) of \(report.size)"
            line += String(format: " (%.2f%%), %@, %.2fs", 100 * Double(report.zerosAfter) / Double(max(report.size, 1)),
                           report.method, report.seconds)
            if let tune = report.fineTune {
                func describe(_ metrics: SplitMetrics) -> String {
                    var text = String(format: "loss %.4f, agreement %.3f", metrics.loss, metrics.agreement)
                    if let accuracy = metrics.accuracy { text += String(format: ", accuracy %.3f", accuracy) }
                    return text
                }
                line += "\n  fine-tune: \(tune.trainSamples) samples\(tune.streamed ? " (streamed)" : ""), \(tune.epochs) epochs, \(tune.steps) steps"
                line += "\n  held out (\(tune.heldOutSamples) samples): before \(describe(tune.before)); after \(describe(tune.after))"
                line += "\n  loss: \(tune.objective), following the \(tune.activation) activation of layer "
                    + "'\(tune.activationLayer ?? report.layer)'"
                let candidates = tune.candidates.map { String(format: "%@ %.4f", $0.method, $0.heldOut.loss) }
                line += "\n  held-out loss by candidate: \(candidates.joined(separator: ", ")); wrote \(tune.chosen)"
            }
            for note in report.notes { line += "\n  note: \(note)" }
            return line
        }
    }
}

/// `--method`'s values, as the command line spells them.
enum MethodArgument: String, ExpressibleByArgument, CaseIterable {
    case mask, l1, magnitude

    var method: PruningMethod {
        switch self {
        case .mask: .mask
        case .l1: .l1
        case .magnitude: .magnitude
        }
    }
}
