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
            let terminator = arguments.firstIndex(of: "--") ?? arguments.endIndex
            guard arguments[..<terminator].contains(where: { $0.hasPrefix("--") && $0.count > 2 }) else { throw error }
            throw unknownOption(in: arguments, after: error) ?? undeclaredOption(in: Array(arguments[..<terminator])) ?? error
        }
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
        let prefix = "Missing expected argument '"
        guard message.hasPrefix(prefix) else { return nil }
        return message.dropFirst(prefix.count).split(whereSeparator: { $0 == " " || $0 == "'" }).first.map(String.init)
    }

    /// "Unknown option '--ouput'. Did you mean '--output'?" for the first `--` word in `arguments` (options only, no
    /// `--` terminator) that the command they name does not declare; nil when it declares every one.
    static func undeclaredOption(in arguments: [String]) -> ValidationError? {
        guard let info = try? JSONDecoder().decode(ToolInfo.self, from: Data(TailForge._dumpHelp().utf8)) else { return nil }
        var command = info.command
        for word in arguments {
            guard let sub = command.subcommands?.first(where: { $0.commandName == word }) else { break }
            command = sub
        }
        let declared = (command.arguments ?? []).flatMap { $0.names ?? [] }.filter { $0.kind != "short" }.map(\.synopsis)
        let builtIn: Set<String> = ["--help", "--help-hidden", "--version", "--experimental-dump-help", "--generate-completion-script"]
        for word in arguments where word.hasPrefix("--") && word.count > 2 {
            let name = String(word.prefix { $0 != "=" })
            guard !declared.contains(name), !builtIn.contains(name) else { continue }
            // ArgumentParser's rule: the closest declared long name, if fewer than 4 edits away (measured as every other
            // did-you-mean here measures it, ``Spelling/distance(_:_:)``).
            let closest = declared.map { ($0, Spelling.distance($0, name)) }.filter { $0.1 < 4 }.min { $0.1 < $1.1 }
            return ValidationError("Unknown option '\(name)'" + (closest.map { ". Did you mean '\($0.0)'?" } ?? ""))
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
