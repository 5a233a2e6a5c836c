#!/usr/bin/env python3
"""Writes fixtures/workload/sample.jsonl: the demo's and the tests' sample workload.

5,000 tool calls from scripts/gen_workload.py (seed 7, so one access burst of 12
calls to one patient around call 4,000), with one agent request in front of every tenth
trace. Agent requests carry user messages and answers full of PHI (names, SSNs, birth
dates, phones, e-mail) that must never reach the database in clear text.
Run from the project root: python3 scripts/make-sample-workload.py
"""
import json, subprocess, sys, random

out = subprocess.run([sys.executable, "scripts/gen_workload.py", "5000"],
                     check=True, capture_output=True, text=True).stdout.splitlines()
rnd = random.Random(11)
FIRST = ["Maria", "John", "Wei", "Aisha", "Carlos", "Olga", "Kenji", "Fatima"]
LAST = ["Garcia", "Smith", "Chen", "Khan", "Silva", "Ivanova", "Tanaka", "Haddad"]
lines = []
seen = set()
for line in out:
    call = json.loads(line)
    trace = call["trace_id"]
    if trace not in seen and int(trace[3:]) % 10 == 0:
        seen.add(trace)
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        ssn = f"{rnd.randrange(100, 899)}-{rnd.randrange(10, 99)}-{rnd.randrange(1000, 9999)}"
        phone = f"(555) {rnd.randrange(200, 999)}-{rnd.randrange(1000, 9999)}"
        request = {
            "kind": "agent_request", "trace_id": trace, "tenant_id": call["tenant_id"],
            "conversation_id": call["conversation_id"], "user_id": call["user_id"],
            "user_role": call["user_role"], "model": call["model"], "timestamp": call["timestamp"],
            "input": f"Pull up the chart for {name}, SSN {ssn}, born 1961-03-04, and check the latest labs.",
            "output": f"{name} (phone {phone}, {name.split()[0].lower()}@example.org) has normal potassium; "
                      f"creatinine slightly raised since 2025-11-02.",
            "usage": {"input_tokens": rnd.randrange(200, 2000), "output_tokens": rnd.randrange(50, 600),
                      "cost_usd": round(rnd.uniform(0.001, 0.05), 4)},
            "duration_ms": round(rnd.uniform(400, 4000), 1),
        }
        lines.append(json.dumps(request, separators=(",", ":")))
    lines.append(line)
with open("fixtures/workload/sample.jsonl", "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"wrote {len(lines)} records to fixtures/workload/sample.jsonl")
