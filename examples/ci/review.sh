#!/bin/sh
# Plan a Terraform root module and review what the plan does to Lacework agent access tokens.
#
#   examples/ci/review.sh [DIR]
#
# Runs in DIR (default: the current directory): terraform init, plan -out=tfplan, show -json.
# Prints the review for the job log and writes DIR/lacework-tokens-review.md, the pull-request
# comment. Exits with the review's status: 0 nothing at or above REVIEW_FAIL_ON (default
# high), 1 something is, 2 the plan or the review could not run.
#
# REVIEW_ARGS adds options to both reviews, e.g. "--live --window 14d"; LACEWORK_TOKENS names
# the command (default: lacework-tokens on PATH).
set -u

dir=${1:-.}
fail_on=${REVIEW_FAIL_ON:-high}
review=${LACEWORK_TOKENS:-lacework-tokens}

cd "$dir" || exit 2
terraform init -input=false -no-color >&2 || exit 2
terraform plan -input=false -no-color -out=tfplan >&2 || exit 2
terraform show -json -no-color tfplan > tfplan.json || exit 2

# REVIEW_ARGS is a list of options: split on purpose.
# shellcheck disable=SC2086
"$review" review tfplan.json --fail-on "$fail_on" ${REVIEW_ARGS:-}
status=$?
[ "$status" -le 1 ] || exit "$status"

# shellcheck disable=SC2086
"$review" review tfplan.json --format markdown --fail-on "$fail_on" ${REVIEW_ARGS:-} \
  > lacework-tokens-review.md
[ "$?" -le 1 ] || exit 2
exit "$status"
