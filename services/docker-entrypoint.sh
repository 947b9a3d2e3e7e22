#!/bin/sh
# One image, one role per container: the first argument names the role.
set -eu

role="${1:-}"
[ "$#" -gt 0 ] && shift

case "$role" in
  write-api)
    # /dev/shm: gunicorn's worker heartbeat files need a writable tmpfs, and the
    # root filesystem is read-only in the cloud.
    exec gunicorn -c /app/gunicorn.conf.py --bind "0.0.0.0:${PORT:-3000}" \
      --worker-tmp-dir /dev/shm 'order_platform.entrypoints.write_api.app:create_app()' ;;
  read-api)
    exec gunicorn -c /app/gunicorn.conf.py --bind "0.0.0.0:${PORT:-3001}" \
      --worker-tmp-dir /dev/shm 'order_platform.entrypoints.read_api.app:create_app()' ;;
  worker)  exec order-worker "$@" ;;
  relay)   exec order-relay "$@" ;;
  migrate) exec order-migrate "$@" ;;
  dlq)     exec order-dlq "$@" ;;
  *)
    echo "usage: <write-api|read-api|worker|relay|migrate|dlq> [args...]" >&2
    exit 64 ;;
esac
