import ArgumentParser
import FineTune
import Foundation
import Pipeline
import Sparsity

extension Kprune {
    struct SweepCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sweep",
            abstract: "Prune a layer to several zero counts and score each: how far can it go?",
            discussion: """
                Each point's result is what `kprune convert --sparsity F` with the same options gives; the work \
                that does not depend on the count (reading the model, the forward pass over the data) is done \
                once. Nothing is written but the picked result of --pick RULE -o OUT. Without --data or \
                --features, each point is data-free magnitude \
                pruning, and the share of the kernel's squared magnitude it removes is shown as a proxy.
                """)

        @Argument(help: "Keras files: .h5, .keras or .weights.h5.")
        var inputs: [String]

        @Option(
            parsing: .upToNextOption,
            help: ArgumentHelp(
                "The points, as fractions of the kernel (default 0.5 0.6 0.7 0.8 0.85 0.9 0.93 0.95 0.97 0.98 0.99); commas or spaces between them.",
                valueName: "F"))
        var sparsities: [String] = []

        @Option(help: "Layer to prune instead of the final one: a name, or a nested path such as outer/head.")
        var layer: String?

        @Option(
            help: ArgumentHelp(
                "balanced: every output unit gets the same zeros at each point (an N:M pattern has one count: convert it).",
                valueName: "balanced"))
        var pattern: String?

        @OptionGroup(title: "Fine-tuning")
        var fineTune: FineTuneArguments

        @OptionGroup(title: "Evaluation")
        var evaluation: EvaluationArguments

        @Option(
            help: ArgumentHelp(
                "Pick the most zeros that meet RULE (accuracy>=0.97, agreement>=0.99, loss<=0.1; on the evaluation data when given, else on the held-out calibration rows), bisecting between the last point that meets it and the next.",
                valueName: "RULE"))
        var pick: String?

        @Option(
            name: [.customShort("o"), .customLong("output")],
            help: "Write the picked result here: the file `kprune convert --zeros Z` with the same options writes.")
        var output: String?

        @Flag(help: "Replace an existing output file.")
        var force = false

        @Flag(help: "Print one JSON object per point on standard output.")
        var json = false

        @Flag(help: "Print the points as CSV on standard output, with a header line.")
        var csv = false

        @Flag(help: "Print the full error chain, not only its first line.")
        var verbose = false

        /// The points asked for, in order.
        private func points() throws -> [Double] {
            let texts = sparsities.flatMap { $0.split(separator: ",").map(String.init) }
            guard !texts.isEmpty else { return SweepRequest.defaultSparsities }
            return try texts.map { text in
                guard let value = Double(text.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--sparsities: '\(text)' is not a number")
                }
                guard value.isFinite, value >= 0, value <= 1, value.sign == .plus else {
                    throw ValidationError("--sparsities: \(text) is outside [0, 1]")
                }
                return value
            }
        }

        func validate() throws {
            if json, csv { throw ValidationError("give --json or --csv, not both") }
            if case .nOfM(let kept, let group) = try PatternOption.parse(pattern) {
                throw ValidationError(
                    "--pattern \(kept):\(group) has one count: convert it with kprune convert --pattern \(kept):\(group)"
                )
            }
            if let pick, SweepRule(pick) == nil {
                throw ValidationError(
                    "--pick \(pick): give METRIC>=X or METRIC<=X with accuracy, agreement or loss")
            }
            if output != nil, pick == nil { throw ValidationError("-o writes the picked result: give --pick") }
            if output != nil, inputs.count > 1 { throw ValidationError("-o names one output; sweep one input") }
            let points = try points()
            guard points.count <= 1000 else { throw ValidationError("--sparsities: at most 1000 points") }
        }

        func run() throws {
            ErrorLine.verbose = verbose
            let points = try points()
            // Each input is worked on in a child process (Isolation.swift): here, in the child, its one input.
            let inputs = try Isolation.inputsForThisProcess(inputs)
            Signals.install()
            let progress = ProgressLine(quiet: false)
            var failures = 0
            for input in inputs {
                do {
                    try sweep(input, points: points, progress: progress)
                } catch {
                    progress.clear()
                    ErrorLine.report(error, file: input)
                    failures += 1
                }
            }
            if failures > 0 { throw ExitCode.failure }
        }

        private func sweep(_ input: String, points: [Double], progress: ProgressLine) throws {
            var request = SweepRequest(
                input: input, layer: layer, sparsities: points, calibration: fineTune.calibration,
                evaluation: evaluation.evaluation, pick: pick.flatMap(SweepRule.init))
            request.balanced = pattern == "balanced"
            StructureDeadline.arm()
            var done = 0
            progress.update("\(input): sweeping", 0)
            let results = try Pipeline.Sweep.run(request) { point in
                StructureDeadline.disarm()
                done += 1
                progress.update("\(input): sweeping", Double(done) / Double(max(points.count, 1)))
                if json { print(jsonLine(point)) }
            }
            progress.clear()
            if csv {
                print(SweepTable.csv(results))
            } else if !json {
                print(SweepTable.text(results))
            }
            guard let picked = results.last, picked.picked == true else { return }
            let bisections = results.count { $0.bisection == true }
            if let output {
                // The picked count, converted afresh with the same options: the file convert --zeros writes.
                let conversion = ConversionRequest(
                    input: input, output: output,
                    pattern: pattern == "balanced"
                        ? BalancedPattern(.zeros(picked.zeros)) as any SparsityPattern
                        : ExactCount(.zeros(picked.zeros)),
                    layer: layer, overwrite: force, calibration: fineTune.calibration)
                StructureDeadline.arm()
                defer { StructureDeadline.disarm() }
                _ = try Converter.convert(conversion)
            }
            if !json, !csv {
                print(
                    "picked: \(picked.zeros) zeros (sparsity \(String(format: "%.4f", picked.sparsity))) meet "
                        + "\(pick ?? ""), after \(bisections) bisection fine-tune\(bisections == 1 ? "" : "s")"
                        + (output.map { "; wrote \(Escaped.text($0))" } ?? ""))
            }
        }
    }
}

