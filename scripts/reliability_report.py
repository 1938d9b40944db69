#!/usr/bin/env python3
"""Prints the reliability suite's figures (docs: SECURITY.md) from target/reliability/*.json.

Each part of the suite writes its own figures file: load.json, outage.json and security.json
(dev/tests/reliability.rs) and fuzz.json (the stopgate-fuzz crate). Exits non-zero when a file
is missing or a figure that must be zero is not, so the report is also a check.

Usage: scripts/reliability_report.py [DIR]   (default: target/reliability)
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIR = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "reliability"
PARTS = ["load", "outage", "security", "fuzz"]


def load(name):
    path = DIR / f"{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def main():
    figures = {name: load(name) for name in PARTS}
    missing = [name for name, f in figures.items() if f is None]
    load_, outage, security, fuzz = (figures[p] or {} for p in PARTS)
    must_be_zero = {
        "secrets or numbers found in logs": sum(
            f.get("log_findings", 0) for f in (load_, outage, security)
        ),
        "events lost": load_.get("events_lost", 0) + outage.get("events_lost", 0),
        "events doubled": load_.get("events_doubled", 0) + outage.get("events_doubled", 0),
        "5xx answers under load": load_.get("server_errors", 0),
        "states unlike the fold of their events": load_.get("states_unlike_their_fold", 0),
        "event chains broken": load_.get("chains_broken", 0) + outage.get("chains_broken", 0),
        "standings unlike the rules": load_.get("standings_unlike_the_rules", 0)
        + outage.get("standings_unlike_the_rules", 0),
        "numbers unlike the run without outage": outage.get(
            "numbers_unlike_the_run_without_outage", 0
        ),
        "acknowledged with storage and queue down": outage.get("both_down_acknowledged", 0),
        "fuzz panics": fuzz.get("panics", 0),
        "fuzz targets failed": fuzz.get("failures", 0),
        "hostile requests answered wrongly": security.get("cases", 0)
        - security.get("answered_as_expected", 0),
    }
    rows = [
        ("deliveries (load)", load_.get("deliveries")),
        ("duplicates (load)", load_.get("duplicates")),
        ("numbers / providers / in flight", "{} / {} / {}".format(
            load_.get("numbers"), len(load_.get("providers", [])), load_.get("in_flight"))),
        ("deliveries per second (load)", load_.get("deliveries_per_second")),
        ("captured over budget and replayed (load)", load_.get("captured_and_replayed")),
        ("outage deliveries", outage.get("outage_deliveries")),
        ("outage deliveries captured", outage.get("outage_deliveries_captured")),
        ("replayed after the outage", outage.get("replayed_after_the_outage")),
        ("checks answered 503 in the outage", outage.get("checks_answered_503")),
        ("hostile requests refused as expected", "{} of {}".format(
            security.get("answered_as_expected"), security.get("cases"))),
    ]
    for target, inputs in sorted(fuzz.get("targets", {}).items()):
        rows.append((f"fuzz inputs: {target}", f"{inputs:,}"))
    rows += [(name, value) for name, value in must_be_zero.items()]

    width = max(len(name) for name, _ in rows)
    print("\nReliability suite")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    bad = [name for name, value in must_be_zero.items() if value]
    required = fuzz.get("cases", 0)
    low = [t for t, n in fuzz.get("targets", {}).items() if n < required]
    if missing:
        print(f"\nmissing figures: {', '.join(missing)} (did that part run?)")
    if bad:
        print(f"\nnot zero: {', '.join(bad)}")
    if low:
        print(f"\nfuzz targets under {required:,} inputs: {', '.join(low)}")
    return 1 if missing or bad or low else 0


if __name__ == "__main__":
    sys.exit(main())
