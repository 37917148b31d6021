import FineTune
import Sparsity
import FileOutput
import ArgumentParser
import Foundation
import KerasFormat
import Pipeline

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

        @Flag(help: "Add libhdf5's function names and error stack to error lines.")
        var verbose = false

        @Flag(help: "Print nothing on success.")
        var quiet = false

        func validate() throws {
            guard (sparsity == nil) != (zeros == nil) else {
                throw ValidationError("give exactly one of --sparsity F or --zeros N")
            }
            if let sparsity, !(sparsity.isFinite && (0...1).contains(sparsity)) || sparsity.sign == .minus {
                throw ValidationError("--sparsity \(sparsity) is outside [0, 1]"
                                          + (sparsity.sign == .minus ? ": it is negative" : ""))
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
            try validateTraining()
        }

        /// The fine-tune's options, each in the range the engine can compute with once converted.
        private func validateTraining() throws {
            if let epochs, !Limits.epochs.contains(epochs) {
                throw ValidationError("--epochs \(epochs) is outside [1, \(Limits.epochs.upperBound)]")
            }
            guard Limits.batchSize.contains(batchSize) else {
                throw ValidationError("--batch-size \(batchSize) is outside [1, \(Limits.batchSize.upperBound)]")
            }
            if let learningRate {
                guard learningRate.isFinite, learningRate > 0, learningRate.sign == .plus else {
                    throw ValidationError("--learning-rate \(learningRate) must be a positive number")
                }
                // The fine-tune computes in float32: 1e-300 would become 0 and nothing would train.
                guard Limits.learningRate.contains(learningRate) else {
                    throw ValidationError("--learning-rate \(learningRate) is outside [\(Limits.learningRate.lowerBound), "
                                              + "\(Limits.learningRate.upperBound)], the steps float32 training can take")
                }
            }
            guard Limits.inMemoryMiB.contains(inMemoryLimit) else {
                throw ValidationError("--in-memory-limit \(inMemoryLimit) is outside [0, \(Limits.inMemoryMiB.upperBound)] MiB")
            }
            guard validationSplit.isFinite, validationSplit >= 0, validationSplit < 1, validationSplit.sign == .plus else {
                throw ValidationError("--validation-split \(validationSplit) must lie in [0, 1)")
            }
        }

        /// Where `input`'s output goes.
        private func destination(for input: String) -> String {
            inPlace ? input : output ?? Converter.defaultOutputPath(for: input, directory: outputDir)
        }

        func run() throws {
            ErrorLine.verbose = verbose
            // Every output is checked against all inputs before any work, once, in the process that has them all.
            if !Isolation.isChild { try checkOutputs(inputs.map(destination(for:))) }
            // Each input is worked on in a child process (Isolation.swift): here, in the child, its one input.
            let inputs = try Isolation.inputsForThisProcess(inputs, outputFile: output, outputDirectory: outputDir)
            Signals.install()
            let target: ZeroTarget = sparsity.map(ZeroTarget.sparsity) ?? .zeros(zeros ?? 0)
            let progress = ProgressLine(quiet: quiet)
            var failures = 0
            for input in inputs {
                let destination = destination(for: input)
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

        /// Refuses, before any work, outputs that collide (two inputs writing one file, or an output that is
        /// another input: exit 64) and outputs that cannot be written at all (exit 1). An output that already
        /// exists is left to each conversion, which reports it and goes on with the other inputs.
        private func checkOutputs(_ destinations: [String]) throws {
            var firstInput: [String: String] = [:]
            let inputKeys = Dictionary(inputs.map { (OutputCollisions.key($0), $0) }, uniquingKeysWith: { first, _ in first })
            var collisions: [String] = []
            for (input, destination) in zip(inputs, destinations) {
                let key = OutputCollisions.key(destination)
                if let earlier = firstInput[key] {
                    collisions.append("error: \(Escaped.text(destination)): the outputs of \(Escaped.text(earlier)) and "
                                      + "\(Escaped.text(input)) are the same file (give each input its own output)")
                } else if let other = inputKeys[key], other != input || !inPlace,
                          OutputCollisions.key(input) != key
                {
                    collisions.append("error: \(Escaped.text(destination)): the output of \(Escaped.text(input)) is the "
                                      + "input \(Escaped.text(other)) (choose another output with -o or --output-dir)")
                }
                firstInput[key] = firstInput[key] ?? input
            }
            if !collisions.isEmpty {
                collisions.forEach(printError)
                throw ExitCode.validationFailure
            }
            var unwritable = 0
            for destination in destinations {
                do {
                    try OutputPath.check(destination, replacing: true)
                } catch {
                    ErrorLine.report(error, file: destination)
                    unwritable += 1
                }
            }
            if unwritable > 0 { throw ExitCode.failure }
        }

        private func summary(_ report: ConversionReport) -> String {
            let shape = report.kernelShape.map(String.init).joined(separator: "x")
            var line = "\(Escaped.text(report.input)) -> \(Escaped.text(report.output)): \(Escaped.text(report.layer)) "
                + "kernel \(shape) \(report.dtype), "
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
                    + "'\(Escaped.text(tune.activationLayer ?? report.layer))'"
                let candidates = tune.candidates.map { String(format: "%@ %.4f", $0.method, $0.heldOut.loss) }
                line += "\n  held-out loss by candidate: \(candidates.joined(separator: ", ")); wrote \(tune.chosen)"
            }
            for note in report.notes { line += "\n  note: \(Escaped.text(note))" }
            return line
        }
    }
}

/// The ranges numeric options are checked against where they are converted.
enum Limits {
    static let epochs = 1...1_000_000
    static let batchSize = 1...(1 << 24)
    /// float32 keeps these as normal numbers, and steps beyond 1000 only diverge.
    static let learningRate = 1e-30...1e3
    /// MiB; shifted to bytes it stays far inside `Int`.
    static let inMemoryMiB = 0...(1 << 30)
}

/// Which paths name the same output file.
enum OutputCollisions {
    /// The path with its directory resolved (`a/../b/m.h5` and `b/m.h5` give one key); a missing directory
    /// is taken as written.
    static func key(_ path: String) -> String {
        let directory = OutputPath.directory(of: path)
        let name = (path as NSString).lastPathComponent
        guard let resolved = realpath(directory, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved) + "/" + name
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
