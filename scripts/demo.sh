#!/usr/bin/env bash
# The main job, end to end, on a fresh workspace: create it, register people, give them keys,
# record events, sign a checkpoint and verify the whole ledger. Honours LEDGERML_WORKSPACE.
set -euo pipefail
cd "$(dirname "$0")/.."
L=".venv/bin/ledgerml"
export LEDGERML_WORKSPACE="${LEDGERML_WORKSPACE:-$PWD/demo-workspace}"
export LEDGERML_ACTOR="${LEDGERML_ACTOR:-steward-admin}"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -e "$LEDGERML_WORKSPACE" ]; then
  say "Removing the previous demo workspace $LEDGERML_WORKSPACE"
  rm -rf "$LEDGERML_WORKSPACE"
fi
say "Creating the workspace in $LEDGERML_WORKSPACE (founding admin: $LEDGERML_ACTOR)"
$L init --reason "demo: governed pipeline on the German credit data"

say "Registering the team"
$L actor add dana --role data-steward --reason "owns the credit data"
$L actor add sam --role data-scientist --reason "builds the credit-risk model"
$L actor add val --role validator --role approver --reason "independent model validation"
$L actor add audrey --role auditor --reason "internal audit"
$L actor list

say "Giving them signing keys (private halves stay in the OS keyring)"
$L key create --actor sam --reason "sam signs training runs"
$L key create --actor val --algorithm ed25519 --reason "val signs approvals"
$L key list

say "A wrong role is refused, and nothing is recorded"
if $L --as sam actor add mallory --role admin; then echo "unexpected success" >&2; exit 1; fi

say "Signing a checkpoint of the ledger and keeping a copy outside the workspace"
mkdir -p "$LEDGERML_WORKSPACE.checkpoints"
$L audit checkpoint --copy-to "$LEDGERML_WORKSPACE.checkpoints/latest.json"

say "Rotating a key: old signatures stay valid, the new key signs from now on"
$L key rotate sam-keyring --reason "yearly rotation"

say "The audit log"
$L audit log

say "Inclusion proof of event 2 against the signed checkpoint"
$L audit prove 2

say "Full verification against the external checkpoint"
$L audit verify --checkpoint "$LEDGERML_WORKSPACE.checkpoints/latest.json"

say "Workspace status"
$L status
printf '\nDone. The workspace is in %s; try `%s --workspace %s audit log`.\n' \
  "$LEDGERML_WORKSPACE" "scripts/with-keyring $L" "$LEDGERML_WORKSPACE"
