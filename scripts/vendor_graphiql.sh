#!/usr/bin/env bash
# Vendor GraphiQL into the package, so /graphql works offline and under a strict CSP
# (no CDN). Run it to upgrade, then commit app/web/static/graphiql/.
#
# GraphiQL 3.x is the last line that ships a UMD bundle (4 and later are ES modules
# meant for a bundler), and React 18 the last with UMD builds: both load with plain
# <script> tags. `npm pack` fetches the published tarballs only; nothing is installed.
set -euo pipefail

GRAPHIQL_VERSION="${GRAPHIQL_VERSION:-3.8.3}"
REACT_VERSION="${REACT_VERSION:-18.2.0}"
here="$(cd "$(dirname "$0")/.." && pwd)"
target="$here/app/web/static/graphiql"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
for spec in "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION"; do
    tarball="$(npm pack --silent "$spec")"
    name="${spec%@*}"
    mkdir -p "$name"
    tar -xzf "$tarball" -C "$name" --strip-components=1
done

mkdir -p "$target"
cp graphiql/graphiql.min.js graphiql/graphiql.min.css "$target/"
cp react/umd/react.production.min.js react-dom/umd/react-dom.production.min.js "$target/"
{
    echo "Vendored by scripts/vendor_graphiql.sh; do not edit."
    echo "graphiql $GRAPHIQL_VERSION (MIT), react $REACT_VERSION (MIT), react-dom $REACT_VERSION (MIT)"
    echo
    for name in graphiql react react-dom; do
        echo "== $name =="
        cat "$name/LICENSE" 2>/dev/null || echo "(license: see package.json)"
        echo
    done
} > "$target/LICENSES.txt"
# the vendored files only (sieve.js, beside them, is ours)
( cd "$target" && sha256sum ./graphiql.min.js ./graphiql.min.css ./react.production.min.js \
    ./react-dom.production.min.js > SHA256SUMS )
ls -l "$target"
