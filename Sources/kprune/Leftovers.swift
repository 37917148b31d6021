import FileOutput
import Foundation

/// kprune's temporary names, and removing those a dead child left.
enum Leftovers {
    /// `AtomicOutput`'s `.kprune-PID-XXXXXX.tmp`, a `.keras` archive's `.kprune-PID-UUID.staging` and an `.npz`
    /// member's `.kprune-UUID.npz` directory.
    static func isTemporaryName(_ name: String) -> Bool {
        name.hasPrefix(".kprune-") && [".tmp", ".staging", ".npz"].contains { name.hasSuffix($0) }
    }

    /// The temporary entries now present in each directory, by full path.
    static func list(in directories: [String]) -> Set<String> {
        var found: Set<String> = []
        for directory in directories {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                continue  // a missing directory holds no leftovers
            }
            for name in names where isTemporaryName(name) { found.insert(directory + "/" + name) }
        }
        return found
    }

    /// Removes the temporary entries that appeared since `before` was listed and that child `pid` made (their
    /// names carry its pid): another kprune working in the same directory keeps its own.
    static func remove(in directories: [String], except before: Set<String>, madeBy pid: pid_t) {
        let prefix = TemporaryName.prefix(for: pid)
        for path in list(in: directories).subtracting(before)
        where PathComponents.lastComponent(of: path).hasPrefix(prefix) {
            do {
                try FileManager.default.removeItem(atPath: path)
            } catch {
                printError("warning: cannot remove \(path): \(error.localizedDescription)")
            }
        }
    }
}
