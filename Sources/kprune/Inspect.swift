import ArgumentParser
import Foundation
import PruningEngine

extension Kprune {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a Keras file's format, layers in forward order, weights and zero counts.")

        @Argument(help: "A Keras file: .h5, .keras or .weights.h5.")
        var input: String

        @Flag(help: "Print one JSON object on standard output.")
        var json = false

        func run() throws {
            let report: InspectionReport
            do {
                report = try Inspector.inspect(input)
            } catch {
                ErrorLine.report(error, file: input)
                throw ExitCode.failure
            }
            print(json ? jsonLine(report) : text(report))
        }

        private func text(_ report: InspectionReport) -> String {
            var lines = ["\(report.file): \(report.format)" + (report.kerasVersion.map { ", Keras \($0)" } ?? "")]
            if let final = report.finalLayer {
                lines.append("final layer: \(final)")
            } else {
                lines.append("final layer: none (\(report.finalLayerProblem ?? "unknown"); choose with --layer)")
            }
            lines.append("layers in forward order:")
            for layer in report.layers {
                let marker = layer.final ? "* " : "  "
                var heading = "\(marker)\(layer.name)"
                if let className = layer.className { heading += " (\(className))" }
                if let activation = layer.activation { heading += " activation=\(activation)" }
                lines.append(heading)
                for weight in layer.weights {
                    let shape = "(" + weight.shape.map(String.init).joined(separator: ", ") + ")"
                    var line = "      \(weight.name) \(shape) \(weight.dtype)"
                    if let zeros = weight.zeros { line += " zeros=\(zeros)" }
                    if let role = weight.role { line += " [\(role)]" }
                    lines.append(line)
                }
            }
            lines.append("optimizer weights: \(report.optimizerWeights)")
            return lines.joined(separator: "\n")
        }
    }
}
