import Foundation
import Hummingbird

/// One page of a long console list (the alert queue, break-the-glass): `page` (from 1) and
/// `per_page` (1 to 1,000) from the query string, and the links to the pages beside it, which
/// keep the list's filters.
struct ConsolePaging {
    /// The largest page a reader may ask for.
    static let maximumPerPage = 1_000

    var page: Int
    var perPage: Int
    let defaultPerPage: Int

    init(_ request: Request, defaultPerPage: Int) throws {
        let query = request.uri.queryParameters
        func value(_ name: String) -> String { query[name[...]].map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "" }
        self.defaultPerPage = defaultPerPage
        perPage = try ConsolePages.integer(value("per_page"), "per_page", in: 1...Self.maximumPerPage) ?? defaultPerPage
        page = try ConsolePages.integer(value("page"), "page", in: 1...1_000_000) ?? 1
    }

    /// The items of this page.
    func slice<Item>(_ items: [Item]) -> ArraySlice<Item> {
        let first = min(items.count, (page - 1) * perPage)
        return items[first..<min(items.count, first + perPage)]
    }

    /// What the templates show: `false` when everything fits on one page, else the range shown
    /// and the query strings of the previous and next pages (`filters` percent-encoded).
    func values(total: Int, filters: [(String, String)]) -> Any {
        guard total > perPage || page > 1 else { return false }
        let first = min(total, (page - 1) * perPage)
        let last = min(total, first + perPage)
        let kept = filters.filter { !$0.1.isEmpty }.map { "\($0.0)=\(ConsolePages.urlPart($0.1))" }
        func link(_ number: Int) -> String {
            (kept + (perPage == defaultPerPage ? [] : ["per_page=\(perPage)"]) + ["page=\(number)"]).joined(separator: "&")
        }
        return [
            "first": last > first ? first + 1 : 0, "last": last, "perPage": perPage,
            "previous": page > 1 ? link(page - 1) : false, "next": last < total ? link(page + 1) : false,
        ] as [String: Any]
    }
}
