import Foundation
import Testing

@testable import kprune

/// `ArgumentScan` keeps its own lists of kprune's options; these tests hold them to the commands' own, as
/// ArgumentParser describes them (`--experimental-dump-help`), so a new option cannot be forgotten.
@Suite struct ArgumentScanTests {
    static let commands = ["convert", "sweep", "check", "inspect", "predict"]

    /// Each named argument of `command`: its names (`-o`, `--output-file`) and whether it takes a value.
    static func options(of command: String) throws -> [(names: [String], takesValue: Bool)] {
        let run = try Run([command, "--experimental-dump-help"])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let described = try #require(root["command"] as? [String: Any])
        let arguments = described["arguments"] as? [[String: Any]] ?? []
        return arguments.compactMap { argument in
            guard let kind = argument["kind"] as? String, kind != "positional" else { return nil }
            let names = (argument["names"] as? [[String: Any]] ?? []).compactMap { name -> String? in
                guard let text = name["name"] as? String else { return nil }
                return (name["kind"] as? String == "short" ? "-" : "--") + text
            }
            return (names, kind == "option")
        }
    }

    @Test func theListsAreEveryCommandsOptions() throws {
        var valued: Set<String> = []
        var flags: Set<String> = []
        for command in Self.commands {
            for option in try Self.options(of: command) {
                if option.takesValue { valued.formUnion(option.names) } else { flags.formUnion(option.names) }
                if option.names.contains("-o") {
                    #expect(option.names.contains(try #require(ArgumentScan.outputLongNames[command])), "\(command)")
                }
            }
        }
        #expect(ArgumentScan.numericOptions.union(ArgumentScan.valueOptions) == valued)
        #expect(ArgumentScan.flags == flags)
    }

    /// `--name=value` of every real option is an option, whatever the value looks like.
    @Test(arguments: commands)
    func everyOptionWithItsValueJoinedIsAnOption(command: String) throws {
        for option in try Self.options(of: command) where option.takesValue {
            for name in option.names where name.hasPrefix("--") {
                let arguments = [command, "m.h5", "\(name)=x.npy"]
                #expect(try ArgumentScan.prepare(arguments) == arguments)
            }
        }
    }

    @Test func aDashNamedValueOfMinusOJoinsTheCommandsOwnLongName() throws {
        #expect(
            try ArgumentScan.prepare(["predict", "m.h5", "-o", "-p.npy"]) == [
                "predict", "m.h5", "--output-file=-p.npy",
            ])
        #expect(try ArgumentScan.prepare(["convert", "m.h5", "-o", "-p.h5"]) == ["convert", "m.h5", "--output=-p.h5"])
    }

    @Test func predictTakesJoinedDataAndOutputFile() throws {
        let run = try Run(["predict", "missing.h5", "--data=x.npy", "--output-file=p.npy"])
        #expect(run.status == 1)
        #expect(run.stderrLines == ["error: missing.h5: no such file"])
    }
}
