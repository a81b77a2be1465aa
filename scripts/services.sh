#!/usr/bin/env bash
# Checks the local services that ringbus's tests use and starts the ones
# that are down, with the commands of the development machines
# (PostgreSQL, Redis and NATS with JetStream, all on loopback).
#
#   scripts/services.sh                 # every service
#   scripts/services.sh redis nats      # just these
#
# It prints one line per service and exits non-zero when one is still down
# after trying to start it. The core module's tests need none of them; the
# bridge and middleware modules that do name them in their READMEs.
set -u

up() { # host port
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_up() { # host port
	for _ in $(seq 1 50); do
		up "$1" "$2" && return 0
		sleep 0.2
	done
	return 1
}

start_postgres() { pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start; }
start_redis() {
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
}
start_nats() {
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
		-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
}

check() { # name port
	local name=$1 port=$2
	if up 127.0.0.1 "$port"; then
		echo "services: $name is up on 127.0.0.1:$port"
		return 0
	fi
	echo "services: $name is down on 127.0.0.1:$port; starting it"
	"start_$name" >/dev/null 2>&1 || true
	if wait_up 127.0.0.1 "$port"; then
		echo "services: $name started on 127.0.0.1:$port"
		return 0
	fi
	echo "services: $name did not start; start it by hand with the command in $0" >&2
	return 1
}

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(postgres redis nats)
rc=0
for s in "${want[@]}"; do
	case $s in
	postgres) check postgres 5432 || rc=1 ;;
	redis) check redis 6379 || rc=1 ;;
	nats) check nats 4222 || rc=1 ;;
	*) echo "services: unknown service $s (postgres, redis, nats)" >&2; rc=2 ;;
	esac
done
exit $rc