/// A sweep's points as a table: the columns that apply to it, as text or CSV.
enum SweepTable {
    struct Column {
        let title: String, key: String
        let value: (SweepPoint) -> String?
    }

    static func columns(_ points: [SweepPoint]) -> [Column] {
        func number(_ value: Double?, _ digits: Int = 4) -> String? {
            value.map { String(format: "%.\(digits)f", $0) }
        }
        var columns = [
            Column(title: "sparsity", key: "sparsity") { String(format: "%.4g", $0.sparsity) },
            Column(title: "zeros", key: "zeros") { "\($0.zeros)" },
        ]
        let tuned = points.contains { $0.fineTune != nil }
        if tuned {
            columns += [
                Column(title: "held-out loss", key: "held_out_loss") { number($0.fineTune?.after.loss) },
                Column(title: "held-out agreement", key: "held_out_agreement") {
                    number($0.fineTune?.after.agreement)
                },
            ]
            if points.contains(where: { $0.fineTune?.after.accuracy != nil }) {
                columns.append(
                    Column(title: "held-out accuracy", key: "held_out_accuracy") {
                        number($0.fineTune?.after.accuracy)
                    })
            }
        } else {
            columns.append(
                Column(title: "removed magnitude² (proxy)", key: "removed_magnitude") {
                    number($0.removedMagnitude)
                })
        }
        if points.contains(where: { $0.eval?.accuracy != nil }) {
            columns += [
                Column(title: "eval accuracy", key: "eval_accuracy") { number($0.eval?.accuracy) },
                Column(title: "magnitude eval accuracy", key: "magnitude_eval_accuracy") {
                    number($0.eval?.magnitude.accuracy)
                },
            ]
        }
        if points.contains(where: { $0.eval?.agreement != nil }) {
            columns += [
                Column(title: "eval agreement", key: "eval_agreement") { number($0.eval?.agreement) },
                Column(title: "magnitude eval agreement", key: "magnitude_eval_agreement") {
                    number($0.eval?.magnitude.agreement)
                },
            ]
        }
        if points.contains(where: { $0.eval?.loss != nil }) {
            columns.append(Column(title: "eval loss", key: "eval_loss") { number($0.eval?.loss) })
        }
        if tuned { columns.append(Column(title: "chosen", key: "chosen") { $0.chosen }) }
        columns.append(Column(title: "seconds", key: "seconds") { number($0.seconds, 2) })
        if points.contains(where: { $0.picked == true }) {
            columns.append(
                Column(title: "point", key: "point") {
                    $0.picked == true ? "picked" : $0.bisection == true ? "bisection" : ""
                })
        }
        return columns
    }

    /// Aligned columns under a line naming the input, the layer and what the figures are measured on.
    static func text(_ points: [SweepPoint]) -> String {
        guard let first = points.first else { return "" }
        let columns = columns(points)
        // The picked record repeats a row: that row is marked instead.
        var shown = points
        if let picked = points.last, picked.picked == true {
            shown.removeLast()
            if let index = shown.lastIndex(where: { $0.zeros == picked.zeros }) { shown[index] = picked }
        }
        let rows = shown.map { point in columns.map { $0.value(point) ?? "" } }
        let widths = columns.indices.map { index in
            max(columns[index].title.count, rows.map { $0[index].count }.max() ?? 0)
        }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { String(repeating: " ", count: $1 - $0.count) + $0 }.joined(separator: "  ")
        }
        var heading =
            "\(Escaped.text(first.input)): \(Escaped.text(first.layer)) (\(first.size) weights), \(first.method)"
        if let tune = first.fineTune {
            heading += "; held-out figures on \(tune.heldOutSamples) held-out calibration samples"
        }
        if let eval = first.eval {
            heading += "; eval figures on \(eval.samples) evaluation samples the fine-tune never saw"
            if let accuracy = eval.dense.accuracy { heading += String(format: " (dense accuracy %.4f)", accuracy) }
        }
        return ([heading, line(columns.map(\.title))] + rows.map(line)).joined(separator: "\n")
    }

    /// A header line of keys, then one line per point; the input and layer lead each line.
    static func csv(_ points: [SweepPoint]) -> String {
        let columns = columns(points)
        func field(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        var lines = [(["input", "layer"] + columns.map(\.key)).joined(separator: ",")]
        for point in points {
            lines.append(
                ([field(point.input), field(point.layer)] + columns.map { field($0.value(point) ?? "") })
                    .joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }
}
