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
    "$LEDGERML_WORKSPACE.export" "$LEDGERML_WORKSPACE.secrets" "$LEDGERML_WORKSPACE.team.env" \
    "$LEDGERML_WORKSPACE.org.pem" "$LEDGERML_WORKSPACE.ops" "$LEDGERML_WORKSPACE.replica"
  scripts/team-server stop "$LEDGERML_WORKSPACE.pg"
fi
say "Creating the workspace in $LEDGERML_WORKSPACE (founding admin: $LEDGERML_ACTOR)"
echo "A team of six on one machine: demo identities, marked as such in the ledger. Their keys"
echo "share this OS account's keyring, so they separate no one; val's key also needs a"
echo "passphrase. Real separation is one OS account (or one token PIN) per person."
$L init --demo --reason "demo: governed pipeline on the German credit data"

say "Registering the team (each gets their own key, certified by the organisation key)"
SECRETS="$LEDGERML_WORKSPACE.secrets"
mkdir -p -m 700 "$SECRETS"
( umask 077; printf 'demo passphrase for val\n' > "$SECRETS/val" )
$L actor add dana --role data-steward --demo --reason "owns the credit data"
$L actor add sam --role data-scientist --demo --reason "builds the credit-risk model"
LEDGERML_SECRET_FILE="$SECRETS/val" $L actor add val --role validator --role approver \
  --backend passphrase --demo --reason "independent model validation"
$L actor add audrey --role auditor --demo --reason "internal audit"
$L actor add cleo --role compliance --demo --reason "compliance sign-off on models"
$L actor list
$L key list

say "The organisation's model-risk policy, in force from here on (an admin's signed act)"
echo "Rego rules (no PII input without a DPIA, no failing fairness at tiers 1-2, the approvals"
echo "a tier demands, no self-approval) and their data (tiers, k-of-n, validity). Each governed"
echo "action records the decision, with the policy's digest, in its own signed event."
$L policy install sample_data/policies/default --reason "model-risk policy, first version"
$L policy list

say "Acting as val without val's passphrase is refused, and nothing is recorded"
if $L --as val attest create sample_data/german-credit/README.md </dev/null; then echo "unexpected success" >&2; exit 1; fi
export LEDGERML_SECRET_FILE="$SECRETS/val"  # from here on this shell holds val's secret

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

say "Risk-tiering the model as it enters the registry: impact 4 x likelihood 3 = 12, tier 2"
$L --as val model risk credit-risk --impact 4 --likelihood 3 \
  --rationale "consumer credit decisions; a human reviews every refusal" --dpia DPIA-2026-007 \
  --purpose "credit risk of loan applicants" --use "decision support for loan officers" \
  --restrictions "not for applicants under 21" --owner dana --reason "model-risk intake"

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
echo "The spec declares the outcome: positive = bad credit risk, favourable = the negative"
echo "prediction (approved). A comparison with a group under 30 held-out rows is INCONCLUSIVE:"
echo "never a pass (the verdict is the worst of the checks; exit 1 only on a FAIL)."
$L --as val evaluate credit-risk@1 --suite $S/evaluation.toml --reason "pre-release validation"

say "Lifecycle: the independent validator moves it to validated (policy: a validator, fresh evidence)"
$L --as val model promote credit-risk@1 --to validated --reason "independent validation done"

say "A self-approval is refused by the policy (admins are not exempt), and the refusal is recorded"
$L actor grant sam --role approver --reason "sam also reviews other teams' models"
if $L --as sam approve credit-risk@1 --for approved --role approver --reason "looks good to me"; then
  echo "unexpected: a developer approved their own model" >&2; exit 1
fi
echo "Promoting to approved before tier 2's approvals (a validator and compliance) is refused too:"
if $L --as val model promote credit-risk@1 --to approved --reason "ship it"; then
  echo "unexpected: promoted without approvals" >&2; exit 1
fi
BEFORE=$($L --json audit log --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["seq"])')

say "Two distinct people approve, each signing an in-toto statement with their own key"
$L --as val approve credit-risk@1 --for approved --role validator \
  --reason "validation evidence reviewed; fairness INCONCLUSIVE on small groups is noted"
$L --as cleo approve credit-risk@1 --for approved --role compliance \
  --condition "not for applicants under 21 [where age_years >= 21]" --reason "compliance review done"
$L approvals list
$L --as val model promote credit-risk@1 --to approved --reason "tier 2 approvals complete"

