import ArgumentParser
import TailForgeCluster

/// `tailforge keygen`: a CURVE keypair for a coordinator, worker or client, and an Ed25519 signing keypair beside it.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE keypair (DIR/NAME.key, mode 0600, and DIR/NAME.pub, libzmq's Z85) and an Ed25519 signing keypair (DIR/NAME.sign.key, mode 0600, and DIR/NAME.sign.pub)."
    )

    @Option(help: "Directory for the key files (created with mode 0700 if missing).")
    var out: String

    @Option(help: "Base name of the files, for example the host or user the key belongs to.")
    var name: String = "tailforge"

    func run() throws {
        let written = try KeyGenerator.generate(directory: out, name: name)
        print("secret key: \(written.curveSecret) (keep it on this machine, mode 0600)")
        print("public key: \(written.curvePublic) (copy it to the coordinator's --allow-dir, under workers/ or clients/)")
        print("signing key: \(written.signingSecret) (a coordinator signs resolved manifests with it; mode 0600)")
        print("signing public key: \(written.signingPublic) (give it to `tailforge replay --coordinator-signing-key`)")
    }
}
