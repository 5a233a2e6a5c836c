/// The console's Mustache templates: a layout and one template per page. Values are written
/// with `{{ }}`, which escapes `<`, `>`, `&`, `"` and `'`, so whatever an agent wrote into a
/// tool name, user id or reason renders as text; only the layout's `{{{content}}}` (a page
/// rendered here) and the server-drawn chart are inserted as markup.
enum ConsoleTemplates {
    static let all: [String: String] = [
        "layout": layout, "login": login, "overview": overview, "alerts": alerts, "alert": alert, "breakGlass": breakGlass,
        "patients": patients, "users": users, "user": user, "trace": trace, "error": error,
    ]

    static let layout = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · CareTrail</title>
        <link rel="stylesheet" href="/ui/style.css">
        </head>
        <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
        <p class="brand">CareTrail</p>
        {{#session}}
        <nav aria-label="Main">
        <ul>
        <li><a href="/ui/">Overview</a></li>
        <li><a href="/ui/alerts">Alerts</a></li>
        <li><a href="/ui/break-glass">Break-the-glass</a></li>
        <li><a href="/ui/patients">Patient report</a></li>
        <li><a href="/ui/users">Users</a></li>
        </ul>
        </nav>
        <form method="post" action="/ui/logout" class="signout">
        <input type="hidden" name="csrf" value="{{formToken}}">
        <span>{{who}} · tenant {{tenant}}</span>
        <button type="submit">Sign out</button>
        </form>
        {{/session}}
        </header>
        <main id="main">
        <h1>{{title}}</h1>
        {{{content}}}
        </main>
        </body>
        </html>

        """

    static let login = """
        {{#message}}<p class="problem" role="alert">{{message}}</p>{{/message}}
        <form method="post" action="/ui/login" class="card">
        <input type="hidden" name="csrf" value="{{formToken}}">
        <p><label for="api_key">API key (privacy officer or admin)</label>
        <input type="password" id="api_key" name="api_key" autocomplete="current-password" required></p>
        <p><button type="submit">Sign in</button></p>
        </form>
        <p class="note">The key is exchanged for a session; it is not kept in the browser.</p>

        """

    static let overview = """
        <section aria-labelledby="open-alerts">
        <h2 id="open-alerts">Open alerts</h2>
        {{#hasOpenAlerts}}
        <table>
        <thead><tr><th scope="col">Kind</th><th scope="col">Severity</th><th scope="col">Open</th></tr></thead>
        <tbody>
        {{#openAlerts}}<tr><td><a href="/ui/alerts?kind={{kind}}&amp;state=open">{{kind}}</a></td><td><span class="sev sev-{{severity}}">{{severity}}</span></td><td>{{count}}</td></tr>
        {{/openAlerts}}
        </tbody>
        </table>
        {{/hasOpenAlerts}}
        {{^openAlerts}}<p>No open alerts.</p>{{/openAlerts}}
        </section>
        <section aria-labelledby="overdue">
        <h2 id="overdue">Overdue break-the-glass reviews</h2>
        {{#hasOverdue}}
        <p>{{overdueCount}} overdue{{#overdueMore}}, the oldest below; all on <a href="/ui/break-glass">Break-the-glass</a>{{/overdueMore}}.</p>
        <ul>{{#overdue}}<li><a href="/ui/alerts/{{id}}">{{id}}</a>: {{userID}}, due {{due}}</li>{{/overdue}}</ul>
        {{/hasOverdue}}
        {{^overdue}}<p>None overdue.</p>{{/overdue}}
        </section>
        <section aria-labelledby="today">
        <h2 id="today">Today</h2>
        <p><strong>{{accessesToday}}</strong> tool calls recorded since {{todayStart}}.</p>
        </section>
        <section aria-labelledby="integrity">
        <h2 id="integrity">Integrity</h2>
        {{#verification}}<p><span class="badge badge-{{status}}">{{statusText}}</span> {{entries}} entries checked through entry {{headSeq}}, {{mode}} verification at {{at}}.</p>{{/verification}}
        {{^verification}}<p><span class="badge badge-unknown">not verified yet</span></p>{{/verification}}
        {{#checkpoint}}<p>Latest signed checkpoint: tree size {{size}}, root <code>{{root}}</code>.</p>{{/checkpoint}}
        </section>

        """

    static let alerts = """
        <form method="get" action="/ui/alerts" class="filters">
        <p><label for="kind">Kind</label>
        <select id="kind" name="kind"><option value="">any</option>{{#kinds}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/kinds}}</select></p>
        <p><label for="state">State</label>
        <select id="state" name="state"><option value="">any</option>{{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/states}}</select></p>
        <p><label for="severity">Severity</label>
        <select id="severity" name="severity"><option value="">any</option>{{#severities}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/severities}}</select></p>
        <p><label for="user">User</label><input id="user" name="user" value="{{user}}"></p>
        <p><label for="patient">Patient (pseudonym)</label><input id="patient" name="patient" value="{{patient}}"></p>
        <p><label for="from">From</label><input id="from" name="from" type="date" value="{{from}}"></p>
        <p><label for="to">To</label><input id="to" name="to" type="date" value="{{to}}"></p>
        <p><button type="submit">Filter</button></p>
        </form>
        <p>{{count}} alerts, by severity, then oldest first{{#paged}}; {{first}}–{{last}} shown{{/paged}}.</p>
        <table>
        <thead><tr><th scope="col">Alert</th><th scope="col">Severity</th><th scope="col">Kind</th><th scope="col">User</th><th scope="col">Raised</th><th scope="col">State</th><th scope="col">Summary</th></tr></thead>
        <tbody>
        {{{rows}}}
        </tbody>
        </table>
        {{#paged}}<nav aria-label="Pages of the queue"><p>{{#previous}}<a href="/ui/alerts?{{previous}}" rel="prev">Previous {{perPage}}</a> {{/previous}}{{#next}}<a href="/ui/alerts?{{next}}" rel="next">Next {{perPage}}</a>{{/next}}</p></nav>{{/paged}}

        """

    static let alert = """
        <dl class="facts">
        <dt>Kind</dt><dd>{{kind}}</dd>
        <dt>Severity</dt><dd><span class="sev sev-{{severity}}">{{severity}}</span></dd>
        <dt>State</dt><dd>{{state}}{{#decision}} ({{decision}}){{/decision}}</dd>
        <dt>Raised</dt><dd>{{raisedAt}}</dd>
        <dt>Review due</dt><dd>{{due}}{{#overdue}} <strong>overdue</strong>{{/overdue}}</dd>
        <dt>User</dt><dd>{{#userID}}<a href="/ui/users/{{userPath}}">{{userID}}</a>{{/userID}}</dd>
        <dt>Patient</dt><dd>{{#patientID}}<a href="/ui/patients?patient={{patientQuery}}">{{patientID}}</a>{{/patientID}}</dd>
        <dt>Summary</dt><dd>{{summary}}</dd>
        </dl>
        <section aria-labelledby="triggering">
        <h2 id="triggering">Triggering accesses</h2>
        <table>
        <thead><tr><th scope="col">Entry</th><th scope="col">When</th><th scope="col">User</th><th scope="col">Tool</th><th scope="col">Purpose</th><th scope="col">Outcome</th><th scope="col">Trace</th></tr></thead>
        <tbody>
        {{#accesses}}<tr><td>{{seq}}</td><td>{{time}}</td><td>{{userID}}</td><td>{{tool}}</td><td>{{purpose}}</td><td>{{outcome}}</td><td>{{#traceID}}<a href="/ui/traces/{{tracePath}}">{{traceID}}</a>{{/traceID}}</td></tr>
        {{/accesses}}
        </tbody>
        </table>
        </section>
        <section aria-labelledby="recent">
        <h2 id="recent">The user's recent activity</h2>
        <ul>{{#recent}}<li>{{time}}: {{tool}} ({{outcome}})</li>{{/recent}}</ul>
        {{^recent}}<p>None.</p>{{/recent}}
        </section>
        <section aria-labelledby="reviews">
        <h2 id="reviews">Reviews</h2>
        <ul>{{#reviews}}<li>{{reviewedAt}}: {{reviewer}} decided {{decision}}: {{note}}</li>{{/reviews}}</ul>
        {{^reviews}}<p>Not reviewed yet.</p>{{/reviews}}
        {{#ownAccess}}<p class="problem">You cannot review this alert: it concerns your own accesses.</p>{{/ownAccess}}
        {{^ownAccess}}
        <form method="post" action="/ui/alerts/{{id}}/review" class="card">
        <input type="hidden" name="csrf" value="{{formToken}}">
        <fieldset><legend>Decision</legend>
        <p><input type="radio" id="d-justified" name="decision" value="justified" required><label for="d-justified">justified</label></p>
        <p><input type="radio" id="d-unjustified" name="decision" value="unjustified"><label for="d-unjustified">unjustified</label></p>
        <p><input type="radio" id="d-follow" name="decision" value="needs-follow-up"><label for="d-follow">needs follow-up</label></p>
        </fieldset>
        <p><label for="note">Note</label><textarea id="note" name="note" rows="3" required></textarea></p>
        <p><button type="submit">Record review</button></p>
        </form>
        {{/ownAccess}}
        </section>

        """

    static let breakGlass = """
        <p>{{count}} emergency accesses, newest first, with their reasons, review deadlines and reviews{{#paged}}; {{first}}–{{last}} shown{{/paged}}.</p>
        <table>
        <thead><tr><th scope="col">Alert</th><th scope="col">When</th><th scope="col">User</th><th scope="col">Patient</th><th scope="col">Reason</th><th scope="col">Review due</th><th scope="col">Review</th></tr></thead>
        <tbody>
        {{#rows}}<tr><td><a href="/ui/alerts/{{id}}">{{id}}</a></td><td>{{time}}</td><td>{{userID}}</td><td>{{patientID}}</td><td>{{reason}}</td><td>{{due}}{{#overdue}} <strong>overdue</strong>{{/overdue}}</td><td>{{review}}</td></tr>
        {{/rows}}
        </tbody>
        </table>
        {{^rows}}<p>No emergency access.</p>{{/rows}}
        {{#paged}}<nav aria-label="Pages of the list"><p>{{#previous}}<a href="/ui/break-glass?{{previous}}" rel="prev">Previous {{perPage}}</a> {{/previous}}{{#next}}<a href="/ui/break-glass?{{next}}" rel="next">Next {{perPage}}</a>{{/next}}</p></nav>{{/paged}}

        """

    static let patients = """
        <form method="post" action="/ui/patients" class="filters">
        <input type="hidden" name="csrf" value="{{formToken}}">
        <p><label for="patient">Patient id</label><input id="patient" name="patient" value="{{patient}}" autocomplete="off"></p>
        <p><label for="name">or name (pseudonymised on the server)</label><input id="name" name="name" autocomplete="off"></p>
        <p><label for="pseudonym">or pseudonym</label><input id="pseudonym" name="pseudonym" value="{{pseudonym}}"></p>
        <p><label for="from">From</label><input id="from" name="from" type="date" value="{{from}}"></p>
        <p><label for="to">To</label><input id="to" name="to" type="date" value="{{to}}"></p>
        <p><button type="submit">Report</button></p>
        </form>
        {{#pseudonyms}}<p>Searched by name, as its {{pseudonyms}} pseudonyms (one per key).</p>{{/pseudonyms}}
        {{#report}}
        <p><span class="badge badge-{{integrityStatus}}">{{integrityText}}</span> {{total}} accesses by {{users}} users, {{failures}} failed.</p>
        <p class="downloads">Download:
        <a href="/ui/patients/download?format=csv&amp;{{query}}">CSV</a>
        <a href="/ui/patients/download?format=json&amp;{{query}}">JSON</a>
        <a href="/ui/patients/download?format=html&amp;{{query}}">HTML</a>
        <a href="/ui/patients/download?format=fhir&amp;{{query}}">FHIR Bundle</a></p>
        <figure>{{{chart}}}<figcaption>Accesses per day</figcaption></figure>
        <table>
        <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Role</th><th scope="col">Tool</th><th scope="col">Access</th><th scope="col">Purpose</th><th scope="col">Outcome</th></tr></thead>
        <tbody>
        {{#rows}}<tr><td>{{time}}</td><td><a href="/ui/users/{{userPath}}">{{userID}}</a></td><td>{{role}}</td><td>{{tool}}</td><td>{{access}}</td><td>{{purpose}}</td><td>{{outcome}}</td></tr>
        {{/rows}}
        </tbody>
        </table>
        {{/report}}

        """

    static let users = """
        <form method="get" action="/ui/users" class="filters">
        <p><label for="id">User id</label><input id="id" name="id" required></p>
        <p><button type="submit">Investigate</button></p>
        </form>

        """

    static let user = """
        <dl class="facts">
        <dt>Accesses</dt><dd>{{total}}{{#capped}} (the latest {{total}}; older ones in <code>caretrail user</code>){{/capped}}</dd>
        <dt>Patients touched</dt><dd>{{patientCount}}</dd>
        <dt>After hours</dt><dd>{{afterHours}}</dd>
        <dt>Failures</dt><dd>{{failures}}</dd>
        </dl>
        <section aria-labelledby="patients-touched">
        <h2 id="patients-touched">Patients</h2>
        <ul>{{#patients}}<li><a href="/ui/patients?patient={{query}}">{{patient}}</a>: {{count}}</li>{{/patients}}</ul>
        </section>
        <section aria-labelledby="timeline">
        <h2 id="timeline">Timeline</h2>
        <ol class="timeline">{{#rows}}<li><time>{{time}}</time> {{kind}} {{tool}} {{#outcome}}({{outcome}}){{/outcome}}{{#traceID}} <a href="/ui/traces/{{tracePath}}">trace</a>{{/traceID}}</li>{{/rows}}</ol>
        </section>

        """

    static let trace = """
        <ol class="timeline">{{#rows}}<li><time>{{time}}</time> entry {{seq}}: {{kind}} {{tool}} by {{userID}} ({{model}}) {{#outcome}}: {{outcome}}{{/outcome}}</li>{{/rows}}</ol>

        """

    static let error = """
        <p class="problem" role="alert">{{message}}</p>
        <p><a href="/ui/">Back to the overview</a></p>

        """
}
