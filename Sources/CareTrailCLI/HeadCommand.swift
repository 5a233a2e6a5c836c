import ArgumentParser
import AuditChain
import AuditCore
import AuditStorage
import CareTrail

struct HeadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "head",
        abstract: "Print the current head as {\"seq\": N, \"hash\": \"<hex>\"}; publish it elsewhere to check against later."
    )

    @OptionGroup var store: StoreOptions

    func run() throws {
        try runReportingFailures {
            let log = try store.openLog()
            let head: ChainHead?
            head = try log.head()
            // An empty log's head is the genesis link: seq 0 and 32 zero bytes.
            print(JSONOutput.compact((head ?? ChainHead(seq: 0, hash: .genesis)).jsonValue))
        }
    }
}
