#!/bin/sh
# Entry point of the sandbox droplet container: becomes the production host `core@texasca2`.
# Idempotent, so the container can be restarted.
set -eu
here=/opt/hermes-sandbox

id "$HERMES_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$HERMES_USER"
usermod -p '*' "$HERMES_USER"   # no password at all, but not locked: key login works

# Let the user reach the engine through its socket, whatever group owns it on this machine.
socket_gid=$(stat -c %g /var/run/docker.sock)
getent group hostdocker >/dev/null 2>&1 || groupadd --non-unique --gid "$socket_gid" hostdocker
usermod --append --groups hostdocker "$HERMES_USER"

home=$(getent passwd "$HERMES_USER" | cut -d: -f6)
install -d -m 700 -o "$HERMES_USER" -g "$HERMES_USER" "$home/.ssh"
install -m 600 -o "$HERMES_USER" -g "$HERMES_USER" "$here/authorized_keys" "$home/.ssh/authorized_keys"
install -d -m 755 /run/sshd /var/log/hermes

if [ "${HERMES_ZERO_DOWNTIME:-0}" = 1 ]; then
  # Zero-downtime mode: haproxy serves the app's address and the app runs in one of two slots, each a
  # container the engine respawns (--restart unless-stopped); deploys switch slots. No supervisor loop.
  install -d -m 755 /run/haproxy
  haproxy -D -f "$here/haproxy.cfg"
  set -- $HERMES_SLOTS
  first=${1%%:*} first_port=${1#*:} second=${2%%:*}
  if ! docker inspect "$HERMES_APP-$first" >/dev/null 2>&1 && ! docker inspect "$HERMES_APP-$second" >/dev/null 2>&1
  then
    docker run --detach --restart unless-stopped --name "$HERMES_APP-$first" --network host \
      --label "$HERMES_LABEL" --label "io.hermes.slot=$first" \
      --env "HERMES_BIND=$HERMES_BIND" --env "HERMES_PORT=$first_port" \
      "$HERMES_IMAGE" "$HERMES_REPO_DIR/build/hermes-app" >/dev/null
  fi
else
  nohup /bin/sh "$here/supervisor.sh" >>/var/log/hermes/supervisor.log 2>&1 &
fi
exec /usr/sbin/sshd -D -e -f "$here/sshd_config"
