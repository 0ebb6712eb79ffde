#!/usr/bin/env bash
# CI: the browser the panel's end-to-end test drives (tests/e2e/test_panel_browser.py): Debian's
# chromium and a CJK font, so that Chinese text renders in the screenshots. Installed with apt-get only
# when missing; the test itself skips with a reason when /usr/bin/chromium is absent.
# Playwright (the Python driver) comes with the project's `test` extras; it never downloads a browser.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
if ! command -v fc-list >/dev/null 2>&1 || ! fc-list ':lang=zh' family 2>/dev/null | grep -q .; then
  need+=(fonts-noto-cjk fontconfig)
fi
if [ ${#need[@]} -eq 0 ]; then
  echo "browser.sh: chromium and a CJK font are present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "browser.sh: installing ${need[*]} with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
/usr/bin/chromium --version
