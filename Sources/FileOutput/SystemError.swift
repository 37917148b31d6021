import Foundation

/// The text of the last system call's error (`strerror(errno)`), for messages.
public func lastSystemError() -> String { String(cString: strerror(errno)) }
