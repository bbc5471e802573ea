#!/usr/bin/env bash
# Installs StreamCat from this checkout as a systemd service on Debian 12 (README, "Run it
# as a service"); run it again after `git pull` to upgrade.
#
#   sudo scripts/install-service.sh [--user NAME] [--root DIR]
#
# It runs scripts/setup.sh, creates the unprivileged service user (default: streamcat),
# writes /etc/streamcat/streamcat.env once (never again: it is yours to edit), writes one
# systemd unit per stack part (manage.py systemd_units, from the stack's own commands)
# and starts streamcat.target. An upgrade restarts streamcat-migrate.service: the parts
# running the project's code stop, the migrations run once, the parts start again; nginx,
# Redis, Janus and coturn keep running (live broadcasts and stages go on) unless their
# unit or configuration changed.
# --root DIR: install everything under DIR instead of / (tests): the units name DIR's
# paths; setup.sh is not run and systemd only enables streamcat.target there.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOUT=$(pwd -P)

SERVICE_USER=streamcat
ROOT=""
while (($#)); do
    case "$1" in
        --user) SERVICE_USER=$2; shift 2 ;;
        --root) ROOT=$(realpath -m "$2"); shift 2 ;;
        -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
die() { echo "install-service: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run it as root: sudo $0"

ENV_FILE=$ROOT/etc/streamcat/streamcat.env
UNIT_DIR=$ROOT/etc/systemd/system
PYTHON=$CHECKOUT/.venv/bin/python
PREFIX=streamcat

if [[ -z $ROOT ]]; then
    # As the checkout's owner: the service only reads the checkout. setup.sh's own migrate
    # and collectstatic go to a scratch folder; the service's database is migrated once,
    # by streamcat-migrate.service.
    owner=$(stat -c %U "$CHECKOUT")
    scratch=$(mktemp -d)
    chown "$owner" "$scratch"
    runuser -u "$owner" -- env STREAMCAT_VAR_DIR="$scratch" bash scripts/setup.sh
    rm -rf "$scratch"
fi
[[ -x $PYTHON ]] || die "$PYTHON is missing: run scripts/setup.sh"

# The service user: a system account with no login, at home in the runtime folder.
if ! grep -q "^$SERVICE_USER:" "$ROOT/etc/passwd" 2>/dev/null; then
    prefix=()
    if [[ -n $ROOT ]]; then
        mkdir -p "$ROOT/etc"
        prefix=(--prefix "$ROOT")
    fi
    useradd "${prefix[@]}" --system --user-group --no-create-home --home-dir "$ROOT/var/lib/$PREFIX" \
        --shell /usr/sbin/nologin --comment StreamCat "$SERVICE_USER"
fi
uid=$(awk -F: -v name="$SERVICE_USER" '$1 == name { print $3 }' "$ROOT/etc/passwd")
gid=$(awk -F: -v name="$SERVICE_USER" '$1 == name { print $4 }' "$ROOT/etc/passwd")
[[ -n $uid && $uid != 0 ]] || die "$SERVICE_USER must be an unprivileged user"

# The settings, written once with defaults for a server; from then on the admin's.
if [[ ! -e $ENV_FILE ]]; then
    install -d -m 755 "$(dirname "$ENV_FILE")"
    host=$(hostname --fqdn 2>/dev/null || hostname)
    cat >"$ENV_FILE.new" <<EOF
# StreamCat's settings for its systemd units (README, "Configuration"): KEY=value lines.
# Written once by scripts/install-service.sh, never overwritten. After a change, run
# scripts/install-service.sh again (the units are made from these settings).

# The runtime folder (database, secrets, HLS, recordings, logs of nginx): outside the checkout.
STREAMCAT_VAR_DIR=$ROOT/var/lib/$PREFIX
# The name viewers and streamers reach this machine by (DNS).
STREAMCAT_PUBLIC_HOST=$host
# HTTPS on 443 (HTTP on 80 redirects there): "acme" gets a Let's Encrypt certificate once
# the DNS name points here; "self-signed" uses a CA of this installation's own.
STREAMCAT_TLS=self-signed
#STREAMCAT_ACME_EMAIL=you@example.org
# Behind NAT: the public address Janus and coturn announce.
#STREAMCAT_JANUS_PUBLIC_IP=203.0.113.10
# PostgreSQL instead of SQLite in the runtime folder:
#DATABASE_URL=postgres://streamcat@/streamcat
EOF
    chown "root:$gid" "$ENV_FILE.new"
    chmod 640 "$ENV_FILE.new" # secrets may go here: readable by the service, not by everyone
    mv "$ENV_FILE.new" "$ENV_FILE"
    echo "Wrote $ENV_FILE: check STREAMCAT_PUBLIC_HOST and STREAMCAT_TLS there."
fi
VAR_DIR=$(set -a && . "$ENV_FILE" && echo "${STREAMCAT_VAR_DIR:-}")
[[ $VAR_DIR == /* ]] || die "set STREAMCAT_VAR_DIR (an absolute path) in $ENV_FILE"
case "$VAR_DIR/" in "$CHECKOUT"/*) die "STREAMCAT_VAR_DIR must be outside the checkout $CHECKOUT" ;; esac
install -d -o "$uid" -g "$gid" -m 750 "$VAR_DIR"

# Runs a command as the service user with the settings the units give it. (With --root
# the user exists only under DIR: the caller runs it, and hands the runtime folder over.)
as_service() {
    local settings=() user=()
    mapfile -d '' settings < <(env -i bash -c 'set -a && . "$0" && exec env -u PWD -u SHLVL -u _ -0' "$ENV_FILE")
    [[ -n $ROOT ]] || user=(setpriv --reuid "$uid" --regid "$gid" --clear-groups --)
    env -i HOME="$VAR_DIR" LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "${settings[@]}" "${user[@]}" "$@"
    [[ -z $ROOT ]] || chown -R "$uid:$gid" "$VAR_DIR"
}
as_service "$PYTHON" -c 'open("manage.py").close()' 2>/dev/null ||
    die "$SERVICE_USER cannot read $CHECKOUT: put the checkout where every user may read it (e.g. /opt/streamcat)"

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
chown "$uid" "$staging"
as_service "$PYTHON" manage.py systemd_units --out "$staging/units" --user "$SERVICE_USER" --env-file "$ENV_FILE" \
    >/dev/null

install -d "$UNIT_DIR"
changed=() stale=()
for file in "$staging"/units/*; do
    name=$(basename "$file")
    if ! cmp -s "$file" "$UNIT_DIR/$name"; then
        changed+=("$name")
        install -m 644 "$file" "$UNIT_DIR/$name"
    fi
done
for file in "$UNIT_DIR/$PREFIX"-*; do
    [[ -e $file && ! -e $staging/units/$(basename "$file") ]] && stale+=("$(basename "$file")")
done

if [[ -n $ROOT ]]; then
    rm -f "${stale[@]/#/$UNIT_DIR/}"
    systemctl --root "$ROOT" --quiet enable "$PREFIX.target"
    echo "Installed under $ROOT (not started: --root)."
    exit 0
fi

if ((${#stale[@]})); then # parts the stack no longer has, or turned off
    systemctl stop "${stale[@]/%@.service/@*.service}" || true
    rm -f "${stale[@]/#/$UNIT_DIR/}"
fi
systemctl daemon-reload
systemctl --quiet enable "$PREFIX.target"

# A part's generated configuration (nginx.conf, Janus's .jcfg, turnserver.conf), by its folder.
config_digest() { cat "$VAR_DIR/$1"/*.conf "$VAR_DIR/$1"/*.jcfg 2>/dev/null | sha256sum; }
failed() { die "$1 did not start: journalctl -u '$PREFIX-*' -e says why"; }
if systemctl --quiet is-active "$PREFIX.target"; then
    # Upgrade. Parts that do not run the project's code keep running unless their unit or
    # configuration changed; nginx among them keeps carrying live broadcasts, which the
    # restarted worker finds in nginx's state and leaves open.
    keep=()
    for file in "$staging"/units/"$PREFIX"-*.service; do
        grep -q "^Requires=$PREFIX-migrate.service" "$file" || [[ $file == *-migrate.service ]] ||
            keep+=("$(basename "$file" .service)")
    done
    declare -A before
    for unit in "${keep[@]}"; do before[$unit]=$(config_digest "${unit#"$PREFIX"-}"); done
    for name in "${changed[@]}"; do # a new port: the restarted instances below take the new socket
        [[ $name != *.socket ]] || systemctl restart "$name"
    done
    # Stops the parts that require the migrations, migrates once, starts them again.
    systemctl restart "$PREFIX-migrate.service" || failed "$PREFIX-migrate.service"
    for unit in "${keep[@]}"; do
        if [[ " ${changed[*]} " == *" $unit.service "* || ${before[$unit]} != "$(config_digest "${unit#"$PREFIX"-}")" ]]; then
            echo "Restarting $unit (its unit or configuration changed)"
            systemctl restart "$unit.service" || failed "$unit.service"
        fi
    done
fi
systemctl start "$PREFIX.target" || failed "$PREFIX.target"
# Processes of the shared-socket parts beyond the configured count (STREAMCAT_APP_WORKERS lowered).
wanted=" $(sed -n 's/^Wants=//p' "$UNIT_DIR/$PREFIX.target") "
for unit in $(systemctl list-units --plain --no-legend "$PREFIX-*@*.service" | awk '{ print $1 }'); do
    [[ $wanted == *" $unit "* ]] || systemctl stop "$unit"
done
systemctl --no-pager --plain list-units "$PREFIX*"
echo "StreamCat runs as a service. Logs: journalctl -u '$PREFIX-*' (nginx's own: $VAR_DIR/log)."
