#!/usr/bin/env bash
# One-shot step of the compose stack: register the simulated cluster as a kubernetes_cnr
# cloud account (= its Thanos tenant) and give its Prometheus a write token, the same
# two commands an operator runs for a real cluster (docs/production.md). Idempotent: a
# restart keeps the account and the token already in the shared volume.
set -euo pipefail
: "${SIM_ACCOUNT_ID:?}" "${SIM_ORGANIZATION_ID:?}" "${SIM_CLUSTER_NAME:?}" "${SIM_TOKEN_FILE:?}"

if k8scost accounts list | cut -f1 | grep -qxF "$SIM_ACCOUNT_ID"; then
  echo "account $SIM_ACCOUNT_ID is registered"
else
  k8scost accounts add --organization-id "$SIM_ORGANIZATION_ID" --name "$SIM_CLUSTER_NAME" \
    --id "$SIM_ACCOUNT_ID" --scrape-interval 60
fi

if [ -s "$SIM_TOKEN_FILE" ]; then
  echo "write token already in $SIM_TOKEN_FILE"
else
  umask 022  # the token file is read by the Prometheus container's own user
  k8scost accounts token "$SIM_ACCOUNT_ID" >"$SIM_TOKEN_FILE.new"
  mv "$SIM_TOKEN_FILE.new" "$SIM_TOKEN_FILE"
  echo "wrote a write token for $SIM_ACCOUNT_ID to $SIM_TOKEN_FILE"
fi
