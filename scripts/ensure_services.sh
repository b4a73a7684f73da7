#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379) answer.
# Starts them when they are installed but stopped; otherwise says how to get them.
set -u
PG_HOST=127.0.0.1 PG_PORT=5432 REDIS_PORT=6379

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null || \
  python3 -c "import socket;socket.create_connection(('$PG_HOST',$PG_PORT),1)" 2>/dev/null; }
redis_up() { python3 - <<PY 2>/dev/null
import socket
s = socket.create_connection(("127.0.0.1", $REDIS_PORT), 1)
s.sendall(b"PING\r\n")
assert s.recv(16).startswith(b"+PONG")
PY
}

wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
    echo "PostgreSQL is not answering; starting it..."
    for v in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || \
        pg_ctlcluster "$v" main start || true
    done
    wait_for pg_up || { echo "PostgreSQL did not start; see /var/log/postgresql/." >&2; exit 1; }
  else
    cat >&2 <<MSG
PostgreSQL is not reachable at $PG_HOST:$PG_PORT and is not installed here.
Install and start it (Debian/Ubuntu): sudo apt-get install postgresql && sudo service postgresql start
The tests connect as user 'postgres' without a password (trust auth on 127.0.0.1),
or set TEST_DATABASE_URL=postgres://user:password@host:5432/spark to use another server.
MSG
    exit 1
  fi
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis is not answering; starting it..."
    mkdir -p /tmp/spark-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
      --appendonly no --dir /tmp/spark-redis --logfile /tmp/spark-redis/redis.log
    wait_for redis_up || { echo "Redis did not start; see /tmp/spark-redis/redis.log." >&2; exit 1; }
  else
    cat >&2 <<MSG
Redis is not reachable at 127.0.0.1:$REDIS_PORT and is not installed here.
Install it (Debian/Ubuntu): sudo apt-get install redis-server, or set TEST_REDIS_URL.
MSG
    exit 1
  fi
fi
echo "PostgreSQL and Redis are up."
