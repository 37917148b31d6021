import ArgumentParser
import Foundation

@main
struct Kprune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kprune",
        abstract: "Give a Keras model's final layer an exact number of zero weights.",
        discussion: """
            Reads Keras 2 and Keras 3 .h5 files, .keras archives and .weights.h5 files; writes a file Keras \
            loads in which only the pruned layer's kernel (and its optimizer slots) changed.
            Exit status: 0 success, 1 a file failed, 64 bad usage.
            """,
        version: "0.1.0",
        subcommands: [Convert.self, SweepCommand.self, Check.self, Inspect.self, Predict.self]
    )

    /// Parses the command line after `ArgumentScan` has refused dash-named inputs and joined negative numbers
    /// to their options, then runs the command.
    static func main() {
        let arguments: [String]
        do {
            arguments = try ArgumentScan.prepare(Array(CommandLine.arguments.dropFirst()))
        } catch {
            printError("error: \(Escaped.text(error.argument)): \(error.message)")
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        main(arguments)
    }
}
