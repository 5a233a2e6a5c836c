import AuditTestSupport
import PropertyBased
import Testing

@testable import AuditPostgres

/// Verify's comparison of the patients' keys and report records a range of entries makes with
/// what the database holds: records may be missing, nothing else may differ.
@Suite("Patient items")
struct PatientItemsTests {
    /// A damage to what the database holds, and the entry it must be named at.
    enum Damage: CaseIterable {
        case keyRemoved, keyAdded, recordAltered, recordWithoutKey
    }

    @Test func oneDamageAmongDroppedRecordsIsNamedAtItsEntry() async {
        await propertyCheck(count: 500, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = SplitMix(seed: UInt64(seed))
            var expected = PatientItems()
            var items: [PatientItems.Item] = []
            for seq in Int64(1)...Int64(1 + random.next() % 40) {
                for patient in 0..<Int(random.next() % 3) {
                    let item = PatientItems.Item(seq: seq, patient: "PSEUDO-\(patient)")
                    expected.add(item, record: [UInt8(truncatingIfNeeded: random.next() as UInt64), UInt8(seq & 0xFF)])
                    items.append(item)
                }
            }
            var keys = items
            // Records may be missing: a report then reads the entry whole.
            var records = items.compactMap { item in
                random.next() % 4 == 0 ? nil : (item: item, record: expected.records[item] ?? [])
            }
            #expect(expected.firstMismatch(keys: keys, records: records) == nil)
            guard !items.isEmpty else { return }
            let target = items[Int(random.next() % UInt64(items.count))]
            let other = PatientItems.Item(seq: target.seq, patient: "PSEUDO-OTHER")
            switch Damage.allCases[Int(random.next() % UInt64(Damage.allCases.count))] {
            case .keyRemoved: keys.removeAll { $0 == target }
            case .keyAdded: keys.append(other)
            case .recordAltered:
                records.removeAll { $0.item == target }
                records.append((item: target, record: [0xFF, 0xFF, 0xFF]))
            case .recordWithoutKey: records.append((item: other, record: expected.records[target] ?? []))
            }
            keys.shuffle(using: &random)
            records.shuffle(using: &random)
            #expect(expected.firstMismatch(keys: keys, records: records) == target.seq)
        }
    }
}
