import ArgumentParser
import Foundation
import TailForgeNumerics

/// Parses the command line so that an option nobody declared is reported before a required argument that is missing.
///
/// swift-argument-parser decodes and validates a command before it looks at what is left over, so
/// `balance in.h5 --ouput out.h5` fails with "Missing expected argument '--output <output>'" (and
/// `submit in.h5 --ouput out.h5` with `validate()`'s "an ad-hoc job needs --output") and never names the typo.
/// When parsing fails and the line has `--` words:
/// - a missing argument: the line is parsed again with each missing argument given a stand-in value; if
///   ArgumentParser then finds an unknown option, its own error (with its did-you-mean and the command's usage) is
///   the one reported. The stand-in line only ever picks the error: it is never run.
/// - otherwise (a `validate()` that wants what the typo meant to give), a `--` word the command does not declare
///   (by ArgumentParser's own description of it, `--experimental-dump-help`) is reported in ArgumentParser's words,
///   with the declared name it would suggest.
enum UnknownOptionFirst {
    /// A value every required argument's type here reads: an integer, a number and a path.
    static let standIn = "1"
    /// Rounds of supplying a missing argument before giving up (a command has far fewer required arguments).
    static let maximumRounds = 16

    static func parseAsRoot(_ arguments: [String]) throws -> any ParsableCommand {
        do {
            return try TailForge.parseAsRoot(arguments)
        } catch let error as CleanExit {
            throw error   // --help, --version
        } catch {
            if let unknown = unknownSubcommand(in: arguments) { throw unknown }
            if let joined = negativeValueJoined(arguments, after: error) { return try parseAsRoot(joined) }
            let terminator = arguments.firstIndex(of: "--") ?? arguments.endIndex
            guard arguments[..<terminator].contains(where: { $0.hasPrefix("--") && $0.count > 2 }) else { throw error }
            throw unknownOption(in: arguments, after: error) ?? undeclaredOption(in: Array(arguments[..<terminator])).map { $0 as any Error } ?? error
        }
    }

    /// "Unknown subcommand 'balnce'. Did you mean 'balance'?" when the first word is not a subcommand. ArgumentParser
    /// reads it as the root command's argument and names something else: "Unknown option '--output'" for
    /// `balnce in.h5 --output b.h5`, "3 unexpected arguments" for `evalute model.h5 test.h5`.
    static func unknownSubcommand(in arguments: [String]) -> ValidationError? {
        guard let word = arguments.first, !word.hasPrefix("-") else { return nil }
        let names = TailForge.configuration.subcommands.map { $0._commandName } + ["help"]
        guard !names.contains(word) else { return nil }
        // `closest` ignores case and so would suggest nothing for `Train`.
        let nearest = names.first { $0.lowercased() == word.lowercased() } ?? Spelling.closest(to: word, among: names)
        let suggestion = nearest.map { ". Did you mean '\($0)'?" } ?? "; the subcommands are \(names.dropLast().joined(separator: ", "))."
        return ValidationError("Unknown subcommand '\(word)'" + suggestion)
    }

    /// The line with `--seed -3` written `--seed=-3` when parsing failed with "Missing value for '--seed <seed>'"; nil
    /// otherwise. ArgumentParser takes a word that starts with a dash for an option, so a negative number given as a
    /// value was reported as no value at all, and the user never learnt what range the option takes. Joined, the value
    /// reaches the option's own check ("The value '-3' is invalid for '--seed <seed>'", "invalid --drift-retries '-1':
    /// expected an integer from 0 to 1000"). Options after a `--` are values and are left alone.
    static func negativeValueJoined(_ arguments: [String], after error: any Error) -> [String]? {
        guard let option = name(in: TailForge.message(for: error), after: "Missing value for '"), option.hasPrefix("-") else { return nil }
        let terminator = arguments.firstIndex(of: "--") ?? arguments.endIndex
        guard let index = arguments[..<terminator].firstIndex(of: option), index + 1 < terminator,
              isNegativeNumber(arguments[index + 1]) else { return nil }
        var joined = arguments
        joined.replaceSubrange(index...index + 1, with: [option + "=" + arguments[index + 1]])
        return joined
    }

    /// `-3`, `-0.5`, `-.5`, `-1e-4`: a minus sign and then a digit (or a point and a digit); no option name starts so.
    static func isNegativeNumber(_ word: String) -> Bool {
        let rest = word.utf8.dropFirst()
        guard word.utf8.first == UInt8(ascii: "-"), let first = rest.first else { return false }
        if first == UInt8(ascii: ".") { return rest.dropFirst().first.map { (48...57).contains($0) } ?? false }
        return (48...57).contains(first)
    }

