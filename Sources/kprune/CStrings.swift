import Foundation

/// NUL-terminated copies of strings, as the `char *const[]` that `posix_spawn` takes.
final class CStrings {
    private var pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { string in
            guard let copy = strdup(string) else { preconditionFailure("out of memory") }
            return copy
        }
        pointers.append(nil)
    }

    func withPointers<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        pointers.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { preconditionFailure("a C string array holds at least NULL") }
            return body(base)
        }
    }

    deinit { for pointer in pointers { free(pointer) } }
}
