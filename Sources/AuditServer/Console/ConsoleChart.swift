/// The patient report's chart: accesses per day as a server-drawn SVG bar chart, so that it
/// needs no script. Only numbers and dates the server made go into it.
enum ConsoleChart {
    /// A bar per day from the first to the last access (at most the last 366 days of them).
    static func accessesPerDay(_ times: [String]) -> String {
        var perDay: [String: Int] = [:]
        for time in times { perDay[String(time.prefix(10)), default: 0] += 1 }
        let days = perDay.keys.sorted().suffix(366)
        guard let peak = days.map({ perDay[$0] ?? 0 }).max(), peak > 0 else {
            return "<svg role=\"img\" aria-label=\"No accesses\" width=\"320\" height=\"40\" viewBox=\"0 0 320 40\">"
                + "<text x=\"4\" y=\"24\">No accesses</text></svg>"
        }
        let (width, height) = (640, 160)
        // Bars at most 40 px wide, so that a few days do not make a block.
        let step = min(40, max(2, width / max(1, days.count)))
        var bars = ""
        for (index, day) in days.enumerated() {
            let count = perDay[day] ?? 0
            let barHeight = max(1, count * (height - 20) / peak)
            bars +=
                "<rect x=\"\(index * step)\" y=\"\(height - barHeight)\" width=\"\(max(1, step - 1))\" height=\"\(barHeight)\""
                + " fill=\"#1f5fa8\"><title>\(day): \(count)</title></rect>"
        }
        let label = "Accesses per day, \(days.first ?? "") to \(days.last ?? ""), peak \(peak)"
        return "<svg role=\"img\" aria-label=\"\(label)\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">"
            + bars + "</svg>"
    }
}
