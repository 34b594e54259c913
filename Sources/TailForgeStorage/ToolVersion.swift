/// The version every TailForge file and wire message records, so that a file or a peer from another build is recognised.
public enum ToolVersion {
    public static let current = "0.3.0"
}
