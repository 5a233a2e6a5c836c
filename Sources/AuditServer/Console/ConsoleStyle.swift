/// The console's one stylesheet: readable at 1280 px and on a tablet, with contrast of at least
/// 4.5:1 for text and a visible keyboard focus.
enum ConsoleStyle {
    static let css = """
        :root { font-family: system-ui, sans-serif; color: #1a1a1a; background: #fff; line-height: 1.45; }
        body { margin: 0; }
        .skip { position: absolute; left: -999px; }
        .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px; }
        header { background: #0b3d6e; color: #fff; padding: 8px 16px; display: flex; flex-wrap: wrap; align-items: center; gap: 16px; }
        header a, header span { color: #fff; }
        .brand { font-weight: bold; margin: 0; }
        nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 12px; margin: 0; padding: 0; }
        .signout { margin-left: auto; display: flex; gap: 8px; align-items: center; }
        main { padding: 16px; max-width: 1240px; }
        a { color: #0b4f94; }
        a:focus, button:focus, input:focus, select:focus, textarea:focus { outline: 3px solid #e08a00; outline-offset: 2px; }
        table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
        th, td { border-bottom: 1px solid #c8c8c8; padding: 4px 6px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
        th { background: #eef2f6; overflow-wrap: normal; }
        .filters { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: flex-end; }
        .filters p { margin: 0; display: flex; flex-direction: column; }
        .card { border: 1px solid #c8c8c8; padding: 12px; max-width: 560px; }
        .problem { color: #8a1010; font-weight: bold; }
        .sev, .badge { padding: 0 6px; border-radius: 3px; }
        .sev-high, .badge-broken { background: #8a1010; color: #fff; }
        .sev-medium { background: #8a5a00; color: #fff; }
        .sev-low { background: #3d5a2a; color: #fff; }
        .badge-intact { background: #1d5e20; color: #fff; }
        .badge-unknown { background: #555; color: #fff; }
        .facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
        .facts dt { font-weight: bold; }
        .facts dd { margin: 0; }
        svg { max-width: 100%; height: auto; }
        button { font: inherit; padding: 4px 12px; }
        @media (max-width: 900px) { header { flex-direction: column; align-items: flex-start; } .signout { margin-left: 0; } }

        """
}
