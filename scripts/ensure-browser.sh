#!/usr/bin/env bash
# The browser journeys drive Debian's Chromium (browsers that Playwright downloads are not
# reachable here). Install it when it is missing (as root, from Debian's packages).
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (for the browser tests), once" >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }) && exit 0
fi
echo "chromium is not installed: the browser journeys fail until it is (sudo apt-get install chromium)" >&2
exit 0
