import FileOutput
import Testing

@Suite struct PathComponentsTests {
    /// Paths Foundation's `deletingLastPathComponent` traps on (`a`, `y`, `-`, `a/`) among the ordinary ones.
    @Test(arguments: [
        ("a", ".", "a"), ("y", ".", "y"), ("-", ".", "-"), ("./a", ".", "a"), ("/a", "/", "a"), ("a/", ".", "a"),
        ("/", "/", "/"), ("", ".", ""), ("a/b", "a", "b"), ("a//b/", "a", "b"), ("//a", "/", "a"),
        ("../m.h5", "..", "m.h5"), ("/x/y/m.h5", "/x/y", "m.h5"),
    ])
    func splitsAPathAsDirnameAndBasenameDo(path: String, directory: String, name: String) {
        #expect(PathComponents.directory(of: path) == directory)
        #expect(PathComponents.lastComponent(of: path) == name)
    }

    @Test func joinsWithOneSlash() {
        #expect(PathComponents.joining(".", "a") == "./a")
        #expect(PathComponents.joining("/", "a") == "/a")
        #expect(PathComponents.joining("d/", "a") == "d/a")
    }
}
