#!/usr/bin/env bash
# Brings the federation up on 127.0.0.1 with embedded SQLite and demo data. Installs what is
# missing first (scripts/setup.sh) and generates the test PKI and virtual cards when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --workspace --release --locked
cargo run --release --locked -p certs -- generate --out certs/out
echo
echo "Test PKI and virtual cards: certs/out (manifest: certs/out/manifest.json)"
echo "The services (IdP, relay, WSPs, portal, card agent) are added by their issues; see README.md."
