import AuditChain
import AuditStorage
import Foundation
import GRDB
import GRDBSQLite

/// The Merkle tree's perfect subtrees as one SQLite snapshot holds them: nodes at every
/// fourth level (16, 256, 4,096 ... entries) from `merkle_node`, everything else computed
/// from the level below, and leaves from the entries' hashes.
///
/// A node the maintenance has not stored yet is computed from its children, so answers never
/// depend on how far the background pass has got; only their cost does. A proof of a tree of
/// ten million entries asks for about fifty nodes, each at most 16 rows.
struct MerkleNodes: MerkleNodeSource {
    /// The levels stored are the multiples of this.
    static let stride = 4

    let db: Database
    private var cache: [MerkleNode: ChainHash] = [:]

    init(_ db: Database) {
        self.db = db
    }

    mutating func hash(of node: MerkleNode) throws(StoreError) -> ChainHash {
        if let known = cache[node] { return known }
        let hash: ChainHash
        do { hash = try compute(node) } catch let error as StoreError { throw error } catch {
            throw StoreError(code: .readFailed, message: "cannot read the Merkle tree: \(SQLiteStore.reason(error))")
        }
        cache[node] = hash
        return hash
    }

    /// The hash of `node` made from the level below, ignoring its own stored row: what
    /// verification compares that row with.
    mutating func hashFromChildren(of node: MerkleNode) throws -> ChainHash {
        try compute(node, readingStored: false)
    }

    private mutating func compute(_ node: MerkleNode, readingStored: Bool = true) throws -> ChainHash {
        if node.level == 0 {
            guard let leaf = try Self.leaves(db, from: node.index, count: 1).first else { throw Self.missing }
            return leaf
        }
        if readingStored, node.level % Self.stride == 0,
            let stored = try Self.stored(db, level: node.level, from: node.index, count: 1).first?.1
        {
            return stored
        }
        // The children at the nearest level below that is stored (or the leaves).
        let below = node.level % Self.stride == 0 ? node.level - Self.stride : node.level - node.level % Self.stride
        let count = Int64(1) << Int64(node.level - below)
        let first = node.index << Int64(node.level - below)
        let children = try self.children(level: below, from: first, count: count)
        return MerkleTree.perfectRoot(children)
    }

    /// The `count` nodes of `level` from index `first`, read where stored, computed where not.
    private mutating func children(level: Int, from first: Int64, count: Int64) throws -> [ChainHash] {
        if level == 0 {
            let leaves = try Self.leaves(db, from: first, count: count)
            guard leaves.count == count else { throw Self.missing }
            return leaves
        }
        var stored: [Int64: ChainHash] = [:]
        for (index, hash) in try Self.stored(db, level: level, from: first, count: count) { stored[index] = hash }
        var hashes: [ChainHash] = []
        hashes.reserveCapacity(Int(count))
        for index in first..<(first + count) {
            if let hash = stored[index] {
                hashes.append(hash)
            } else {
                hashes.append(try hash(of: MerkleNode(level: level, index: index)))
            }
        }
        return hashes
    }

    private static let missing = StoreError(code: .outOfRange, message: "the Merkle tree was asked for entries the log does not hold")

    /// The leaf hashes of entries `first + 1 ...`, at most `count`, in order.
    static func leaves(_ db: Database, from first: Int64, count: Int64) throws -> [ChainHash] {
        let statement = try db.cachedStatement(sql: "SELECT entry_hash FROM entry WHERE seq BETWEEN ? AND ? ORDER BY seq").sqliteStatement
        sqlite3_reset(statement)
        defer { sqlite3_reset(statement) }
        sqlite3_bind_int64(statement, 1, first + 1)
        sqlite3_bind_int64(statement, 2, first + count)
        let columns = StatementColumns(statement: statement)
        var leaves: [ChainHash] = []
        leaves.reserveCapacity(Int(count))
        while try StatementColumns.step(statement, db) { leaves.append(MerkleTree.leafHash(columns.hash(0))) }
        return leaves
    }

    /// The stored nodes of `level` with index in `first ..< first + count`.
    static func stored(_ db: Database, level: Int, from first: Int64, count: Int64) throws -> [(Int64, ChainHash)] {
        let statement = try db.cachedStatement(sql: "SELECT idx, hash FROM merkle_node WHERE level = ? AND idx BETWEEN ? AND ?")
            .sqliteStatement
        sqlite3_reset(statement)
        defer { sqlite3_reset(statement) }
        sqlite3_bind_int64(statement, 1, Int64(level))
        sqlite3_bind_int64(statement, 2, first)
        sqlite3_bind_int64(statement, 3, first + count - 1)
        let columns = StatementColumns(statement: statement)
        var nodes: [(Int64, ChainHash)] = []
        while try StatementColumns.step(statement, db) { nodes.append((columns.int64(0), columns.hash(1))) }
        return nodes
    }

