#!/usr/bin/env bash
# From a fresh Debian 12 checkout to a running zhimei: install, create the data folder and the first
# admin token, ingest the bundled samples/ (processing them here), print the sign-in link, then serve
# the web app and API on http://127.0.0.1:8000 (Ctrl-C stops).
#
# The data folder is $ZHIMEI_HOME (default ~/.zhimei). Safe to run again: samples already in the
# library are recognised as exact duplicates and not ingested twice.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '[quickstart] %s\n' "$*"; }

bash scripts/install.sh

ZHIMEI=.venv/bin/zhimei
say "zhimei init"
$ZHIMEI init

# The sample media and articles (not their licence notes or the shot ground-truth CSVs used by tests).
mapfile -t samples < <(find samples -type f ! -name 'LICENSE*' ! -name '*.csv' ! -name '.*' | sort)
say "ingesting ${#samples[@]} files from samples/ and processing them (the first run takes a minute or two)"
$ZHIMEI ingest "${samples[@]}" --source samples --wait || say "some sample files were refused (see above); continuing"

home="$(.venv/bin/python -c 'from zhimei.settings import get_settings; print(get_settings().home)')"
token="$(cat "$home/admin-token" 2>/dev/null || true)"
echo
if [[ -n "$token" ]]; then
    say "sign in: http://127.0.0.1:8000/login?token=$token"
else
    say "no admin token file in $home; make one with: $ZHIMEI token create NAME --role admin"
fi
say "API docs: http://127.0.0.1:8000/docs"
echo
exec $ZHIMEI serve --host 127.0.0.1 --port 8000
