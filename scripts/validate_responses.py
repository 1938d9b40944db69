#!/usr/bin/env python3
"""Validates real HTTP responses against openapi.yaml.

    validate_responses.py openapi.yaml responses.json

responses.json is a list of {"method", "path" (the route template, e.g. /v1/reviews/{id}),
"status", "body"} that a test collected from the running handlers. Every response must be
documented for its route and status, and its body must match the documented schema (OpenAPI
3.0 semantics: nullable, enums, required fields, additionalProperties where stated). Exits 1
and names each mismatch otherwise. The spec itself is checked first.
"""
import json
import sys

import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: validate_responses.py openapi.yaml responses.json")
    with open(sys.argv[1]) as f:
        spec = yaml.safe_load(f)
    validate_spec(spec)
    with open(sys.argv[2]) as f:
        responses = json.load(f)
    problems = []
    for r in responses:
        where = f'{r["method"]} {r["path"]} -> {r["status"]}'
        operation = spec["paths"].get(r["path"], {}).get(r["method"].lower())
        if operation is None:
            problems.append(f"{where}: route not documented")
            continue
        documented = operation.get("responses", {}).get(str(r["status"]))
        if documented is None:
            problems.append(f"{where}: status not documented")
            continue
        documented = resolve(spec, documented)
        schema = documented.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            continue
        # References inside the schema resolve against the whole document.
        root = dict(schema)
        root["components"] = spec["components"]
        validator = OAS30Validator(root)
        for error in validator.iter_errors(r["body"]):
            path = "/".join(str(p) for p in error.absolute_path) or "(body)"
            problems.append(f"{where}: {path}: {error.message}")
    for p in problems:
        print(p)
    print(f"{len(responses)} responses checked against {sys.argv[1]}; {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
