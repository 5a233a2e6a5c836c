import AuditChain
import AuditCore
import AuditStorage
import Foundation

extension AccessReport {
    /// Who the report is about, as printed: the patient id, or the pseudonym(s) searched for.
    var subject: String {
        patientID ?? (pseudonyms.isEmpty ? "-" : pseudonyms.joined(separator: " / "))
    }

    var periodText: String { "\(from?.description ?? "the beginning") to \(to?.description ?? "now")" }

    /// The columns every tabular format lists, in order, with each access's values.
    static let columns = [
        "seq", "time", "user_id", "user_role", "tool_name", "action", "access", "purpose_of_use", "purpose_display",
        "outcome", "break_glass", "break_glass_reason", "conversation_id", "trace_id", "model", "tenant_id",
    ]

    static func cells(_ access: Access) -> [String] {
        let row = access.row
        return [
            String(row.seq), row.time, row.userID, row.userRole ?? "", row.toolName ?? "", row.action?.rawValue ?? "", access.access,
            row.purposeOfUse ?? "", access.purposeDisplay ?? "", row.outcome?.rawValue ?? "", row.breakGlass ? "yes" : "no",
            row.breakGlassReason ?? "", row.conversationID ?? "", row.traceID ?? "", row.model, row.tenantID,
        ]
    }

