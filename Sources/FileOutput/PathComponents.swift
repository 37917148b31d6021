/// A path's directory and last component, worked out from its text alone, as POSIX `dirname` and `basename` do.
///
/// Foundation's `NSString.deletingLastPathComponent` traps on a one-character relative path (`a`, `-`) and on
/// `a/` in swift-corelibs-foundation, so kprune never uses it: every path the user gives reaches these
/// functions instead. Nothing here touches the file system.
public enum PathComponents {
    /// The directory `path` lies in: its text before the last component, without trailing slashes; `.` for
    /// a name without a directory (`a`, `-`, `a/`), `/` for a name in the root (`/a`) and for `/` itself.
    ///
    /// - Parameter path: a path, absolute or relative, as the user gave it.
    /// - Returns: the directory's path, never empty.
    public static func directory(of path: String) -> String {
        var text = Substring(path)
        let absolute = text.hasPrefix("/")
        text = withoutTrailingSlashes(text)
        guard let slash = text.lastIndex(of: "/") else { return absolute ? "/" : "." }
        let parent = withoutTrailingSlashes(text[..<slash])
        return parent.isEmpty ? "/" : String(parent)
    }

    /// The last component of `path`, without trailing slashes: `a` for `./a`, `/a` and `a/`; `/` for `/`;
    /// empty for an empty path.
    ///
    /// - Parameter path: a path, absolute or relative, as the user gave it.
    /// - Returns: the file name `path` ends with.
    public static func lastComponent(of path: String) -> String {
        let text = withoutTrailingSlashes(Substring(path))
        if text.isEmpty { return path.isEmpty ? "" : "/" }
        guard let slash = text.lastIndex(of: "/") else { return String(text) }
        return String(text[text.index(after: slash)...])
    }

    /// `name` in `directory`: `directory/name`, with one slash between them.
    ///
    /// - Parameters:
    ///   - directory: a directory's path.
    ///   - name: a file name (one component).
    /// - Returns: the joined path.
    public static func joining(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    private static func withoutTrailingSlashes(_ text: Substring) -> Substring {
        var result = text
        while result.hasSuffix("/") { result = result.dropLast() }
        return result
    }
}