say "The model's history, the inventory (SR 11-7 fields), and the registry as it was before"
$L model history credit-risk
$L inventory
$L registry at "$BEFORE"
$L policy decisions --deny
$L alerts

say "Deploying: an operator puts the approved model to work (the policy's deploy gate decides)"
echo "Production takes approved versions only, on fresh evidence that did not FAIL and approvals"
echo "that still count today; the approval's conditions travel with the deployment (a [where …]"
echo "part is enforced by scoring row by row, the words alone are recorded). Staging keeps each"
echo "input row in its decision log (--retention rows) so monitoring can measure input drift."
$L actor add opal --role operator --demo --reason "runs the credit-risk service"
$L actor add scorer --role operator --service --demo --reason "the scoring service's own identity"
$L --as opal deploy credit-risk@1 --env staging --retention rows --reason "acceptance tests"
$L --as opal deploy credit-risk@1 --env production --reason "approved for production"
LIVE_V1=$($L --json audit log --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["seq"])')

say "Scoring in production: cleo's condition [where age_years >= 21] refuses, row by row, the applicants it does not allow"
echo "Batches for the demo: 500 applicants like those of training (their outcomes known later),"
echo "and 500 whose loans are three times longer and four times larger than anything in training."
WORK="$LEDGERML_WORKSPACE.ops"
mkdir -p "$WORK"
PQ=$($L --json snapshot show german-credit-features@1 | python3 -c 'import json,sys; d=json.load(sys.stdin)["parquet_digest"]; print(d[:2] + "/" + d[2:])')
.venv/bin/python scripts/ops_batches.py "$LEDGERML_WORKSPACE/objects/sha256/$PQ" "$WORK"
$L --as scorer score --env production "$WORK/calm.csv" -o "$WORK/production-answers.csv"
echo "(refused decisions are logged too: every decision, whatever its status, is in the log)"

say "The CI pipeline: snapshot, validate, features, validate, train, sign, evaluate, validate, request approval, stage"
echo "Each step runs as the actor it names (dana, sam, val, opal), gated as on the command line;"
echo "the run is one pipeline.run event with every step's result and a JUnit report for Jenkins/GitLab."
$L pipeline run $S/pipeline.toml --junit "$REPORTS/pipeline-junit.xml" --out-dir "$REPORTS"
$L pipeline runs
$L deployments --env staging --history

say "The pipeline re-validated credit-risk@1's training data: newer evidence voids its approvals"
echo "(the default policy's evidence_change = \"void\"), so production stops scoring it until"
echo "they are renewed; nothing is answered unapproved:"
if $L --as scorer score --env production "$WORK/calm.csv" -o "$WORK/refused.csv"; then
  echo "unexpected: production scored on approvals that no longer stand" >&2; exit 1
fi
echo "The alerts say it too, naming the evidence that voided each approval:"
$L alerts

say "Production refuses the pipeline's version: it is validated, not approved (nothing recorded)"
if $L --as opal deploy credit-risk@2 --env production --reason "skip the approvals"; then
  echo "unexpected: an unapproved version reached production" >&2; exit 1
fi

say "A throttle in production: the brake an incident can pull (the history only grows)"
$L --as opal throttle --env production --share 0.5 --reason "capacity test: answer half"
$L --as opal throttle --env production --lift --reason "capacity test over"
$L deployments
echo "What was live where when credit-risk@1 first went to production (event #$LIVE_V1):"
$L deployments --at "$LIVE_V1"

say "Service-level objectives and a playbook for staging (each file checked in full, then signed)"
$L --as opal slo set sample_data/operations/slo.toml --env staging --reason "what the credit committee signed off"
$L --as opal playbook set sample_data/operations/playbook.toml --env staging --reason "drift runbook"
if $L --as opal slo set $S/train.toml --env staging --reason "wrong file" 2>/dev/null; then
  echo "unexpected: a training spec passed as an SLO set" >&2; exit 1
fi

say "Scoring a batch in staging: only the deployed, verified model answers; every decision is logged"
$L --as scorer score --env staging "$WORK/calm.csv" -o "$WORK/calm-answers.csv" --explain 3
RID=$(python3 -c 'import csv,sys; print(next(r["request_id"] for r in csv.DictReader(open(sys.argv[1])) if r["status"] == "ok"))' "$WORK/calm-answers.csv")

