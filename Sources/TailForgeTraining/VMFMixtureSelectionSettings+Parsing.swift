import Foundation

extension VMFMixtureSelectionSettings {
    /// The K_max values `--mixture-max-modes` accepts: those the fitter takes.
    public static var maxModesRange: ClosedRange<Int> { VMFMixtureSettings.maxModesRange }
    /// The κ₀ multiples of d `--mixture-prior-concentration` accepts (κ₀ = multiple·d must stay within the range
    /// the vMF normaliser is accurate in).
    public static let priorMultipleRange: ClosedRange<Double> = 1e-6 ... 1e6

    /// The candidates of `--mixture-max-modes` ("2,3"): whole numbers in ``maxModesRange``, each once; returned ascending
    /// (the grid order ties are broken in).
    public static func maxModesGrid(parsing text: String, option: String = "--mixture-max-modes") throws(TrainingError) -> [Int] {
        let values = try parseList(text, option: option, example: "2,3") { Int($0).flatMap { maxModesRange.contains($0) ? Double($0) : nil } }
        return values.map { Int($0) }
    }

    /// The candidates of `--mixture-prior-concentration` ("0.5,1,1.5"): positive multiples of d in ``priorMultipleRange``,
    /// each once; returned ascending.
    public static func priorConcentrationMultiples(parsing text: String, option: String = "--mixture-prior-concentration") throws(TrainingError) -> [Double] {
        try parseList(text, option: option, example: "0.5,1,1.5,2,3,5") { item in
            Double(item).flatMap { $0.isFinite && priorMultipleRange.contains($0) ? $0 : nil }
        }
    }

    private static func parseList(_ text: String, option: String, example: String,
                                  value: (String) -> Double?) throws(TrainingError) -> [Double] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let expected = option == "--mixture-max-modes"
            ? "comma-separated whole numbers from \(maxModesRange.lowerBound) to \(maxModesRange.upperBound)"
            : "comma-separated multiples of the dimension d from 1e-6 to 1e6"
        guard items.contains(where: { !$0.isEmpty }) else {
            throw .invalidSetting(name: option, value: "'\(text)'", expected: "\(expected), e.g. \(example)")
        }
        var values: [Double] = []
        for item in items {
            guard let v = value(item) else {
                let what = item.isEmpty ? "an empty entry" : "'\(item)'"
                throw .invalidSetting(name: option, value: "'\(text)'", expected: "\(expected) (\(what) is not one), e.g. \(example)")
            }
            guard !values.contains(v) else {
                throw .invalidSetting(name: option, value: "'\(text)'", expected: "each value once (\(item) is given twice)")
            }
            values.append(v)
        }
        return values.sorted()
    }
}