    /// How many nodes of `level` are stored: they are written in order, so the next one
    /// to write is this index.
    static func storedCount(_ db: Database, level: Int) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT max(idx) + 1 FROM merkle_node WHERE level = ?", arguments: [level]) ?? 0
    }

    /// Stores the nodes of every stored level that the log's complete subtrees allow and that
    /// are not stored yet, at most `limit` leaves' worth per call; `true` if more remain.
    static func extend(_ db: Database, through head: Int64, limit: Int64 = 1 << 16) throws -> Bool {
        let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO merkle_node (level, idx, hash) VALUES (?, ?, ?)")
        var more = false
        var level = stride
        // How many nodes the level below holds: leaves first, then each stored level.
        var available = head
        while available >> Int64(stride) > 0 {
            let next = try storedCount(db, level: level)
            let complete = available >> Int64(stride)
            let batch = min(complete - next, max(1, limit >> Int64(level)))
            if batch > 0 {
                let width = Int64(1) << Int64(stride)
                let children: [ChainHash]
                if level == stride {
                    children = try leaves(db, from: next * width, count: batch * width)
                } else {
                    // Only the run without a gap from the first child counts.
                    let rows = try stored(db, level: level - stride, from: next * width, count: batch * width)
                    children = rows.enumerated().prefix { $0.offset == Int($0.element.0 - next * width) }.map(\.element.1)
                }
                // A gap below (a node not written) stops this level until it is filled.
                let whole = Int64(children.count) / width
                for offset in 0..<whole {
                    let start = Int(offset * width)
                    let hash = MerkleTree.perfectRoot(Array(children[start..<(start + Int(width))]))
                    try insert.execute(arguments: [level, next + offset, Data(hash.bytes)])
                }
                // More to do only if this pass made progress: a gap (a missing entry, which
                // verify reports) must not keep the pass going round.
                if next + whole < complete && whole > 0 { more = true }
                available = next + whole
            } else {
                available = next
            }
            level += stride
        }
        return more
    }
}

/// Checks, as verification scans a range of entries, that each stored node of the lowest
/// stored level whose entries all lie in the range is the one their hashes make.
struct MerkleNodeCheck {
    private var stored: [Int64: ChainHash] = [:]
    private var leaves: [ChainHash] = []
    /// The first seq of the first node that does not match.
    private(set) var firstMismatch: Int64?
    private static let width = Int64(1) << Int64(MerkleNodes.stride)

    init(_ db: Database, low: Int64, high: Int64) throws {
        let first = (low - 1 + Self.width - 1) / Self.width
        let end = high / Self.width
        guard end > first else { return }
        for (index, hash) in try MerkleNodes.stored(db, level: MerkleNodes.stride, from: first, count: end - first) {
            stored[index] = hash
        }
        leaves.reserveCapacity(Int(Self.width))
    }

    mutating func add(seq: Int64, entryHash: ChainHash) throws {
        guard firstMismatch == nil, !stored.isEmpty else { return }
        let index = seq - 1
        if index % Self.width == 0 { leaves.removeAll(keepingCapacity: true) }
        leaves.append(MerkleTree.leafHash(entryHash))
        guard index % Self.width == Self.width - 1, leaves.count == Int(Self.width) else { return }
        if let node = stored[index / Self.width], node != MerkleTree.perfectRoot(leaves) {
            firstMismatch = index - Self.width + 2
        }
    }
}

extension SQLiteStore {
    /// The first seq covered by the first stored Merkle node above the lowest stored level
    /// that its children (stored, or computed where not) do not make; `nil` when all match.
    /// Only nodes that cover entries after `after` are checked (all for a full verification;
    /// those an incremental one added).
    static func firstUpperMerkleMismatch(_ db: Database, after: Int64 = 0) throws -> Int64? {
        var nodes = MerkleNodes(db)
        var level = 2 * MerkleNodes.stride
        while try MerkleNodes.storedCount(db, level: level) > 0 {
            let rows = try Row.fetchCursor(
                db, sql: "SELECT idx, hash FROM merkle_node WHERE level = ? AND idx >= ? ORDER BY idx",
                arguments: [level, after >> Int64(level)])
            while let row = try rows.next() {
                let node = MerkleNode(level: level, index: row[0])
                let hash = ChainHash(unchecked: [UInt8](row[1] as Data))
                if try nodes.hashFromChildren(of: node) != hash { return node.firstLeaf + 1 }
            }
            level += MerkleNodes.stride
        }
        return nil
    }
}