say "One decision, provable offline: leaf, audit path, batch root, and the batch event's proof"
$L audit checkpoint
$L decision show "$RID" --proof "$WORK/proof.json"
echo "Checked with nothing but the proof and the organisation's public key (pinned by the verifier):"
$L key export-public organisation -o "$WORK/org.pem" >/dev/null
$L decision verify "$WORK/proof.json" --key "$WORK/org.pem"

say "A person overrides it (Art. 14 human oversight); a service identity may not"
if $L --as scorer decision override "$RID" --outcome approved --reason "auto" 2>/dev/null; then
  echo "unexpected: a service overrode a decision" >&2; exit 1
fi
$L --as opal decision override "$RID" --outcome approved --reason "income proof seen by the loan officer"

say "Recording what happened to the first 500 (late labels, joined by request id)"
.venv/bin/python scripts/ops_batches.py --outcomes "$WORK/calm-answers.csv" "$WORK/truth.csv" "$WORK/outcomes.csv"
$L --as opal outcome add "$WORK/outcomes.csv" --reason "repayment records for the first 500"

say "Monitoring that window: no drift, realised accuracy reconciled with the CBPE estimate"
$L --as scorer monitor run --env staging --window 1d

say "A drifted batch: monitoring fails (exit 1), the SLO breach opens an incident, the playbook rolls back"
$L --as scorer score --env staging "$WORK/drifted.csv" -o "$WORK/drifted-answers.csv" >/dev/null
if $L --as scorer monitor run --env staging --window 1d; then
  echo "unexpected: a drifted window passed" >&2; exit 1
fi
INC=$($L --json incident list --env staging --status open | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["seq"])')
$L incident show "$INC"
$L deployments --env staging

say "A service may not declare it handled; a person closes it with the resolution"
if $L --as scorer incident close "$INC" --reason "auto-resolved" 2>/dev/null; then
  echo "unexpected: a service closed an incident" >&2; exit 1
fi
$L --as opal incident close "$INC" --reason "upstream loan-term feed fixed; credit-risk@1 restored"
$L monitor list --env staging

say "A caller of the scoring service gets their own token (printed once; the ledger keeps a digest)"
$L actor add desk --role consumer --demo --reason "the credit desk's app"
TOKEN=$($L --as opal token add desk --env staging --reason "credit desk app")
$L token list --env staging

say "Serving staging on loopback: every answer a logged decision, signed in batches by the service"
$L --as scorer serve --env staging --port 0 --flush-every 100 2> "$WORK/serve.log" &
SERVE=$!
until grep -q ' at http://' "$WORK/serve.log"; do kill -0 $SERVE; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.log" | head -1)
curl -s "$URL/healthz"; echo
ROW=$(python3 -c 'import csv,json,sys; r=next(csv.DictReader(open(sys.argv[1]))); print(json.dumps({k: json.loads(v) if v in ("true", "false") or v.replace(".", "", 1).isdigit() else v for k, v in r.items()}))' "$WORK/calm.csv")
curl -s -H "Authorization: Bearer $TOKEN" -d "{\"row\": $ROW, \"request_id\": \"desk-0001\"}" "$URL/v1/score"; echo
curl -s -o /dev/null -w "without a token: HTTP %{http_code}\n" -d "$ROW" "$URL/v1/score"
$L --as opal token revoke "$($L --json token list --env staging | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["token_id"])')" --reason "demo: revoked while serving"
curl -s -w " (HTTP %{http_code})\n" -H "Authorization: Bearer $TOKEN" -d "$ROW" "$URL/v1/score"
curl -s "$URL/metrics" | grep '^ledgerml_serve_requests_total'
kill -TERM $SERVE; wait $SERVE   # a clean stop flushes the open window
$L audit checkpoint >/dev/null
$L decision show desk-0001

say "Operations reports: monitoring over time (charts), incidents with runbooks, the decision log"
$L report monitoring --env staging -o "$REPORTS"
$L report incidents --env staging -o "$REPORTS"
$L report decisions --env staging -o "$REPORTS"

say "Model card and impact assessment into $REPORTS"
$L --as val report model-card credit-risk@1 --answers $S/model_card.toml -o "$REPORTS"
$L --as val report impact-assessment credit-risk@1 --answers $S/impact_answers.toml -o "$REPORTS"

say "Lineage of the model, upstream"
$L lineage credit-risk@1

