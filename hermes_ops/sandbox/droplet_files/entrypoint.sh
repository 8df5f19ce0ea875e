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

nohup /bin/sh "$here/supervisor.sh" >>/var/log/hermes/supervisor.log 2>&1 &
exec /usr/sbin/sshd -D -e -f "$here/sshd_config"
