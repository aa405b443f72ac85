#!/usr/bin/env bash
# A scripted run-through of the real `ledgerml tui` in tmux: start it on the demo workspace,
# press keys, capture the screen, and check what a user would see. Run after `make demo`:
#   scripts/with-keyring bench/tui_tmux.sh [WORKSPACE]
set -euo pipefail
cd "$(dirname "$0")/.."
WS="${1:-$PWD/demo-workspace}"
SESSION="ledgerml-tui-$$"
L="$PWD/.venv/bin/ledgerml"
tmux new-session -d -s "$SESSION" -x 120 -y 36
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true' EXIT
tmux send-keys -t "$SESSION" "$L -w '$WS' --as steward-admin tui" Enter

expect() {  # wait (bounded) until the screen shows $1
  for _ in $(seq 1 100); do
    if tmux capture-pane -t "$SESSION" -p | grep -q -- "$1"; then return 0; fi
    sleep 0.1
  done
  echo "FAILED: '$1' never appeared; screen was:" >&2
  tmux capture-pane -t "$SESSION" -p >&2
  exit 1
}

expect "Model inventory"; expect "credit-risk@1"; echo "ok  overview shows the inventory"
tmux send-keys -t "$SESSION" 2; expect "german-credit-features@1"; echo "ok  data tab"
tmux send-keys -t "$SESSION" 3; expect "status trusted"; echo "ok  models tab: trusted model"
tmux send-keys -t "$SESSION" 4; expect "Leave prompt"  # the prompt has focus: the name goes in
tmux send-keys -t "$SESSION" -l "credit-risk@1"; tmux send-keys -t "$SESSION" Enter
expect "produced-by"; echo "ok  lineage walked from a typed name"
tmux send-keys -t "$SESSION" 5 v; expect "VERIFIED"; echo "ok  ledger verified from the TUI"
tmux send-keys -t "$SESSION" c; expect "Sign a checkpoint"; echo "ok  reason dialog"
tmux send-keys -t "$SESSION" Escape q
echo "tmux run-through passed"
