import ArgumentParser
import FileOutput
import FineTune
import Foundation
import Pipeline
import Sparsity

extension Kprune {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Show a Keras file's format, its layers (in forward order when it has a config), every weight and its zero count."
        )

        @Argument(help: "A Keras file: .h5, .keras or .weights.h5.")
        var input: String

        @OptionGroup
        var report: ReportOptions

        func run() throws {
            ErrorLine.verbose = report.verbose
            // The work is done in a child process (Isolation.swift), so a crash on a corrupt file is one line.
            guard try Isolation.inputsForThisProcess([input]) == [input] else { return }
            // A .keras archive is staged while it is read: a signal must remove that too.
            Signals.install()
            let inspection: InspectionReport
            do {
                StructureDeadline.arm()
                defer { StructureDeadline.disarm() }
                inspection = try Inspector.inspect(
                    input, observer: ConsoleObserver(input: input, progress: ProgressLine(quiet: true)))
            } catch {
                ErrorLine.report(error, file: input)
                throw ExitCode.failure
            }
            print(report.json ? jsonLine(inspection) : text(inspection))
        }

        /// The report as text; every name from the file is escaped, so each item stays on its line.
        private func text(_ report: InspectionReport) -> String {
            let e = Escaped.text
            var lines = ["\(e(report.file)): \(report.format)" + (report.kerasVersion.map { ", Keras \($0)" } ?? "")]
            if let final = report.finalLayer {
                lines.append("final layer: \(e(final))")
            } else {
                lines.append("final layer: none (\(e(report.finalLayerProblem ?? "unknown")); choose with --layer)")
            }
            switch report.layerOrder {
            case "forward": lines.append("layers in forward order:")
            case "layer_names":
                lines.append("layers in the order of the file's layer_names (no config: the graph is unknown):")
            default: lines.append("layers in the file's order, not the forward order (the file has no config):")
            }
            for layer in report.layers {
                let marker = layer.final ? "* " : "  "
                var heading = "\(marker)\(e(layer.name))"
                if let className = layer.className { heading += " (\(e(className)))" }
                if let activation = layer.activation { heading += " activation=\(e(activation))" }
                lines.append(heading)
                for weight in layer.weights {
                    let shape = "(" + weight.shape.map(String.init).joined(separator: ", ") + ")"
                    var line = "      \(e(weight.name)) \(shape) \(weight.dtype)"
                    if let zeros = weight.zeros {
                        line += " zeros=\(zeros)"
                        if weight.role == "kernel", weight.shape.count >= 2 {
                            let size = max(weight.shape.reduce(1, *), 1)
                            line += String(format: " (%.1f%%)", 100 * Double(zeros) / Double(size))
                        }
                    }
                    if let patterns = weight.patterns, !patterns.isEmpty {
                        line += " patterns=\(patterns.joined(separator: ","))"
                    }
                    if let role = weight.role { line += " [\(role)]" }
                    if let link = weight.link { line += " (\(e(link)), not followed)" }
                    lines.append(line)
                }
            }
            lines.append("optimizer weights: \(report.optimizerWeights)")
            return lines.joined(separator: "\n")
        }
    }
}
