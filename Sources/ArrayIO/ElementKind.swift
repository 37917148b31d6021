/// What an array's elements are.
public enum ElementKind: Sendable, Equatable {
    case float, integer, boolean
}
