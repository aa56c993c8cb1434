#!/usr/bin/env bash
# Installs the npm packages check_manifests.py validates the rendered
# manifests with (kubernetes-models, @kubernetes-models/keda,
# @kubernetes-models/prometheus-operator) into DIR/node_modules, unless they
# are there already. Without npm or a reachable registry it says so and
# succeeds: check_manifests.py then skips schema validation with a message.
#
#   install_schemas.sh DIR
set -uo pipefail
dir="$1"
packages=(kubernetes-models@5 @kubernetes-models/keda@0.4
          @kubernetes-models/prometheus-operator@6)
if [[ -d "$dir/node_modules/kubernetes-models" &&
      -d "$dir/node_modules/@kubernetes-models/keda" &&
      -d "$dir/node_modules/@kubernetes-models/prometheus-operator" ]]; then
  echo "schema packages already in $dir/node_modules"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm not found: schema validation will be skipped"
  exit 0
fi
mkdir -p "$dir"
if ! timeout 300 npm install --prefix "$dir" --no-audit --no-fund \
    --no-save --silent "${packages[@]}"; then
  echo "npm install failed (registry unreachable?): schema validation will" \
       "be skipped"
fi
exit 0
