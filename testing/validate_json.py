#!/usr/bin/python3
"""Test helper: validates JSON files against a JSON Schema (Debian's python3-jsonschema).
Usage: validate_json.py SCHEMA FILE... ; exits 1 and names the file and the error when one fails."""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft202012Validator(schema)
status = 0
for name in sys.argv[2:]:
    errors = sorted(validator.iter_errors(json.load(open(name))), key=lambda e: list(e.path))
    for error in errors[:5]:
        print(f"{name}: {'/'.join(map(str, error.path))}: {error.message}")
        status = 1
sys.exit(status)
