import ArgumentParser
import TailForgeCluster

/// `tailforge keygen`: a CURVE keypair for a coordinator, worker or client.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE keypair: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub (public), in libzmq's Z85 form."
    )

    @Option(help: "Directory for the key files (created with mode 0700 if missing).")
    var out: String

    @Option(help: "Base name of the two files, for example the host or user the key belongs to.")
    var name: String = "tailforge"

    func run() throws {
        let paths = try CurveKeyPair.generate().write(to: out, name: name)
        print("secret key: \(paths.secret) (keep it on this machine, mode 0600)")
        print("public key: \(paths.public) (copy it to the coordinator's --allow-dir, under workers/ or clients/)")
    }
}
