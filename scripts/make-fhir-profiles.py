#!/usr/bin/env python3
"""Writes CareTrail's FHIR conformance resources into fhir-profiles/: the AuditEvent profiles
(R4 and R5), one StructureDefinition per extension, and the CodeSystem of trigger codes.
The Swift mapper (Sources/AuditFHIR) uses the same URLs; tests check exports against these files."""
import json, os

BASE = "https://caretrail.dev/fhir"
OUT = "fhir-profiles"
DATE = "2026-11-22"
PUBLISHER = "CareTrail"

def write(name, resource):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(resource, f, indent=2, ensure_ascii=False)
        f.write("\n")

def common(kind, id_, title, description, fhir="4.0.1"):
    return {"resourceType": kind, "id": id_, "url": f"{BASE}/{kind}/{id_}", "version": "1.0.0", "name": title.replace(" ", "").replace("-", ""),
            "title": title, "status": "active", "experimental": False, "date": DATE, "publisher": PUBLISHER,
            "description": description, **({"fhirVersion": fhir} if kind == "StructureDefinition" else {})}

# (id, title, description, value type or None for complex, sub-extensions, contexts)
EXTENSIONS = [
    ("tool-name", "Tool name", "The tool the AI agent called (e.g. get_lab_results).", "string", []),
    ("conversation-id", "Conversation id", "The agent conversation the call belongs to.", "string", []),
    ("trace-id", "Trace id", "The agent request (one user message) that grouped several tool calls.", "string", []),
    ("turn-number", "Turn number", "The call's position in the conversation (integer >= 0).", "integer", []),
    ("trigger", "Trigger", "What made the agent call the tool (CodeSystem caretrail-trigger).", "Coding", []),
    ("duration-ms", "Duration in milliseconds", "How long the tool ran.", "decimal", []),
    ("token-usage", "Token usage and cost", "The model's token usage and cost for the call.", None,
     [("input_tokens", "integer"), ("output_tokens", "integer"), ("cost_usd", "decimal")]),
    ("tenant", "Tenant", "The CareTrail tenant (organisation) the entry belongs to.", "string", []),
    ("chain-entry", "Chain entry", "The entry's place in CareTrail's hash chain: sequence number and SHA-256 entry hash (hex), so a recipient can check the export against the log.", None,
     [("seq", "decimal|integer64"), ("hash", "string")]),
    ("alert", "CareTrail alert", "An anomaly alert or break-the-glass alert: its kind, severity and the sequence numbers of the entries behind it.", None,
     [("kind", "string"), ("severity", "string"), ("entry", "decimal|integer64")]),
]

def value_types(spec, r5):
    if "|" in spec:
        a, b = spec.split("|")
        return [b if r5 else a]
    return [spec]

