import Foundation

/// Several outputs of one run that appear together or not at all: each is an `AtomicOutput`, and a failure to
/// give one its name removes those already given theirs.
///
/// Writing is where runs fail (a full disk, a bad value), and every output is written completely before the
/// first is named, so a failure then leaves nothing. Naming can still fail (a file appeared at a destination
/// meanwhile); the outputs named before it are then removed again, each only if its destination is still the
/// file this run put there. An output that replaced an older file (`replacing`) cannot bring that file back:
/// the destination is then left without a file rather than with one output of a failed run.
public final class OutputSet {
    /// The outputs, in the order they were reserved and are committed.
    public let outputs: [AtomicOutput]

    /// Reserves one output per destination (see `AtomicOutput.init(destination:replacing:unnamed:)`).
    ///
    /// - Parameters:
    ///   - destinations: the final paths, each different.
    ///   - replacing: whether existing regular files may be replaced.
    /// - Throws: `OutputError` from the first reservation that fails; those made before are discarded.
    public init(destinations: [String], replacing: Bool) throws {
        var reserved: [AtomicOutput] = []
        for destination in destinations {
            do {
                reserved.append(try AtomicOutput(destination: destination, replacing: replacing))
            } catch {
                for output in reserved { output.discard() }
                throw error
            }
        }
        outputs = reserved
    }

    /// Gives every output its final name, in order; on the first failure, removes the outputs already named
    /// and discards the rest.
    ///
    /// - Throws: the `OutputError` of the output that could not be named.
    public func commit() throws {
        var committed: [(path: String, identity: FileIdentity?)] = []
        for output in outputs {
            do {
                try output.commit()
                committed.append((output.destination, FileIdentity(of: output.destination)))
            } catch {
                for earlier in committed
                where earlier.identity != nil && FileIdentity(of: earlier.path) == earlier.identity {
                    unlink(earlier.path)
                }
                discard()
                throw error
            }
        }
    }

    /// Removes every output not yet committed.
    public func discard() {
        for output in outputs { output.discard() }
    }
}
