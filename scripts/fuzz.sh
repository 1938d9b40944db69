#!/usr/bin/env bash
# The hostile-input run (the stopgate-fuzz crate, `hostile`): at least FUZZ_CASES generated inputs
# per target (default 1,000,000), built with the `fuzz` profile (release speed, debug assertions
# and overflow checks on). Arguments go to `hostile` (e.g. --summary PATH, --target NAME).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo run --quiet --profile fuzz -p stopgate-fuzz --bin hostile -- \
  --cases "${FUZZ_CASES:-1000000}" "$@"
