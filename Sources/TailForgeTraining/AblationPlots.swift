import Foundation
import TailForgeEngine
import TailForgeStorage

/// `tailforge ablate --plots DIR`: hands the best recipe and a baseline to the Python companion
/// (`Scripts/plots all`, matplotlib), when it and its libraries are present.
///
/// Pictures: class counts and κ of the best balanced recipe's set (best by held-out balanced accuracy) (materialized from the compact work file:
/// the script reads the full layout), per-class accuracy of the baseline against the best row, and the PCA of
/// one few-shot class's real and synthetic rows. The "best row" is the one chosen by held-out balanced accuracy.
public struct AblationPlots: Sendable {
    public var script: String
    public var outputDirectory: String
    public var python: String

    public init(script: String, outputDirectory: String, python: String = "python3") {
        self.script = script
        self.outputDirectory = outputDirectory
        self.python = python
    }

    /// `Scripts/plots` of the checkout this executable was built in (…/.build/CONFIG/tailforge), or of the current
    /// directory; nil when neither has one.
    public static func locateScript(executable: String = CommandLine.arguments.first ?? "") -> String? {
        var candidates = [FileManager.default.currentDirectoryPath + "/Scripts/plots"]
        var directory = (URL(fileURLWithPath: executable).resolvingSymlinksInPath().path as NSString).deletingLastPathComponent
        for _ in 0..<4 {
            candidates.append(directory + "/Scripts/plots")
            directory = (directory as NSString).deletingLastPathComponent
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Why the pictures cannot be drawn here (no python3, or numpy/h5py/matplotlib missing), or nil.
    public func missingDependency() -> String? {
        let (status, _, stderr) = Self.run([python, "-c", "import numpy, h5py, matplotlib"])
        guard status == 0 else {
            let reason = stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
            return "\(python) cannot import numpy, h5py and matplotlib (\(reason)); install them with "
                + "`python3 -m pip install -r Scripts/requirements-plots.txt`"
        }
        return nil
    }

    /// Draws the pictures for `report` (from `runner`'s work files); returns the paths written.
    public func draw(_ report: AblationReport, runner: AblationRunner) throws -> [String] {
        let rows = report.entries.flatMap { entry in entry.rows.map { (entry, $0) } }
        // The row the report chooses without test labels (``AblationReport/chosenRow``); reports from before
        // held-out scores were recorded fall back to the best test accuracy.
        let chosen = report.chosenRow
        guard let best = rows.first(where: { chosen != nil && $0.1 == chosen }) ?? rows.max(by: { $0.1.top1 < $1.1.top1 }) else { return [] }
        // The baseline: class weights when in the run, else the unweighted fit, else the best's raw row.
        let baseline = rows.first { $0.0.settings.recipe == "class-weight" && !$0.1.calibrated }
            ?? rows.first { $0.0.settings.recipe == "unweighted" && !$0.1.calibrated } ?? rows.first { $0.0 == best.0 && !$0.1.calibrated }!
        // The balanced set pictured: the balanced row a user without test labels would pick (held-out score;
        // test top-1 only for reports from before held-out scores were recorded).
        let rank: ((AblationReport.Entry, AblationReport.Row)) -> Double = { $0.1.heldOutBalancedAccuracy ?? $0.1.top1 }
        let bestBalanced = rows.filter { $0.0.settings.balance != nil }.max { rank($0) < rank($1) }
        let plotData = (runner.workDirectory as NSString).appendingPathComponent("plots")
        try FileManager.default.createDirectory(atPath: plotData, withIntermediateDirectories: true)

        var reports: [String] = []
        for (index, (entry, row)) in [baseline, best].enumerated() {
            let path = (plotData as NSString).appendingPathComponent("report-\(index).json")
            _ = try EvaluationRunner(model: runner.modelPath(try AblationRecipe(parsing: entry.settings.recipe)), test: runner.test,
                                     training: runner.train, applyCalibration: row.calibrated, jsonOutput: path).run()
            reports.append(path)
        }
        var balanced: String?
        if let (entry, _) = bestBalanced {
            let full = (plotData as NSString).appendingPathComponent("\(entry.settings.recipe).full.h5")
            _ = try CompactMaterializer(input: runner.balancedPath(try AblationRecipe(parsing: entry.settings.recipe)), output: full,
                                        threads: runner.threads, computeOutputDigest: false).run()
            balanced = full
        }
        let arguments = scriptArguments(train: runner.train, test: runner.test, reports: reports,
                                        names: [baseline.1.name, best.1.name], balanced: balanced)
        let (status, stdout, stderr) = Self.run([python] + arguments)
        guard status == 0 else { throw AblationError.plotsFailed(command: "Scripts/plots all", status: status, stderr: stderr) }
        return stdout.split(separator: "\n").map(String.init)
    }

    /// `Scripts/plots all`'s command line. The class counts compare the input with a balanced set, so `--input`
    /// goes only with `--balanced`: a grid of unbalanced recipes (`--recipes unweighted,class-weight`) draws the
    /// accuracy picture alone (the script refuses `--input` without `--balanced`, and the whole run failed on it).
    func scriptArguments(train: String, test: String, reports: [String], names: [String], balanced: String?) -> [String] {
        var arguments = [script, "all", "--train", train, "--test", test, "--reports"] + reports + ["--names"] + names
            + ["--out-dir", outputDirectory]
        if let balanced { arguments += ["--input", train, "--balanced", balanced] }
        return arguments
    }

    static func run(_ command: [String]) -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { return (127, "", "\(error)") }
        // The script writes a few lines to each pipe; stdout is drained first, then stderr, then the exit is awaited.
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}
