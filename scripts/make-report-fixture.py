#!/usr/bin/env python3
"""Writes fixtures/report/calls.jsonl: a small known log for the report golden tests.

Patient PAT-100 ("Maria Garcia", born 1961-04-12) is read, updated, searched for, accessed
once under break-the-glass and once in a failed call, around the edges of January 2026, by
four users; PAT-200 and PAT-300 are other patients. Deterministic: no randomness.
"""
import json

def call(ts, user, role, tool, action, purpose, patient=None, patients=None, name=None, dob=None, ok=True,
         btg=None, conv="conv-1", trace="tr-1", turn=1, duration=20.0, model="claude-sonnet-4", tenant="hospital-1"):
    ev = {"timestamp": ts, "tenant_id": tenant, "conversation_id": conv, "trace_id": trace, "turn_number": turn,
          "user_id": user, "user_role": role, "model": model, "tool_name": tool, "action": action,
          "purpose_of_use": purpose, "duration_ms": duration,
          "session_metadata": {"client_ip": "10.0.0.7", "user_agent": "ClinicalAgent/1.4"},
          "usage": {"input_tokens": 1200, "output_tokens": 150, "cost_usd": 0.0042}}
    if action == "E":
        ev["patient_ids"] = patients
        ev["arguments"] = {"query": f"{name} born {dob}", "limit": 20}
    else:
        ev["patient_id"] = patient
        ev["arguments"] = {"patient_id": patient, "patient_name": name, "date_of_birth": dob}
    if ok:
        ev["result"] = {"status": "ok", "patient_name": name} if name else {"status": "ok"}
    else:
        ev["error"] = {"type": "PermissionError", "message": "permission denied for record"}
    if btg:
        ev["break_glass"] = {"reason": btg}
    return ev

M, D = "Maria Garcia", "1961-04-12"
calls = [
    call("2025-12-31T23:59:59.999Z", "usr-1", "physician", "get_patient_record", "R", "TREAT", "PAT-100", name=M, dob=D),
    call("2026-01-01T00:00:00.000Z", "usr-1", "physician", "get_lab_results", "R", "TREAT", "PAT-100", name=M, dob=D, turn=2),
    call("2026-01-01T09:15:00+01:00", "usr-2", "nurse", "search_patients", "E", "TREAT", patients=["PAT-100", "PAT-200"], name=M, dob=D, conv="conv-2", trace="tr-2"),
    call("2026-01-02T10:00:00Z", "usr-2", "nurse", "get_patient_record", "R", "TREAT", "PAT-200", name="John Smith", dob="1950-01-01", conv="conv-2", trace="tr-2", turn=2),
    call("2026-01-10T03:30:00Z", "usr-3", "physician", "get_patient_record", "R", "ETREAT", "PAT-100", name=M, dob=D, conv="conv-3", trace="tr-3",
         btg='Unconscious patient in ED, "no consent" possible, callback 555-123-4567'),
    call("2026-01-10T03:35:00Z", "usr-3", "physician", "update_medication", "U", "ETREAT", "PAT-100", name=M, dob=D, conv="conv-3", trace="tr-3", turn=2, duration=88.5),
    call("2026-01-15T12:00:00Z", "usr-4", "billing_clerk", "get_billing_summary", "R", "HPAYMT", "PAT-100", name=M, dob=D, conv="conv-4", trace="tr-4", ok=False, duration=5.0),
    call("2026-01-20T08:00:00Z", "usr-1", "physician", "order_lab", "C", "TREAT", "PAT-300", name="Wei Chen", dob="1988-08-08", conv="conv-5", trace="tr-5"),
    call("2026-01-31T23:59:59.999Z", "usr-1", "physician", "update_treatment", "U", "TREAT", "PAT-100", name=M, dob=D, conv="conv-6", trace="tr-6", duration=140.25),
    call("2026-02-01T00:00:00.000Z", "usr-2", "nurse", "get_patient_record", "R", "TREAT", "PAT-100", name=M, dob=D, conv="conv-7", trace="tr-7"),
]
with open("fixtures/report/calls.jsonl", "w") as out:
    for ev in calls:
        out.write(json.dumps(ev, separators=(",", ":")) + "\n")
