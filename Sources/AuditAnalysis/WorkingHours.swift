import Foundation

/// Working hours in a time zone, compiled from ``AlertRules/AfterHours``.
package struct WorkingHours: Sendable {
    let calendar: Calendar
    let startMinute: Int
    let endMinute: Int
    let workingDays: Set<Int>

    package init?(_ rule: AlertRules.AfterHours) {
        guard let zone = TimeZone(identifier: rule.timeZone), let start = Self.minutes(rule.start),
            let end = Self.minutes(rule.end), start < end, rule.workingDays.allSatisfy({ (1...7).contains($0) })
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        self.calendar = calendar
        self.startMinute = start
        self.endMinute = end
        self.workingDays = Set(rule.workingDays)
    }

    /// Minutes after midnight of `HH:MM`.
    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hour = Int(parts[0]),
            let minute = Int(parts[1]), (0...24).contains(hour), (0..<60).contains(minute), hour * 60 + minute <= 24 * 60
        else { return nil }
        return hour * 60 + minute
    }

    /// Whether the instant (milliseconds since the epoch) falls outside working hours.
    package func isAfterHours(_ milliseconds: Int64) -> Bool {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        // Calendar weekdays run 1 Sunday … 7 Saturday; ISO runs 1 Monday … 7 Sunday.
        let iso = ((parts.weekday ?? 1) + 5) % 7 + 1
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        return !workingDays.contains(iso) || minute < startMinute || minute >= endMinute
    }
}
