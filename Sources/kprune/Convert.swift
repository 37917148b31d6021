import ArgumentParser
import FileOutput
import FineTune
import Foundation
import KerasFormat
import Pipeline
import Sparsity

extension Kprune {
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prune a layer's kernel to an exact zero count and write a new Keras file.",
            discussion: """
                The output goes beside each input (m.h5 -> m.pruned.h5, m.keras -> m.pruned.keras, \
                w.weights.h5 -> w.pruned.weights.h5) unless -o or --output-dir says otherwise. It is written \
                to a file that gets its name only when complete; the input is never written.
                """)

        @Argument(help: "Keras files: .h5, .keras or .weights.h5.")
        var inputs: [String]

        @Option(help: "Fraction of the kernel to make zero, from 0 to 1 (rounded to the nearest count, halves up).")
        var sparsity: Double?

        @Option(help: "Exact number of zeros the kernel must hold.")
        var zeros: Int?

        @Option(help: "Layer to prune instead of the final one: a name, or a nested path such as outer/head.")
        var layer: String?

        @Option(
            help: ArgumentHelp(
                "Where zeros go: N:M keeps N of every M consecutive inputs of each output unit (2:4; the count follows, no --sparsity or --zeros); balanced gives every output unit the same zeros (with --sparsity or --zeros).",
                valueName: "N:M|balanced"))
        var pattern: String?

        @OptionGroup(title: "Output")
        var outputs: OutputOptions

        @OptionGroup(title: "Fine-tuning")
        var fineTune: FineTuneArguments

        @OptionGroup(title: "Evaluation")
        var evaluation: EvaluationArguments

        @OptionGroup
        var report: ReportOptions

        @Flag(help: "Print nothing on success.")
        var quiet = false

        /// The zeros asked for, by `--sparsity` or `--zeros`.
        private var target: ZeroTarget { sparsity.map(ZeroTarget.sparsity) ?? .zeros(zeros ?? 0) }

        /// The pattern asked for: N:M, balanced over the target, or the target anywhere in the kernel.
        private var sparsityPattern: any SparsityPattern {
            get throws {
                switch try PatternOption.parse(pattern) {
                case .nOfM(let kept, let group): return try NMPattern(kept: kept, of: group)
                case .balanced: return BalancedPattern(target)
                case .none: return ExactCount(target)
                }
            }
        }

        func validate() throws {
            let parsed = try PatternOption.parse(pattern)
            if case .nOfM(let kept, let group) = parsed {
                guard sparsity == nil, zeros == nil else {
                    throw ValidationError(
                        "--pattern \(kept):\(group) sets the count itself: give no --sparsity or --zeros")
                }
                if outputs.output != nil, inputs.count > 1 {
                    throw ValidationError("-o names one output; use --output-dir with several inputs")
                }
                return
            }
            guard (sparsity == nil) != (zeros == nil) else {
                throw ValidationError("give exactly one of --sparsity F or --zeros N")
            }
            do {
                try target.validate()
            } catch {
                // The library decides; the message names the flag.
                switch target {
                case .sparsity(let fraction):
                    throw ValidationError(
                        "--sparsity \(fraction) is outside [0, 1]"
                            + (fraction.sign == .minus ? ": it is negative" : ""))
                case .zeros(let count):
                    throw ValidationError("--zeros \(count) is negative")
                }
            }
            if outputs.output != nil, inputs.count > 1 {
                throw ValidationError("-o names one output; use --output-dir with several inputs")
            }
        }

        func run() throws {
            ErrorLine.verbose = report.verbose
            // Every output is checked against all inputs before any work, once, in the process that has them all.
            if !Isolation.isChild { try checkOutputs(inputs.map(outputs.destination(for:))) }
            // Each input is worked on in a child process (Isolation.swift): here, in the child, its one input.
            let inputs = try Isolation.inputsForThisProcess(
                inputs, outputFile: outputs.output,
                outputDirectory: outputs.outputDir)
            Signals.install()
            let progress = ProgressLine(quiet: quiet)
            var failures = 0
            for input in inputs {
                do {
                    try convert(input, progress: progress)
                } catch {
                    progress.clear()
                    ErrorLine.report(error, file: input)
                    failures += 1
                }
            }
            if failures > 0 { throw ExitCode.failure }
        }

        /// Converts one input and prints its result.
        private func convert(_ input: String, progress: ProgressLine) throws {
            let destination = outputs.destination(for: input)
            let request = ConversionRequest(
                input: input, output: destination, pattern: try sparsityPattern, layer: layer,
                overwrite: outputs.force, inPlace: outputs.inPlace,
                calibration: fineTune.calibration, evaluation: evaluation.evaluation)
            StructureDeadline.arm()
            defer { StructureDeadline.disarm() }
            let result = try Converter.convert(request, observer: ConsoleObserver(input: input, progress: progress))
            progress.clear()
            if report.json {
                print(jsonLine(result))
            } else if !quiet {
                print(summary(result))
            }
        }

        /// Refuses, before any work, outputs that collide (two inputs writing one file, or an output that is
        /// another input: exit 64) and outputs that cannot be written at all (exit 1). An output that already
        /// exists is left to each conversion, which reports it and goes on with the other inputs.
        private func checkOutputs(_ destinations: [String]) throws {
            var firstInput: [String: String] = [:]
            let inputKeys = Dictionary(
                inputs.map { (OutputCollisions.key($0), $0) }, uniquingKeysWith: { first, _ in first })
            var collisions: [String] = []
            for (input, destination) in zip(inputs, destinations) {
                let key = OutputCollisions.key(destination)
                if let earlier = firstInput[key] {
                    collisions.append(
                        "error: \(Escaped.text(destination)): the outputs of \(Escaped.text(earlier)) and "
                            + "\(Escaped.text(input)) are the same file (give each input its own output)")
                } else if let other = inputKeys[key], other != input || !outputs.inPlace,
                    OutputCollisions.key(input) != key
                {
                    collisions.append(
                        "error: \(Escaped.text(destination)): the output of \(Escaped.text(input)) is the "
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

        /// The evaluation lines: the dense model, the written result and magnitude pruning at the same count.
        static func describe(_ eval: EvaluationReport) -> String {
            func figures(_ figures: EvaluationReport.Figures) -> String {
                var parts: [String] = []
                if let accuracy = figures.accuracy { parts.append(String(format: "accuracy %.4f", accuracy)) }
                if let agreement = figures.agreement { parts.append(String(format: "agreement %.4f", agreement)) }
                if let loss = figures.loss { parts.append(String(format: "loss %.4f", loss)) }
                return parts.isEmpty ? "no figure applies" : parts.joined(separator: ", ")
            }
            return "\n  evaluation data (\(eval.samples) samples the fine-tune never saw): "
                + "dense \(figures(eval.dense)); written \(figures(eval.written)); "
                + "magnitude at the same count \(figures(eval.magnitude))"
        }

        private func summary(_ report: ConversionReport) -> String {
            let shape = report.kernelShape.map(String.init).joined(separator: "x")
            var line =
                "\(Escaped.text(report.input)) -> \(Escaped.text(report.output)): \(Escaped.text(report.layer)) "
                + "kernel \(shape) \(report.dtype), "
            line += "zeros \(report.zerosBefore) -> \(report.zerosAfter) of \(report.size)"
            line += String(
                format: " (%.2f%%), %@, %.2fs", 100 * Double(report.zerosAfter) / Double(max(report.size, 1)),
                report.method, report.seconds)
            if let tune = report.fineTune {
                func describe(_ metrics: SplitMetrics) -> String {
                    var text = String(format: "loss %.4f, agreement %.3f", metrics.loss, metrics.agreement)
                    if let accuracy = metrics.accuracy { text += String(format: ", accuracy %.3f", accuracy) }
                    return text
                }
                line +=
                    "\n  fine-tune: \(tune.trainSamples) samples\(tune.streamed ? " (streamed)" : ""), \(tune.epochs) epochs, \(tune.steps) steps"
                line +=
                    "\n  held-out calibration rows (\(tune.heldOutSamples) samples): before \(describe(tune.before)); after \(describe(tune.after))"
                line +=
                    "\n  loss: \(tune.objective), following the \(tune.activation) activation of layer "
                    + "'\(Escaped.text(tune.activationLayer ?? report.layer))'"
                let candidates = tune.candidates.map { String(format: "%@ %.4f", $0.method, $0.heldOut.loss) }
                line += "\n  held-out loss by candidate: \(candidates.joined(separator: ", ")); wrote \(tune.chosen)"
            }
            if let eval = report.eval { line += Self.describe(eval) }
            for note in report.notes { line += "\n  note: \(Escaped.text(note))" }
            return line
        }
    }
}

/// Which paths name the same output file.
enum OutputCollisions {
    /// The path with its directory resolved (`a/../b/m.h5` and `b/m.h5` give one key); a missing directory
    /// is taken as written.
    static func key(_ path: String) -> String {
        let directory = PathComponents.directory(of: path)
        let name = PathComponents.lastComponent(of: path)
        guard let resolved = realpath(directory, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved) + "/" + name
    }
}
