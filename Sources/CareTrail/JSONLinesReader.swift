import Foundation

/// Reads JSON lines from a file handle in large blocks, yielding each non-blank line's bytes
/// with its 1-based line number. Memory stays bounded by the block size and the longest line.
struct JSONLinesReader {
    private let handle: FileHandle
    private let blockSize: Int
    private var pending: [UInt8] = []
    private var lineNumber = 0
    private var finished = false

    init(handle: FileHandle, blockSize: Int = 1 << 20) {
        self.handle = handle
        self.blockSize = blockSize
    }

    /// Up to `maximum` lines, or fewer at the end; empty when the input is exhausted.
    mutating func next(maximum: Int) throws -> [(line: Int, bytes: ArraySlice<UInt8>)] {
        var lines: [(line: Int, bytes: ArraySlice<UInt8>)] = []
        while lines.count < maximum {
            if let newline = pending.firstIndex(of: 0x0A) {
                lineNumber += 1
                let line = pending[..<newline]
                if !Self.isBlank(line) { lines.append((lineNumber, ArraySlice(Array(line)))) }
                pending.removeSubrange(...newline)
                continue
            }
            if finished {
                if !pending.isEmpty {
                    lineNumber += 1
                    if !Self.isBlank(pending[...]) { lines.append((lineNumber, ArraySlice(pending))) }
                    pending = []
                }
                break
            }
            let block = try handle.read(upToCount: blockSize) ?? Data()
            if block.isEmpty {
                finished = true
            } else {
                pending.append(contentsOf: block)
                // Hand out every complete line of this block at once.
                if lines.count < maximum { lines.append(contentsOf: drainCompleteLines(maximum - lines.count)) }
            }
        }
        return lines
    }

    private mutating func drainCompleteLines(_ maximum: Int) -> [(line: Int, bytes: ArraySlice<UInt8>)] {
        var lines: [(line: Int, bytes: ArraySlice<UInt8>)] = []
        var start = pending.startIndex
        while lines.count < maximum, let newline = pending[start...].firstIndex(of: 0x0A) {
            lineNumber += 1
            let line = pending[start..<newline]
            if !Self.isBlank(line) { lines.append((lineNumber, line)) }
            start = newline + 1
        }
        pending = Array(pending[start...])
        return lines
    }

    /// The non-blank lines of `bytes` with their 1-based line numbers: how a request body is
    /// split, the same way as a file.
    static func lines(in bytes: [UInt8]) -> [(line: Int, bytes: ArraySlice<UInt8>)] {
        var lines: [(line: Int, bytes: ArraySlice<UInt8>)] = []
        var number = 0
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            if !isBlank(line) { lines.append((number, line)) }
        }
        return lines
    }

    private static func isBlank(_ line: ArraySlice<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
