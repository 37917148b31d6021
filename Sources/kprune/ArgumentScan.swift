/// Reads the command line before ArgumentParser does, for the two cases it would get wrong.
///
/// An input named like an option (`-x.h5`) would be taken apart as the flags `-x -. -h -5`, and `-h` prints
/// help and exits 0 having converted nothing: it is refused with a hint to put `--` before the inputs. A
/// negative number after a numeric option (`--zeros -1`) would be taken as an option and reported as a
/// missing value: it is joined to its option (`--zeros=-1`) so the option's own check says what is wrong.
enum ArgumentScan {
    /// Options that take a number.
    static let numericOptions: Set = [
        "--sparsity", "--zeros", "--epochs", "--batch-size", "--learning-rate",
        "--seed", "--validation-split", "--in-memory-limit", "--sparsities", "--min-sparsity", "--min-zeros",
    ]
    /// Options that take any other value.
    static let valueOptions: Set = [
        "-o", "--output", "--output-file", "--output-dir", "--layer", "--features",
        "--labels", "--data", "--method", "--eval-data", "--eval-features", "--eval-labels", "--pick", "--pattern",
    ]
    /// Options that take no value.
    static let flags: Set = [
        "-h", "--help", "--version", "--force", "--in-place", "--json", "--csv", "--quiet", "--verbose",
    ]
    /// The long name of `-o` in each command that has it (`--output` names an output layer in `predict`).
    static let outputLongNames = ["convert": "--output", "sweep": "--output", "predict": "--output-file"]

    /// A command line that cannot be given to ArgumentParser as it is.
    struct Refusal: Error {
        let argument: String
        let message: String
    }

    /// The arguments with negative numbers joined to their options.
    ///
    /// - Throws: `Refusal` for an argument that starts with `-` and is not an option, when it looks like a file.
    static func prepare(_ arguments: [String]) throws(Refusal) -> [String] {
        var result: [String] = []
        var index = 0
        let command = arguments.first { !$0.hasPrefix("-") } ?? ""
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                result += arguments[(index - 1)...]
                break
            }
            let next = index < arguments.count ? arguments[index] : nil
            if numericOptions.contains(argument) || valueOptions.contains(argument) {
                // A value that starts with '-' would be read as an option: joined as --name=value.
                if let next, next.hasPrefix("-"), next != "--",
                    numericOptions.contains(argument) ? looksNumeric(next) : !isOption(next)
                {
                    result.append("\(argument == "-o" ? outputLongNames[command] ?? "--output" : argument)=\(next)")
                    index += 1
                } else {
                    result.append(argument)
                    if let next, !next.hasPrefix("-") {
                        result.append(next)
                        index += 1
                    }
                }
                continue
            }
            if argument.hasPrefix("-"), argument.count > 1, !isOption(argument), looksLikeAFile(argument) {
                throw Refusal(
                    argument: argument,
                    message: "an input whose name starts with '-' is read as an option "
                        + "(put -- before the inputs: kprune convert --sparsity 0.5 -- \(argument))")
            }
            result.append(argument)
        }
        return result
    }

    /// Whether `argument` is one of kprune's options, alone or as `--name=value`.
    static func isOption(_ argument: String) -> Bool {
        let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
        return flags.contains(name) || numericOptions.contains(name) || valueOptions.contains(name)
    }

    /// `-1`, `-0.5`, `-1e-3`, `-inf`, `-nan`: what a number's text may look like.
    static func looksNumeric(_ text: String) -> Bool {
        Double(text) != nil || Int(text) != nil
    }

    /// An argument that is not an option name: a path (`-x.h5`, `-dir/m.h5`) or a run of letters longer than
    /// one short option.
    static func looksLikeAFile(_ argument: String) -> Bool {
        if argument.hasPrefix("--") { return argument.contains(".") || argument.contains("/") }
        return argument.count > 2
    }
}
