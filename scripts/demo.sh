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
  rm -rf "$LEDGERML_WORKSPACE" "$LEDGERML_WORKSPACE.reports" "$LEDGERML_WORKSPACE.checkpoints" \
    "$LEDGERML_WORKSPACE.export"
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

S=sample_data/german-credit
REPORTS="$LEDGERML_WORKSPACE.reports"
say "Snapshotting the raw German credit file (bytes kept as they are)"
$L --as dana snapshot add $S/german.data --dataset german-credit \
  --source "UCI Machine Learning Repository: Statlog (German Credit Data), donor H. Hofmann" \
  --collection-method "loan applications of a German bank, 1973-1975" \
  --legal-basis "public research data, CC BY 4.0" --consent "not applicable (anonymised)" \
  --sensitive column08,column12 --retention 7y --reason "raw data for the credit-risk model"
$L --as dana snapshot add $S/german.data --dataset german-credit >/dev/null  # same bytes: no new version
$L snapshot profile german-credit@1

say "Validating the raw snapshot (a gate later stages ask for)"
$L --as val validate german-credit@1 --suite $S/raw_suite.toml --reason "intake checks"

say "Building the readable feature view (SQL over the snapshot, lineage recorded)"
$L --as sam feature build $S/features.toml --reason "readable features for training"
$L --as sam validate german-credit-features --suite $S/features_suite.toml \
  --reason "features ready for training"

say "Writing the data sheet (Markdown + self-contained HTML) into $REPORTS"
$L --as dana report datasheet german-credit-features --answers $S/datasheet_features.toml -o "$REPORTS"
$L --as dana report datasheet german-credit@1 --answers $S/datasheet.toml -o "$REPORTS"

say "Training the credit-risk model (refused unless its input passed its suite)"
$L --as sam train $S/train.toml --reason "first credit-risk model"
RUN=$($L --as sam --json audit log --action train.run --limit 1 | python3 -c 'import json,sys; print("run:" + json.load(sys.stdin)[0]["body"]["data"]["run_id"])')
$L --as sam model register "$RUN" --name credit-risk --reason "candidate for validation"

say "An unsigned model is not trusted"
$L model verify credit-risk@1 || echo "(exit $?: as expected, nothing unsigned runs)"

say "Signing it with sam's keyring key (DSSE in-toto + OpenSSF model-signing bundle)"
$L --as sam model sign credit-risk@1 --reason "trained and checked by sam"
$L model verify credit-risk@1
$L model show credit-risk@1

say "Exporting it for third-party verification (model_signing verify key ...)"
$L model export credit-risk@1 -o "$LEDGERML_WORKSPACE.export"

say "Reproducing the run in a fresh process"
$L --as val reproduce "$RUN" --reason "independent reproduction"

say "Evaluating it: fairness, SHAP, robustness, privacy, baseline (signed evidence)"
$L --as val key create --reason "val signs evidence" >/dev/null 2>&1
$L --as val evaluate credit-risk@1 --suite $S/evaluation.toml --reason "pre-release validation"

say "Model card and impact assessment into $REPORTS"
$L --as val report model-card credit-risk@1 --answers $S/model_card.toml -o "$REPORTS"
$L --as val report impact-assessment credit-risk@1 --answers $S/impact_answers.toml -o "$REPORTS"

say "Lineage of the model, upstream"
$L lineage credit-risk@1

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

say "Exporting the audit bundle (the export itself is recorded)"
$L --as audrey bundle export credit-risk@1 -o "$LEDGERML_WORKSPACE.export/credit-risk-1.zip" \
  --reason "annual model audit"

say "Verifying it in a fresh folder with no workspace, using only the bundled verify.py"
AIRGAP=$(mktemp -d)
cp "$LEDGERML_WORKSPACE.export/credit-risk-1.zip" "$AIRGAP/"
(cd "$AIRGAP" && unzip -q -o credit-risk-1.zip verify.py \
  && env -u LEDGERML_WORKSPACE "$OLDPWD/.venv/bin/python" verify.py credit-risk-1.zip)
env -u LEDGERML_WORKSPACE $L bundle verify "$AIRGAP/credit-risk-1.zip" \
  --checkpoint "$LEDGERML_WORKSPACE.checkpoints/latest.json"
rm -rf "$AIRGAP"

say "Workspace status"
$L status
printf '\nDone. The workspace is in %s; try `%s --workspace %s audit log`.\n' \
  "$LEDGERML_WORKSPACE" "scripts/with-keyring $L" "$LEDGERML_WORKSPACE"
