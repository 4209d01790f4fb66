#!/usr/bin/env bash
# Fails when the committed generated code in gen/ differs from what proto/
# generates, or when the protos fail buf lint / buf format. CI runs it from
# .ci/run; it regenerates into the work tree, so run it on a clean checkout
# (or commit first) to read its answer.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/gen-proto.sh

changes=$(git status --porcelain --untracked-files=all -- gen/)
if [ -n "$changes" ]; then
  echo "gen/ is out of date with proto/: run scripts/gen-proto.sh and commit gen/." >&2
  echo "$changes" >&2
  git --no-pager diff --stat -- gen/ >&2 || true
  exit 1
fi
echo "gen/ is up to date"