say "A wrong role is refused, and nothing is recorded"
if $L --as sam actor add mallory --role admin; then echo "unexpected success" >&2; exit 1; fi

say "Privacy: an encrypted copy with PII tags (a fresh AES-256 key per object, wrapped in a key store)"
$L --as dana snapshot add $S/german.data --dataset applicants-private --encrypt \
  --pii column08,column12 --retention 30d --reason "applicant records for the complaints desk"
$L snapshot show applicants-private@1
$L --as val validate applicants-private@1 --suite $S/raw_suite.toml --reason "intake checks"
echo "(an operator may not have it decrypted: refused, nothing recorded)"
if $L --as opal validate applicants-private@1 --suite $S/raw_suite.toml --reason "curious" \
  >/dev/null 2>&1; then echo "unexpected: an operator read encrypted data" >&2; exit 1; fi

say "Who read or exported sensitive data: the access log"
$L audit access

say "Retention: rules per dataset and per decision log, enforced; a legal hold blocks erasure"
$L --as dana retention set dataset:german-credit 7y --reason "credit files: 7 years (policy R-12)"
$L --as dana retention set decisions:staging 30d --reason "acceptance-test decisions: 30 days"
$L retention show
HOLD=$($L --as dana --json hold add dataset:applicants-private --reason "complaint 2026-114 under review" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["hold"])')
if $L --as dana data erase applicants-private@1 --reason "no longer needed" \
  --legal-basis "GDPR Art. 17(1)(a)" --yes; then echo "unexpected: erased under a hold" >&2; exit 1; fi
$L --as dana retention run --dry-run --as-of 2034-01-01
echo "(--as-of counts expiry at another instant: a dry run records nothing; a real one records"
echo " the instant, and the retention log flags every erasure made before its period ran out)"
$L --as dana retention run --reason "monthly retention run"   # nothing is due today: recorded anyway
$L --as dana hold remove "$HOLD" --reason "complaint 2026-114 closed"

say "Erasing it: the data keys destroyed (crypto-shredding), a signed deletion receipt"
$L --as dana data erase applicants-private@1 --reason "the complaints desk no longer needs it" \
  --legal-basis "GDPR Art. 17(1)(a)" --yes
$L data erasures
if $L --as val validate applicants-private@1 --suite $S/raw_suite.toml --reason "again" \
  >/dev/null 2>&1; then echo "unexpected: erased data was read" >&2; exit 1; fi
echo "(erased: every reader refuses it; audit verify below reports it as shredded, not missing)"

say "The retention and deletion log, the access log and the data-minimisation report"
$L report retention -o "$REPORTS"
$L --as audrey report access -o "$REPORTS"
$L report minimisation -o "$REPORTS"

say "Standard exports from the ledger: CycloneDX ML-BOM, SLSA provenance, Hugging Face card, OpenLineage"
for f in cyclonedx:cdx.json slsa:provenance.json hf-card:hf.md openlineage:openlineage.jsonl; do
  $L --as audrey export credit-risk@1 --format "${f%%:*}" --out "$REPORTS/credit-risk-1.${f#*:}"
done

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

say "The organisation key, which an auditor pins (handed over through another channel)"
ORG="$LEDGERML_WORKSPACE.org.pem"
$L key export-public organisation -o "$ORG"

say "Verifying it in a fresh folder with no workspace: a trusted verify.py and the pinned key"
AIRGAP=$(mktemp -d)
cp "$LEDGERML_WORKSPACE.export/credit-risk-1.zip" "$ORG" "$AIRGAP/"
cp storage/bundle_verifier.py "$AIRGAP/verify.py"  # the auditor's own copy, not the bundle's
(cd "$AIRGAP" && env -u LEDGERML_WORKSPACE "$OLDPWD/.venv/bin/python" verify.py \
  credit-risk-1.zip --key "$(basename "$ORG")" --recompute)
echo "(--recompute: the per-group rates, disparate impact, TPR/FPR gaps, ROC AUC and accuracy"
echo " recomputed from the bundled test predictions with the standard library, against the"
echo " signed evidence: a signature proves who said a number, this proves the number)"
echo "Without the pinned key the same bundle is only self-consistent (exit 1):"
if env -u LEDGERML_WORKSPACE $L bundle verify "$AIRGAP/credit-risk-1.zip" >/dev/null; then
  echo "unexpected: an unanchored bundle verified" >&2; exit 1
