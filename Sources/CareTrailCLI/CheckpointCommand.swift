import ArgumentParser
import AuditChain
import AuditKeys
import CareTrail
import Foundation

/// Where the checkpoint signing keys are.
struct SigningKeyOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "The checkpoint signing key file (default: $CARETRAIL_SIGNING_KEY_FILE, else <db>.signing-keys.json; mode 0600)."
    )
    var signingKeyFile: String?

    var path: String? {
        signingKeyFile ?? ProcessInfo.processInfo.environment["CARETRAIL_SIGNING_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Sign and print a checkpoint of the log (C2SP signed note), or manage and check checkpoints.",
        subcommands: [Sign.self, Key.self, Verify.self],
        defaultSubcommand: Sign.self
    )

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign",
            abstract: "Sign a checkpoint of the log as it is now, chain it as an entry of kind checkpoint, and print its note.",
            discussion: """
                The note holds the log's name (origin), the tree size and the base64 Merkle root, signed with the \
                current Ed25519 key and cosigned with a timestamp. The first run makes the signing key file; \
                --origin names the log then.
                """
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var signing: SigningKeyOptions
        @Option(help: "The log's name in checkpoints, when the signing key file is made (default: caretrail/<db file>/<random>).")
        var origin: String?

        func run() throws {
            try runReportingFailures {
                let log = try store.openLog()
                let keys = try log.signingKeys(file: signing.path, origin: origin, create: true)
                let signed = try log.signCheckpoint(keys: keys)
                print(signed.note.serialized, terminator: "")
            }
        }
    }

    struct Key: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the verifier key (<name>+<key hash>+<base64 key>) that checks the log's checkpoints; rotate it.",
            discussion: "Every --key KEYFILE of the other commands takes a file holding this line."
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var signing: SigningKeyOptions
        @Option(help: "The log's name in checkpoints, when the signing key file is made.") var origin: String?
        @Flag(help: "Add a new signing key and make it current; earlier keys stay, to check earlier checkpoints.") var rotate = false
        @Flag(help: "Print every key's verifier key, oldest first, not only the current one.") var all = false

        func run() throws {
            try runReportingFailures {
                let log = try store.openLog()
                var keys = try log.signingKeys(file: signing.path, origin: origin, create: true)
                if rotate {
                    let database = try store.databasePath()
                    let url = URL(fileURLWithPath: signing.path ?? SigningKeyRing.defaultFile(forDatabase: database))
                    keys.rotate()
                    do throws(SigningKeyRing.FileError) {
                        try keys.save(to: url, overwrite: true)
                    } catch {
                        throw CLIFailure(exitCode: .ioError, message: error.message)
                    }
                }
                let verifierKeys = AuditLog.verifierKeys(keys)
                if all {
                    for key in verifierKeys { print(key) }
                } else {
                    print(try AuditLog.signer(keys).verifierKey)
                }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a checkpoint note's signature with a verifier key, without the database.",
            discussion: "Exit 0 when the signature is good, 1 when it is not, 2 when the note or key file is malformed."
        )
        @Option(help: "A file holding the verifier key line.") var key: String
        @Argument(help: "The checkpoint note file.") var file: String

        func run() throws {
            try runReportingFailures {
                let verifierKey = try readVerifierKey(key)
                let note = try readNote(file)
                let checkpoint: Checkpoint
                do throws(Checkpoint.Failure) { checkpoint = try Checkpoint(text: note.text) } catch {
                    throw CLIFailure(exitCode: .invalidInput, message: "\(file): \(error.rawValue)")
                }
                do throws(SignedNote.Failure) {
                    try note.verify(with: verifierKey)
                } catch {
                    printError(
                        "caretrail: \(file): \(error.rawValue): not signed by \(verifierKey.name)+\(String(verifierKey.keyHash, radix: 16))"
                    )
                    throw ExitCode(CLIExit.integrityFailure.rawValue)
                }
                print(
                    "good signature by \(verifierKey.name): checkpoint of \(checkpoint.origin) at size \(checkpoint.size), root \(checkpoint.root.base64)"
                )
            }
        }
    }
}

/// Reads a verifier key file (one line, `<name>+<hash>+<base64 key>`); exit 2 when malformed.
func readVerifierKey(_ path: String) throws -> NoteVerifierKey {
    guard let data = FileManager.default.contents(atPath: path), data.count < 4096 else {
        throw CLIFailure(exitCode: .ioError, message: "cannot read the key file \(path)")
    }
    do {
        return try NoteVerifierKey(parsing: String(decoding: data, as: UTF8.self))
    } catch {
        throw CLIFailure(
            exitCode: .invalidInput, message: "\(path): \(error.rawValue): not a verifier key line (<name>+<key hash>+<base64 key>)")
    }
}

/// Reads a signed note file; exit 2 when malformed.
func readNote(_ path: String) throws -> SignedNote {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIFailure(exitCode: .ioError, message: "cannot read the note file \(path)")
    }
    do {
        return try SignedNote(parsing: [UInt8](data))
    } catch {
        throw CLIFailure(exitCode: .invalidInput, message: "\(path): \(error.rawValue)")
    }
}

struct ProofCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proof",
        abstract: "Print Merkle proofs of the log (RFC 6962/9162) as JSON, hashes in base64.",
        subcommands: [Inclusion.self, Consistency.self]
    )

    struct Inclusion: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The proof that entry --seq is in the tree of --size entries (default: the head).",
            discussion: "Prints {\"leaf_index\", \"tree_size\", \"leaf_hash\", \"hashes\", \"root\"}; leaf_index is seq - 1."
        )
        @OptionGroup var store: StoreOptions
        @Option(help: "The entry's sequence number (1 or more).") var seq: Int64
        @Option(help: "The tree size (seq to the head's seq; default: the head).") var size: Int64?

        func run() throws {
            try runReportingFailures {
                let log = try store.openLog()
                print(try log.inclusionProof(seq: seq, treeSize: size).json)
            }
        }
    }

    struct Consistency: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The proof that the tree of --to entries extends the tree of --from entries.",
            discussion: "Prints {\"from_size\", \"to_size\", \"hashes\", \"from_root\", \"to_root\"}."
        )
        @OptionGroup var store: StoreOptions
        @Option(help: "The older tree size (1 or more).") var from: Int64
        @Option(help: "The newer tree size (from to the head's seq).") var to: Int64

        func run() throws {
            try runReportingFailures {
                let log = try store.openLog()
                print(try log.consistencyProof(from: from, to: to).json)
            }
        }
    }
}
