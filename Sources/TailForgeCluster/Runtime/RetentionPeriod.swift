/// A duration as operators write it on a command line: a number and a unit (`90s`, `30m`, `12h`, `7d`).
public enum RetentionPeriod {
    /// Seconds in `text`, or nil when it is not a non-negative number with a unit s, m, h or d.
    public static func seconds(_ text: String) -> Double? {
        guard let unit = text.last, let value = Double(text.dropLast()), value.isFinite, value >= 0 else { return nil }
        switch unit {
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3_600
        case "d": return value * 86_400
        default: return nil
        }
    }
}
