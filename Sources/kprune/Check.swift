import ArgumentParser
import Foundation
import Pipeline

extension Kprune {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exit 0 when a layer's kernel has the zeros asked for, 1 naming what it lacks: a gate for CI.",
            discussion: """
                With --pattern N:M, every group of M consecutive inputs of each output unit must hold at most N \
                non-zero weights; with --pattern balanced, every output unit the same number of zeros.
                """)

        @Argument(help: "A Keras file: .h5, .keras or .weights.h5.")
        var input: String

        @Option(help: "Layer to check instead of the final one: a name, or a nested path such as outer/head.")
        var layer: String?

        @Option(help: "The least fraction of zeros the kernel must hold, from 0 to 1.")
        var minSparsity: Double?

        @Option(help: "The least number of zeros the kernel must hold.")
        var minZeros: Int?

        @Option(
            help: ArgumentHelp(
                "A structure the zeros must have: N:M (at most N non-zero weights in every group of M consecutive inputs of each output unit) or balanced.",
                valueName: "N:M|balanced"))
        var pattern: String?

        @OptionGroup
        var report: ReportOptions

        private var structure: KernelRequirements.Structure? {
            get throws {
                switch try PatternOption.parse(pattern) {
                case .nOfM(let kept, let group): return .nOfM(kept: kept, group: group)
                case .balanced: return .balanced
                case .none: return nil
                }
            }
        }

        func validate() throws {
            if let minSparsity {
                guard minSparsity.isFinite, (0...1).contains(minSparsity), minSparsity.sign == .plus else {
                    throw ValidationError("--min-sparsity \(minSparsity) is outside [0, 1]")
                }
            }
            if let minZeros, minZeros < 0 { throw ValidationError("--min-zeros \(minZeros) is negative") }
            if minSparsity != nil, minZeros != nil {
                throw ValidationError("give --min-sparsity or --min-zeros, not both")
            }
            _ = try PatternOption.parse(pattern)
            if minSparsity == nil, minZeros == nil, pattern == nil {
                throw ValidationError("give at least one of --min-sparsity, --min-zeros or --pattern")
            }
        }

        func run() throws {
            ErrorLine.verbose = report.verbose
            // The work is done in a child process (Isolation.swift), so a crash on a corrupt file is one line.
            guard try Isolation.inputsForThisProcess([input]) == [input] else { return }
            Signals.install()
            let result: KernelCheckReport
            do {
                StructureDeadline.arm()
                defer { StructureDeadline.disarm() }
                result = try KernelCheck.check(
                    input, layer: layer,
                    requirements: KernelRequirements(minSparsity: minSparsity, minZeros: minZeros, pattern: structure))
            } catch {
                ErrorLine.report(error, file: input)
                throw ExitCode.failure
            }
            if report.json {
                print(jsonLine(result))
            } else {
                let status = result.passed ? "passes" : "fails"
                print(
                    "\(Escaped.text(input)): \(Escaped.text(result.layer)) \(status): "
                        + result.conditions.map { "\($0.condition) \($0.passed ? "met" : "not met") (\($0.found))" }
                        .joined(separator: "; "))
            }
            if !result.passed { throw ExitCode.failure }
        }
    }
}
