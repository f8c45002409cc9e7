#!/usr/bin/env bash
# The code judge runs candidate code in bubblewrap. Install it when it is missing (as root,
# from Debian's packages, as .ci/run does); otherwise say what coding interviews need.
set -uo pipefail
command -v bwrap >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing bubblewrap (the code sandbox), once" >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get install -y -qq bubblewrap >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; }) && exit 0
fi
echo "bubblewrap (bwrap) is not installed: coding interviews are refused until it is" \
  "(sudo apt-get install bubblewrap); behavioural interviews work." >&2
exit 0
