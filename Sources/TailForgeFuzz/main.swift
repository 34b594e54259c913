// `tailforge-fuzz`: runs one fuzz target (TailForgeFuzzTargets) under libFuzzer when built by Scripts/fuzz
// (`-sanitize=fuzzer,address -DTAILFORGE_LIBFUZZER`); built plainly it runs the target once per input file, which
// is how a crash file from libFuzzer is replayed in a debugger. Usage: cluster/README.md, "Fuzzing".
import CTailForgeFuzzer
import Foundation
import TailForgeFuzzTargets

let usage = """
    usage: tailforge-fuzz TARGET [libFuzzer flags] [CORPUS_DIR ...]   (built by Scripts/fuzz, with libFuzzer)
           tailforge-fuzz TARGET FILE_OR_DIR ...                       (plain build: run each input once)
           tailforge-fuzz seeds DIR                                     (write the seed corpus to DIR/TARGET/)
    targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))

    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail(usage) }
if arguments[1] == "seeds" {
    guard arguments.count == 3 else { fail(usage) }
    do { try FuzzSeeds.write(to: arguments[2]) } catch { fail("cannot write the seed corpus to \(arguments[2]): \(error)") }
    exit(0)
}
guard let target = FuzzTarget(rawValue: arguments[1]) else {
    fail("unknown fuzz target '\(arguments[1])'\n" + usage)
}

/// The selected target, for the C callback (which cannot capture). Set once, before any input runs.
nonisolated(unsafe) var selected = target

/// Runs one input; a property violation traps so that libFuzzer records the input as a crash.
func runOne(_ bytes: [UInt8]) {
    if let finding = selected.run(bytes) { fatalError("fuzz target \(selected.rawValue): \(finding)") }
}

/// libFuzzer's callback by its documented name: `-sanitize=fuzzer` links libFuzzer's own `main`, which refers to
/// it, even though this program's `main` (below) is the one that runs.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    runOne(size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if TAILFORGE_LIBFUZZER
// libFuzzer sees the program name and its own flags, not the target name.
var driverArguments = [arguments[0]] + arguments.dropFirst(2)
var argc = CInt(driverArguments.count)
var cStrings = driverArguments.map { strdup($0) } + [nil]
let status = cStrings.withUnsafeMutableBufferPointer { buffer -> CInt in
    var argv = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
}
exit(status)
#else
guard arguments.count >= 3 else { fail("give input files or directories to run the target on\n" + usage) }
var count = 0
for path in arguments.dropFirst(2) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { fail("\(path) does not exist") }
    let files = isDirectory.boolValue
        ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { (path as NSString).appendingPathComponent($0) }
        : [path]
    for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
        runOne(Array(data))
        count += 1
    }
}
print("\(target.rawValue): \(count) input(s) ran without a crash or finding")
#endif
