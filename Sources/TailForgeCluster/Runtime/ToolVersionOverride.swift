import Foundation
import TailForgeStorage

/// The tool version a daemon announces: the build's, unless `TAILFORGE_TEST_TOOL_VERSION` is set (tests use it to
/// start a worker that looks like another release).
public enum ToolVersionOverride {
    public static let variable = "TAILFORGE_TEST_TOOL_VERSION"
    public static var current: String { ProcessInfo.processInfo.environment[variable] ?? ToolVersion.current }
}
