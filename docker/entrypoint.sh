#!/bin/sh
# Fill the configuration's ${NAME} placeholders from the environment (the secrets in
# docker/.env) into a file only this user can read, then run `callcenter ARGS`
# (serve, db upgrade, user add …). `docker compose exec callcenter callcenter …` finds the
# same file through CALLCENTER_CONFIG.
set -eu
umask 077
python3 /usr/local/lib/callcenter/render_config.py \
  "${CALLCENTER_CONFIG_TEMPLATE:-/etc/callcenter/callcenter.toml}" "$CALLCENTER_CONFIG"
exec callcenter "$@"
