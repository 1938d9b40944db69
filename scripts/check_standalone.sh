#!/usr/bin/env bash
# Checks that the repository stands alone: nothing in it refers to a path outside it, so a clone
# with nothing beside it builds, tests and reads completely. `make standalone`; a step of
# `make test` and `make lint`.
#
# Fails (exit 1), listing file:line, when a tracked file (git ls-files; except this script):
#   1. names the `shared` directory that used to sit beside the repository (`..`, then `/shared`);
#   2. refers to DESIGN.md, CONTRACT.md or PROVIDERS.md (documents outside the repository),
#      unless the repository has a file of that name;
#   3. names a relative path that climbs out of the repository root. Each path with a `..`
#      segment is resolved from where it is read:
#        - Rust: `include_str!`/`include_bytes!`/`include!`/`#[path]` from the file's directory;
#          any other path (`concat!(env!("CARGO_MANIFEST_DIR"), "/../x")`,
#          `format!("{}/../x", env!("CARGO_MANIFEST_DIR"))`, a bare "../x", which cargo test
#          reads from the crate directory) from the crate's directory;
#        - shell: `$ROOT/..` from the repository root; other paths from the file's directory
#          (paths after another variable cannot be resolved and are skipped);
#        - Python: `Path(__file__).parent.parent...` from the file; other paths from its directory;
#        - anything else (Markdown links, YAML, ...): from the file's directory.
#      URLs (`scheme://host/../x`) are not paths and are skipped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

exec python3 - "$ROOT" <<'PY'
import os
import re
import subprocess
import sys

root = sys.argv[1]
SELF = "scripts/check_standalone.sh"
OUTSIDE_DOCS = ("DESIGN.md", "CONTRACT.md", "PROVIDERS.md")
# The reference directory that used to sit beside the repository.
SIBLING = os.path.join(os.pardir, "shared")

files = [f for f in subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True,
                                   capture_output=True).stdout.decode().split("\0") if f]
basenames = {os.path.basename(f) for f in files}
docs = [d for d in OUTSIDE_DOCS if d not in basenames]
doc_re = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(d) for d in docs) + r")\b") if docs else None

# A path-like run of characters; the character before it tells a URL (':') from a path.
TOKEN = re.compile(r"[^\s\"'`()<>\[\]=,;:|&*?!#\\]+")
RUST_INCLUDE = re.compile(r"include_str!|include_bytes!|include!|#\[path")
PY_FILE_PARENTS = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?((?:\.parent)+)")
PLACEHOLDER = re.compile(r"^\{[^}]*\}$")
SHELL_VAR = re.compile(r"^\$\{?(\w+)\}?$")

findings = []


def depth(rel_dir):
    return 0 if rel_dir in ("", ".") else len(rel_dir.split("/"))


def crate_dir(path):
    d = os.path.dirname(path)
    while True:
        if os.path.isfile(os.path.join(root, d, "Cargo.toml")):
            return d
        if d in ("", "."):
            return ""
        d = os.path.dirname(d)


def escapes(start_depth, segments):
    level = start_depth
    for seg in segments:
        if seg in ("", "."):
            continue
        if seg == "..":
            level -= 1
            if level < 0:
                return True
        else:
            level += 1
    return False


def climbing_paths(path, line):
    """The paths on this line that climb out of the repository."""
    out = []
    ext = os.path.splitext(path)[1]
    for m in TOKEN.finditer(line):
        token = m.group(0)
        segments = token.split("/")
        if ".." not in segments or "/" not in token:
            continue
        if m.start() > 0 and line[m.start() - 1] == ":" and token.startswith("//"):
            continue  # a URL
        if ext == ".rs":
            base = os.path.dirname(path) if RUST_INCLUDE.search(line) else crate_dir(path)
            if PLACEHOLDER.match(segments[0]):
                segments = segments[1:]
        elif ext in (".sh", ".bash") or path in ("Makefile",) or path.startswith(".ci/"):
            base = os.path.dirname(path)
            var = SHELL_VAR.match(segments[0])
            if var:
                if var.group(1) != "ROOT":
                    continue  # relative to something we cannot resolve here
                base = ""
                segments = segments[1:]
        else:
            base = os.path.dirname(path)
        if escapes(depth(base), segments):
            out.append(token)
    if ext == ".py":
        for m in PY_FILE_PARENTS.finditer(line):
            parents = m.group(1).count(".parent")
            if parents > depth(os.path.dirname(path)) + 1:
                out.append(m.group(0))
    return out


for path in files:
    if path == SELF:
        continue
    full = os.path.join(root, path)
    try:
        with open(full, "rb") as f:
            data = f.read()
    except (FileNotFoundError, IsADirectoryError):
        continue
    if b"\0" in data:
        continue  # binary
    text = data.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        reasons = []
        if SIBLING in line:
            reasons.append(f"refers to {SIBLING}")
        if doc_re:
            for name in sorted(set(doc_re.findall(line))):
                reasons.append(f"refers to {name}, which is not in the repository")
        for token in climbing_paths(path, line):
            if SIBLING in token:
                continue  # already reported
            reasons.append(f"path climbs out of the repository: {token}")
        for reason in reasons:
            findings.append(f"{path}:{number}: {reason}: {line.strip()[:160]}")

if findings:
    print("\n".join(findings))
    print(f"check_standalone: {len(findings)} reference(s) to paths outside the repository", file=sys.stderr)
    sys.exit(1)
print("check_standalone: ok (nothing refers to a path outside the repository)", file=sys.stderr)
PY
