#!/usr/bin/env python3
"""Checks CareTrail's CEF output with an independent parser: pycef (PyPI).

Usage: cef-check.py CEF_FILE JSONL_FILE

Both files come from `caretrail stream` over the same entries (`--format cef` and
`--format jsonl`). Every CEF line is parsed by pycef; its extension values, unescaped as the
CEF specification says (\\\\ \\= \\n \\r), must equal the JSON line's fields. Prints how many
entries were compared; exits 1 on the first difference, naming the entry's seq and the field
(never the value).

pycef leaves escapes in place and does not accept escaped pipes in the header, so header
escaping is covered by the Swift tests; this check covers the extension, where the
free-form values are."""
import json, sys
import pycef

def unescape(value):
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append({"n": "\n", "r": "\r"}.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)

def main():
    cef_lines = [l for l in open(sys.argv[1], encoding="utf-8").read().split("\n") if l]
    json_lines = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
    entries = [j for j in json_lines if j["event"]["kind"] != "checkpoint"]
    cef_entries = [l for l in cef_lines if "|checkpoint|" not in l]
    if len(entries) != len(cef_entries):
        print(f"{len(cef_entries)} CEF entries but {len(entries)} JSON lines"); return 1
    for line, entry in zip(cef_entries, entries):
        parsed = pycef.parse(line)
        c = entry["caretrail"]
        seq = c["seq"]
        if parsed is None:
            print(f"seq {seq}: pycef could not parse the line"); return 1
        expected = {
            "externalId": str(seq), "suser": entry["user"]["id"], "tenant": c["tenant"], "hash": c["hash"],
            "purpose": c["purpose"], "patient": c["patient_id"], "outcome": entry["event"]["outcome"],
            "act": entry["event"]["action"], "conversation": c["conversation_id"], "trace": c["trace_id"],
            "deviceProcessName": c["model"],
        }
        if parsed.get("CEFVersion") != "0" or parsed.get("DeviceVendor") != "CareTrail":
            print(f"seq {seq}: header"); return 1
        if entry["event"]["kind"] == "tool_call" and parsed.get("DeviceEventClassID") != c["tool"]:
            print(f"seq {seq}: signature (tool)"); return 1
        for field, want in expected.items():
            got = parsed.get(field)
            if want is None:
                if got is not None:
                    print(f"seq {seq}: {field} present but not in the entry"); return 1
                continue
            if got is None or unescape(got) != want:
                print(f"seq {seq}: {field} differs"); return 1
    print(f"{len(entries)} entries intact")
    return 0

sys.exit(main())
