#!/usr/bin/env python3
"""Validates FHIR JSON (one resource per file, or NDJSON with --ndjson) against the R4 JSON
Schema with the `jsonschema` package (Draft 6, as the schema declares). Prints one line per
invalid resource and exits 1 if any is invalid. Used by the test suite."""
import json, sys
import jsonschema

def main():
    args = sys.argv[1:]
    ndjson = "--ndjson" in args
    args = [a for a in args if a != "--ndjson"]
    schema_path, files = args[0], args[1:]
    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft6Validator(schema)
    bad = 0
    for path in files:
        with open(path) as f:
            docs = [json.loads(line) for line in f if line.strip()] if ndjson else [json.load(f)]
        for index, doc in enumerate(docs):
            errors = list(validator.iter_errors(doc))
            if errors:
                bad += 1
                best = jsonschema.exceptions.best_match(errors)
                print(f"{path}#{index}: {best.message} at {'/'.join(map(str, best.absolute_path))}")
    print(f"{bad} invalid")
    sys.exit(1 if bad else 0)

main()
