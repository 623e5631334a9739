#!/usr/bin/env bash
# Brings the federation up on 127.0.0.1 with embedded SQLite and demo data. Installs what is
# missing first (scripts/setup.sh) and generates the test PKI and virtual cards when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --workspace --release --locked
cargo run --release --locked -p certs -- generate --out certs/out
echo
cargo run --release --locked -q -p certs -- show
echo
echo "Virtual cards and their PINs: certs/out/manifest.json (auth_token.pin, sign_token.pin)."
echo "Runs today: card agent  cargo run --release -p idp --bin card-agent -- example-config"
echo "            IdP         cargo run --release -p idp --bin idp -- example-config"
echo "            relay DB    cargo run --release -p wsp-relay --bin relay-admin -- --help"
echo "The data providers and the portal are added by their issues; see README.md."