fi
env -u LEDGERML_WORKSPACE $L bundle verify "$AIRGAP/credit-risk-1.zip" --key "$ORG" \
  --checkpoint "$LEDGERML_WORKSPACE.checkpoints/latest.json"
rm -rf "$AIRGAP"

say "A second workstation: the team's shared ledger on PostgreSQL (a throwaway server here)"
echo "The workspace publishes its ledger and objects to the server and from now on records"
echo "through it: the server numbers events, so two workstations never fork the log, but it"
echo "signs nothing, and every workstation verifies everything it pulls."
PG="$LEDGERML_WORKSPACE.pg"
trap 'scripts/team-server stop "$PG"' EXIT
PGURL=$(scripts/team-server start "$PG")
$L remote add team "$PGURL"
REPLICA="$LEDGERML_WORKSPACE.replica"
$L clone "$PGURL" "$REPLICA"
echo "At the second workstation, audrey (auditor) signs the model card she reviewed:"
LEDGERML_WORKSPACE="$REPLICA" LEDGERML_ACTOR=audrey $L attest create \
  "$REPORTS/model-card-credit-risk-1.md" --reason "model card reviewed"
LEDGERML_WORKSPACE="$REPLICA" LEDGERML_ACTOR=audrey $L sync
echo "Back at the first: its status shows the teammate's event waiting; sync verifies and applies it"
$L status --no-verify | grep -E '^(remote|local head|remote head|last sync)'
$L sync --as audrey
$L audit log --limit 2
echo "Encrypted data travels with its keys wrapped per reader: audrey publishes a recipient key at"
echo "the second workstation (its private half stays in her keyring there),"
LEDGERML_WORKSPACE="$REPLICA" LEDGERML_ACTOR=audrey $L key recipient
echo "dana adds an encrypted snapshot at the first (its data keys are wrapped on the server for"
echo "every reader's recipient key),"
$L --as dana snapshot add $S/german.data --dataset applicants-shared --encrypt \
  --pii column08,column12 --reason "complaints desk, shared with the audit team"
echo "and audrey, at the second, unwraps the key (checked against dana's signed event) to reveal:"
LEDGERML_WORKSPACE="$REPLICA" LEDGERML_ACTOR=audrey $L reveal applicants-shared@1 column08 \
  --reason "audit sample of the shared copy"
echo "A database administrator rewrites audrey's attestation on the server; a new workstation's clone names it:"
psql -q "$PGURL" -c "UPDATE ledger_events SET body = convert_to(replace(convert_from(body, 'UTF8'), \
'model card reviewed', 'model card rejected'), 'UTF8') \
WHERE convert_from(body, 'UTF8') LIKE '%model card reviewed%'"
if LEDGERML_WORKSPACE="$REPLICA" LEDGERML_ACTOR=audrey $L clone "$PGURL" "$REPLICA.2"; then
  echo "unexpected: a rewritten event was accepted" >&2; exit 1
fi
echo "(the clone was refused and left nothing; the replicas keep what they verified)"
$L remote remove
scripts/team-server stop "$PG"
trap - EXIT

say "Workspace status"
$L status

TEAM="$LEDGERML_WORKSPACE.team.env"
cat > "$TEAM" <<ENV
# The demo team of $LEDGERML_WORKSPACE: demo identities, no assurance.
# Source this file, then act as anyone: \`as_actor val\`, \`ledgerml audit log\`.
export LEDGERML_WORKSPACE="$LEDGERML_WORKSPACE"
export LEDGERML_ACTOR="$LEDGERML_ACTOR"
export LEDGERML_SECRET_FILE="$SECRETS/val"  # val's passphrase; the others use the keyring
export PATH="$PWD/.venv/bin:\$PATH"
as_actor() { export LEDGERML_ACTOR="\$1"; echo "acting as \$1"; }
# team: $LEDGERML_ACTOR (admin), dana (data-steward), sam (data-scientist),
#       val (validator, approver), audrey (auditor), cleo (compliance); sam also approves others
ENV
chmod 600 "$TEAM"
printf '\nDone. The workspace is in %s (demo identities: no assurance).\n' "$LEDGERML_WORKSPACE"
printf 'Keep acting as any of the team: `source %s`, then `as_actor sam` and\n' "$TEAM"
printf '`scripts/with-keyring ledgerml audit log` (the keyring wrapper unlocks the demo keys).\n'
