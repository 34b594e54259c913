import Foundation

/// Top-1 accuracy of predictions, overall, per class and — given the long-tailed training counts — per
/// many-shot (> 100 training samples), medium-shot (20–100) and few-shot (< 20) class group, as the
/// long-tail literature reports them.
public struct Evaluation: Codable, Sendable, Equatable {
    /// The long-tail class groups by training-sample count.
    public enum ShotGroup: String, Codable, Sendable, CaseIterable {
        case many, medium, few

        public init(trainingSamples: Int) {
            self = trainingSamples > 100 ? .many : trainingSamples >= 20 ? .medium : .few
        }
    }

    /// One class's test results (and its training count and group when known).
    public struct ClassResult: Codable, Sendable, Equatable {
        public var classId: Int
        public var name: String?
        public var samples: Int
        public var correct: Int
        /// nil when the class has no test samples.
        public var accuracy: Double?
        public var trainingSamples: Int?
        public var group: ShotGroup?
    }

    /// The test results of all classes in one shot group.
    public struct GroupResult: Codable, Sendable, Equatable {
        public var group: ShotGroup
        public var classes: Int
        public var samples: Int
        public var correct: Int
        /// correct / samples over the group's test samples (nil without samples).
        public var accuracy: Double?
    }

    public var samples: Int
    public var correct: Int
    public var top1Accuracy: Double
    /// Mean over classes with test samples of their accuracy (equals top-1 on a balanced test set).
    public var meanClassAccuracy: Double
    public var perClass: [ClassResult]
    /// Present when training counts were given.
    public var groups: [GroupResult]?
    /// The logit adjustment τ applied to the model's scores (`train --calibrate`), nil when none was.
    public var logitAdjustmentTau: Double? = nil
    /// The type of model scored; nil for a softmax model (whose reports are unchanged from before model types).
    public var modelType: ModelType? = nil

    /// - Parameters:
    ///   - predictions: predicted class per test row.
    ///   - labels: true class per test row; each must be in `0 ..< classCount`.
    ///   - trainingCounts: training samples per class in the original long-tailed training set.
    public init(predictions: [Int32], labels: [Int32], classCount: Int, trainingCounts: [Int]? = nil,
                classNames: [String]? = nil, source: String = "test data") throws(TrainingError) {
        guard predictions.count == labels.count else {
            throw .labelCountMismatch(shard: source, rows: predictions.count, labels: labels.count)
        }
        guard !labels.isEmpty else { throw .emptyShard(shard: source) }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
            throw .labelOutOfRange(shard: source, row: bad, label: labels[bad], classCount: classCount)
        }
        if let trainingCounts, trainingCounts.count != classCount {
            throw .invalidSetting(name: "training class counts", value: "\(trainingCounts.count) classes",
                                  expected: "one count per model class (\(classCount))")
        }
        var samplesPerClass = [Int](repeating: 0, count: classCount)
        var correctPerClass = [Int](repeating: 0, count: classCount)
        for (p, y) in zip(predictions, labels) {
            samplesPerClass[Int(y)] += 1
            if p == y { correctPerClass[Int(y)] += 1 }
        }
        perClass = (0 ..< classCount).map { c in
            ClassResult(classId: c, name: classNames.flatMap { c < $0.count ? $0[c] : nil },
                        samples: samplesPerClass[c], correct: correctPerClass[c],
                        accuracy: samplesPerClass[c] > 0 ? Double(correctPerClass[c]) / Double(samplesPerClass[c]) : nil,
                        trainingSamples: trainingCounts?[c],
                        group: trainingCounts.map { ShotGroup(trainingSamples: $0[c]) })
        }
        samples = labels.count
        correct = correctPerClass.reduce(0, +)
        top1Accuracy = Double(correct) / Double(samples)
        let classAccuracies = perClass.compactMap(\.accuracy)
        meanClassAccuracy = classAccuracies.reduce(0, +) / Double(classAccuracies.count)
        groups = trainingCounts.map { _ in
            ShotGroup.allCases.map { group in
                let members = perClass.filter { $0.group == group }
                let s = members.reduce(0) { $0 + $1.samples }, k = members.reduce(0) { $0 + $1.correct }
                return GroupResult(group: group, classes: members.count, samples: s, correct: k,
                                   accuracy: s > 0 ? Double(k) / Double(s) : nil)
            }
        }
    }

    /// A readable summary: overall and group accuracies, then one line per class.
    public func table() -> String {
        func percent(_ v: Double?) -> String {
            guard let v else { return "     –" }
            let s = String(Int((v * 10000).rounded()))
            let padded = String(repeating: "0", count: max(0, 3 - s.count)) + s
            let text = "\(padded.dropLast(2)).\(padded.suffix(2))"
            return String(repeating: " ", count: max(0, 6 - text.count)) + text
        }
        func pad(_ s: String, _ width: Int) -> String {
            s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
        }
        var lines = ["top-1 accuracy  \(percent(top1Accuracy)) %  (\(correct) / \(samples))",
                     "mean per class  \(percent(meanClassAccuracy)) %"]
        if let modelType { lines.insert("model: \(modelType.title) (\(modelType.rawValue))", at: 0) }
        if let logitAdjustmentTau {
            lines.append("logit adjustment τ = \(logitAdjustmentTau) applied (--no-calibration for the raw scores)")
        }
        for g in groups ?? [] {
            lines.append("\(g.group.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0))  \(percent(g.accuracy)) %  (\(g.correct) / \(g.samples), \(g.classes) classes)")
        }
        lines.append("")
        lines.append(" class  train  test  correct  accuracy %  group   name")
        for r in perClass {
            lines.append("\(pad(String(r.classId), 6))  \(pad(r.trainingSamples.map(String.init) ?? "–", 5))  \(pad(String(r.samples), 4))  \(pad(String(r.correct), 7))      \(percent(r.accuracy))  \((r.group?.rawValue ?? "").padding(toLength: 6, withPad: " ", startingAt: 0))  \(r.name ?? "")")
        }
        return lines.joined(separator: "\n")
    }
}
