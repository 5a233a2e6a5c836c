#!/usr/bin/env python3
"""Validates FHIR R5 JSON (NDJSON of AuditEvents, or Bundles with --bundle) with an outside
validator: the `fhir.resources` package (PyPI), whose models follow the R5 (5.0.0)
StructureDefinitions, element types included. Prints one line per invalid resource and exits
1 if any is invalid. Used by the test suite."""
import json, sys

from fhir.resources.auditevent import AuditEvent
from fhir.resources.bundle import Bundle


def main():
    args = sys.argv[1:]
    bundle = "--bundle" in args
    files = [a for a in args if a != "--bundle"]
    bad = checked = 0
    for path in files:
        with open(path) as f:
            docs = [json.load(f)] if bundle else [json.loads(line) for line in f if line.strip()]
        for index, doc in enumerate(docs):
            checked += 1
            try:
                (Bundle if bundle else AuditEvent).model_validate(doc)
            except Exception as error:  # pydantic.ValidationError and kin
                bad += 1
                first = str(error).splitlines()[:6]
                print(f"{path} #{index} ({doc.get('id', '?')}): " + " | ".join(first))
    print(f"{checked} resources checked, {bad} invalid")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
