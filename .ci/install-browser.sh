#!/usr/bin/env bash
# Installs Debian's Chromium for tests/test_browser.py, which drives it through Playwright's Python
# package; Playwright's own browser download is not used. Safe to run again: does nothing once installed.
# The emoji and CJK fonts are there so that app titles with emoji, and the pages in Chinese, render in
# screenshots.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi

# `env` because sudo does not pass the caller's environment through.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-noto-color-emoji fonts-noto-cjk