def extension_sd(id_, title, description, value, subs, r5=False):
    sd = common("StructureDefinition", id_ + ("-r5" if r5 else ""), title + (" (R5)" if r5 else ""), description, "5.0.0" if r5 else "4.0.1")
    sd["url"] = f"{BASE}/StructureDefinition/{id_}"  # one canonical for both versions; the R5 file carries the R5 value types
    sd.update({"kind": "complex-type", "abstract": False, "context": [{"type": "element", "expression": "AuditEvent"}],
               "type": "Extension", "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension", "derivation": "constraint"})
    el = [{"id": "Extension", "path": "Extension", "short": title, "definition": description, "min": 0, "max": "1"}]
    if value is not None:
        el += [{"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
               {"id": "Extension.url", "path": "Extension.url", "fixedUri": sd["url"]},
               {"id": "Extension.value[x]", "path": "Extension.value[x]", "min": 1, "type": [{"code": t} for t in value_types(value, r5)]}]
        if value == "Coding":
            el[-1]["binding"] = {"strength": "required", "valueSet": f"{BASE}/ValueSet/caretrail-trigger"}
    else:
        el += [{"id": "Extension.extension", "path": "Extension.extension", "min": 1, "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "closed"}}]
        for name, t in subs:
            many = name == "entry"
            el += [{"id": f"Extension.extension:{name}", "path": "Extension.extension", "sliceName": name, "min": 0 if name not in ("seq", "hash", "kind") else 1, "max": "*" if many else "1"},
                   {"id": f"Extension.extension:{name}.url", "path": "Extension.extension.url", "fixedUri": name},
                   {"id": f"Extension.extension:{name}.value[x]", "path": "Extension.extension.value[x]", "min": 1, "type": [{"code": c} for c in value_types(t, r5)]}]
        el += [{"id": "Extension.url", "path": "Extension.url", "fixedUri": sd["url"]},
               {"id": "Extension.value[x]", "path": "Extension.value[x]", "max": "0"}]
    sd["differential"] = {"element": el}
    return sd

def profile(r5):
    id_ = "caretrail-auditevent-r5" if r5 else "caretrail-auditevent"
    sd = common("StructureDefinition", id_, "CareTrail AuditEvent" + (" (R5)" if r5 else ""),
                "An AuditEvent for one entry of a CareTrail log: an AI agent's tool call on a patient record (following the IHE BALP patterns PatientRead, PatientQuery, PatientCreate, PatientUpdate, PatientDelete) or an alert (DCM 110113 Security Alert; break-the-glass: 110127).",
                "5.0.0" if r5 else "4.0.1")
    sd.update({"kind": "resource", "abstract": False, "type": "AuditEvent",
               "baseDefinition": "http://hl7.org/fhir/StructureDefinition/AuditEvent", "derivation": "constraint"})
    ext = lambda name, mn: [{"id": f"AuditEvent.extension:{name}", "path": "AuditEvent.extension", "sliceName": name, "min": mn, "max": "1",
                            "type": [{"code": "Extension", "profile": [f"{BASE}/StructureDefinition/{name}"]}]}]
    el = [{"id": "AuditEvent", "path": "AuditEvent"},
          {"id": "AuditEvent.id", "path": "AuditEvent.id", "min": 1, "short": "ct<seq>-<12 hex digits of the entry hash>[-<n>]"},
          {"id": "AuditEvent.meta", "path": "AuditEvent.meta", "min": 1},
          {"id": "AuditEvent.meta.profile", "path": "AuditEvent.meta.profile", "min": 1},
          {"id": "AuditEvent.extension", "path": "AuditEvent.extension", "min": 2,
           "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}}]
    for name, _, _, _, _ in EXTENSIONS:
        el += ext(name, 1 if name in ("tenant", "chain-entry") else 0)
    if r5:
        el += [{"id": "AuditEvent.category", "path": "AuditEvent.category", "min": 1},
               {"id": "AuditEvent.recorded", "path": "AuditEvent.recorded", "min": 1},
               {"id": "AuditEvent.outcome", "path": "AuditEvent.outcome", "min": 1},
               {"id": "AuditEvent.severity", "path": "AuditEvent.severity", "min": 1}]
    else:
        el += [{"id": "AuditEvent.type", "path": "AuditEvent.type", "min": 1},
               {"id": "AuditEvent.recorded", "path": "AuditEvent.recorded", "min": 1},
               {"id": "AuditEvent.outcome", "path": "AuditEvent.outcome", "min": 1}]
    el += [{"id": "AuditEvent.agent", "path": "AuditEvent.agent", "min": 1},
           {"id": "AuditEvent.agent.who", "path": "AuditEvent.agent.who", "min": 1},
           {"id": "AuditEvent.agent.requestor", "path": "AuditEvent.agent.requestor", "min": 1},
           {"id": "AuditEvent.source.observer", "path": "AuditEvent.source.observer", "min": 1},
           {"id": "AuditEvent.source.type", "path": "AuditEvent.source.type", "min": 1, "max": "1",
            "patternCoding" if not r5 else "patternCoding": {"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}}]
    sd["differential"] = {"element": el}
    return sd

os.makedirs(OUT, exist_ok=True)
write("StructureDefinition-caretrail-auditevent.json", profile(False))
write("StructureDefinition-caretrail-auditevent-r5.json", profile(True))
for id_, title, desc, value, subs in EXTENSIONS:
    write(f"StructureDefinition-{id_}.json", extension_sd(id_, title, desc, value, subs))
    write(f"StructureDefinition-{id_}-r5.json", extension_sd(id_, title, desc, value, subs, r5=True))
cs = common("CodeSystem", "caretrail-trigger", "CareTrail trigger", "What made an AI agent call a tool (the ingest contract's trigger field).")
cs.update({"caseSensitive": True, "valueSet": f"{BASE}/ValueSet/caretrail-trigger", "content": "complete", "count": 5,
           "concept": [{"code": c, "display": c.replace("_", " "), "definition": d} for c, d in [
               ("user_request", "A user asked for it."), ("proactive", "The agent decided on its own."),
               ("retry", "A repeat of a failed call."), ("follow_up", "A follow-up to an earlier call or answer."),
               ("system", "A system process, not a user.")]]})
write("CodeSystem-caretrail-trigger.json", cs)
vs = common("ValueSet", "caretrail-trigger", "CareTrail trigger", "All codes of the CareTrail trigger code system.")
vs["compose"] = {"include": [{"system": f"{BASE}/CodeSystem/caretrail-trigger"}]}
write("ValueSet-caretrail-trigger.json", vs)