    /// The unknown-option error ArgumentParser reports for `arguments` once no required argument is missing, or nil
    /// when `error` is not a missing argument or the line has no unknown option.
    static func unknownOption(in arguments: [String], after error: any Error) -> (any Error)? {
        var line = arguments, error = error
        for _ in 0..<maximumRounds {
            guard let missing = missingArgument(TailForge.message(for: error)) else { break }
            // An option goes with a value; a positional argument is a value. Both before a `--`, which ends options.
            line.insert(contentsOf: missing.hasPrefix("-") ? [missing, standIn] : [standIn], at: line.firstIndex(of: "--") ?? line.endIndex)
            do {
                _ = try TailForge.parseAsRoot(line)
                return nil
            } catch let next {
                error = next
            }
        }
        return TailForge.message(for: error).hasPrefix("Unknown option '") ? error : nil
    }

    /// `--output` from "Missing expected argument '--output <output>'", `<input>` from "… '<input>'"; nil for another message.
    static func missingArgument(_ message: String) -> String? {
        name(in: message, after: "Missing expected argument '")
    }

    /// The name ArgumentParser quotes right after `prefix` in `message` (its first word: `--output` of
    /// "'--output <output>'"); nil when the message does not start with `prefix`.
    static func name(in message: String, after prefix: String) -> String? {
        guard message.hasPrefix(prefix) else { return nil }
        return message.dropFirst(prefix.count).split(whereSeparator: { $0 == " " || $0 == "'" }).first.map(String.init)
    }

    /// An option the command does not declare, found only after its `validate()` failed. ArgumentParser would print a
    /// bare `ValidationError` thrown from here with the root command's usage ("Usage: tailforge <subcommand>"), so
    /// this carries the subcommand and `report()` prints the subcommand's usage, as ArgumentParser's own parse errors do.
    struct UndeclaredOption: Error, CustomStringConvertible {
        var message: String
        /// The subcommands the line names, outermost first (empty: the root command).
        var commands: [any ParsableCommand.Type]

        var description: String { message }

        /// ArgumentParser's text for a usage error: the message, the command's usage and where its help is.
        var fullText: String {
            let names = ([TailForge.self] + commands).map { $0._commandName }.joined(separator: " ")
            let usage = commands.last.map { TailForge.usageString(for: $0) } ?? TailForge.usageString()
            return "Error: \(message)\nUsage: \(usage)\n  See '\(names) --help' for more information."
        }

        /// Prints `fullText` on stderr and exits with ArgumentParser's usage-error status (64).
        func report() -> Never {
            FileHandle.standardError.write(Data((fullText + "\n").utf8))
            TailForge.exit(withError: ExitCode.validationFailure)
        }
    }

    /// "Unknown option '--ouput'. Did you mean '--output'?" for the first `--` word in `arguments` (options only, no
    /// `--` terminator) that the command they name does not declare; nil when it declares every one.
    static func undeclaredOption(in arguments: [String]) -> UndeclaredOption? {
        guard let info = try? JSONDecoder().decode(ToolInfo.self, from: Data(TailForge._dumpHelp().utf8)) else { return nil }
        var command = info.command
        var types: [any ParsableCommand.Type] = []
        for word in arguments {
            guard let sub = command.subcommands?.first(where: { $0.commandName == word }) else { break }
            command = sub
            let parent: any ParsableCommand.Type = types.last ?? TailForge.self
            if let type = parent.configuration.subcommands.first(where: { $0._commandName == word }) { types.append(type) }
        }
        let declared = (command.arguments ?? []).flatMap { $0.names ?? [] }.filter { $0.kind != "short" }.map(\.synopsis)
        let builtIn: Set<String> = ["--help", "--help-hidden", "--version", "--experimental-dump-help", "--generate-completion-script"]
        for word in arguments where word.hasPrefix("--") && word.count > 2 {
            let name = String(word.prefix { $0 != "=" })
            guard !declared.contains(name), !builtIn.contains(name) else { continue }
            // ArgumentParser's rule: the closest declared long name, if fewer than 4 edits away (measured as every other
            // did-you-mean here measures it, ``Spelling/distance(_:_:)``).
            let closest = declared.map { ($0, Spelling.distance($0, name)) }.filter { $0.1 < 4 }.min { $0.1 < $1.1 }
            return UndeclaredOption(message: "Unknown option '\(name)'" + (closest.map { ". Did you mean '\($0.0)'?" } ?? ""),
                                    commands: types)
        }
        return nil
    }

    /// The part of ArgumentParser's `--experimental-dump-help` description read here: commands and their names.
    struct ToolInfo: Decodable {
        var command: Command

        struct Command: Decodable {
            var commandName: String
            var subcommands: [Command]?
            var arguments: [Argument]?
        }

        struct Argument: Decodable {
            var names: [Name]?
        }

        struct Name: Decodable {
            var kind: String
            var name: String
            /// `--output`, or `-output` for a long name with a single dash.
            var synopsis: String { (kind == "long" ? "--" : "-") + name }
        }
    }
}