    /// CSV (RFC 4180): a header line, then one line per access; CRLF line ends; fields with a
    /// comma, quote or line break quoted, quotes doubled. A cell that a spreadsheet would read
    /// as a formula is neutralised as OWASP recommends: see ``csvField(_:)``.
    public var csv: String {
        var lines = [Self.columns.map(Self.csvField).joined(separator: ",")]
        for access in accesses { lines.append(Self.cells(access).map(Self.csvField).joined(separator: ",")) }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// One CSV field. A value that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
    /// (or their full-width forms) would run as a formula in a spreadsheet
    /// (`=HYPERLINK(...)`): it gets a leading `'` and is quoted, as OWASP's CSV injection
    /// advice says. Other values are quoted only when they hold a comma, quote or line break.
    public static func csvField(_ value: String) -> String {
        let formula = value.unicodeScalars.first.map { Self.formulaStarts.contains($0) } ?? false
        let text = formula ? "'" + value : value
        guard formula || text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static let formulaStarts: Set<Unicode.Scalar> = [
        "=", "+", "-", "@", "\t", "\r", "\u{FF1D}", "\u{FF0B}", "\u{FF0D}", "\u{FF20}",
    ]

    /// A cell for the terminal table: control characters (an escape sequence could rewrite the
    /// screen, a line break fake a row) become U+FFFD.
    static func printable(_ cell: String) -> String {
        guard ControlCharacters.occur(in: cell) else { return cell }
        return String(String.UnicodeScalarView(cell.unicodeScalars.map { ControlCharacters.isControl($0) ? "\u{FFFD}" : $0 }))
    }

    /// Plain text for a terminal: heading, summary, the accesses as aligned columns, integrity.
    public var table: String {
        var out: [String] = []
        out.append("Patient access report: \(subject)")
        out.append("Period: \(periodText) (both ends included)   Generated: \(generatedAt.description)")
        out.append("Integrity: \(integrity.summaryLine)")
        out.append("")
        let states = breakGlassReviewStates
        out.append(
            "Accesses: \(totalAccesses)   Unique users: \(uniqueUsers)   Failures: \(failures)   Break-the-glass: \(breakGlassAccesses.count) (alerts reviewed \(states.reviewed), open \(states.open), overdue \(states.overdue))"
        )
        out.append(
            "By purpose: " + (byPurpose.isEmpty ? "-" : byPurpose.map { "\($0.code) \($0.display) \($0.count)" }.joined(separator: ", ")))
        out.append("By tool: " + (byTool.isEmpty ? "-" : byTool.map { "\($0.tool) \($0.count)" }.joined(separator: ", ")))
        out.append(
            "Alerts: "
                + (alerts.isEmpty
                    ? "none"
                    : alerts.map { "\($0.alert.id) \($0.alert.kind.rawValue) \($0.state)\($0.overdue ? " (overdue)" : "")" }.joined(
                        separator: ", ")))
        out.append("")
        let header = ["SEQ", "TIME", "USER", "ROLE", "TOOL", "ACCESS", "PURPOSE", "OUTCOME", "BTG", "CONVERSATION", "TRACE", "MODEL"]
        let rows = accesses.map { access in
            let row = access.row
            return [
                String(row.seq), row.time, row.userID, row.userRole ?? "-", row.toolName ?? "-", access.access,
                "\(row.purposeOfUse ?? "-") (\(access.purposeDisplay ?? "-"))", row.outcome?.rawValue ?? "-",
                row.breakGlass ? "yes: \(row.breakGlassReason ?? "")" : "-", row.conversationID ?? "-", row.traceID ?? "-", row.model,
            ]
        }
        out.append(Self.align(header: header, rows: rows.map { $0.map(Self.printable) }))
        return out.joined(separator: "\n") + "\n"
    }

    static func align(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// One self-contained, printable HTML page: inline styles, no scripts, no external assets.
    public var html: String {
        let esc = HTMLText.escaped
        let states = breakGlassReviewStates
        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Patient access report: \(esc(subject))</title>
            <style>
            body { font: 10pt/1.35 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em; color: #111; }
            h1 { font-size: 15pt; margin: 0 0 .3em; } h2 { font-size: 11.5pt; margin: 1.4em 0 .4em; }
            table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb; padding: 2px 5px; text-align: left; vertical-align: top; }
            th { background: #eee; } tr:nth-child(even) td { background: #fafafa; }
            .ok { color: #05620f; font-weight: bold; } .bad { color: #a40000; font-weight: bold; }
            .meta td:first-child { font-weight: bold; width: 14em; } code { font-size: 9pt; word-break: break-all; }
            @media print { body { margin: 0; } tr { break-inside: avoid; } }
            </style>
            </head>
            <body>
            <h1>Patient access report</h1>
            <table class="meta">
            <tr><td>Patient</td><td><code>\(esc(subject))</code></td></tr>
            <tr><td>Period (both ends included)</td><td>\(esc(periodText))</td></tr>
            <tr><td>Generated</td><td>\(esc(generatedAt.description))</td></tr>
            <tr><td>Integrity</td><td class="\(integrity.isIntact ? "ok" : "bad")">\(esc(integrity.summaryLine))</td></tr>
            </table>
            <h2>Summary</h2>
            <table class="meta">
            <tr><td>Accesses</td><td>\(totalAccesses)</td></tr>
            <tr><td>Unique users</td><td>\(uniqueUsers)</td></tr>
            <tr><td>Failures</td><td>\(failures)</td></tr>
            <tr><td>Break-the-glass</td><td>\(breakGlassAccesses.count) (alerts reviewed \(states.reviewed), open \(states.open), overdue \(states.overdue))</td></tr>
            <tr><td>By purpose</td><td>\(esc(byPurpose.map { "\($0.code) (\($0.display)): \($0.count)" }.joined(separator: "; ")))</td></tr>
            <tr><td>By tool</td><td>\(esc(byTool.map { "\($0.tool): \($0.count)" }.joined(separator: "; ")))</td></tr>
            </table>

            """
        page += "<h2>Alerts about this patient</h2>\n"
        if alerts.isEmpty {
            page += "<p>None.</p>\n"
        } else {
            page +=
                "<table>\n<tr><th>Alert</th><th>Kind</th><th>Severity</th><th>Raised</th><th>State</th><th>Decision</th><th>Entries</th></tr>\n"
            for status in alerts {
                page +=
                    "<tr><td>\(esc(status.alert.id))</td><td>\(esc(status.alert.kind.rawValue))</td><td>\(esc(status.alert.severity.rawValue))</td><td>\(esc(status.alert.raisedAt))</td><td>\(esc(status.state))\(status.overdue ? " (overdue)" : "")</td><td>\(esc(status.decision?.rawValue ?? "-"))</td><td>\(esc(status.alert.entrySeqs.map(String.init).joined(separator: ", ")))</td></tr>\n"
            }
            page += "</table>\n"
        }
        page += "<h2>Accesses (\(totalAccesses), oldest first)</h2>\n<table>\n<tr>"
        for title in [
            "Seq", "Time (UTC)", "User", "Role", "Tool", "Access", "Purpose", "Outcome", "Break-the-glass", "Conversation", "Trace",
            "Model",
        ] {
            page += "<th>\(title)</th>"
        }
        page += "</tr>\n"
        for access in accesses {
            let row = access.row
            let cells = [
                String(row.seq), row.time, row.userID, row.userRole ?? "", row.toolName ?? "", access.access,
                "\(row.purposeOfUse ?? "") (\(access.purposeDisplay ?? ""))", row.outcome?.rawValue ?? "",
                row.breakGlass ? "yes: \(row.breakGlassReason ?? "")" : "", row.conversationID ?? "", row.traceID ?? "", row.model,
            ]
            page += "<tr>" + cells.map { "<td>\(esc($0))</td>" }.joined() + "</tr>\n"
        }
        page += "</table>\n</body>\n</html>\n"
        return page
    }
}
