#!/bin/sh
# The load balancer's container (load-balancer/Dockerfile): nginx in the foreground as PID 1, so
# `docker compose kill -s HUP load-balancer` reloads it (after a --scale change: nginx resolves
# the replicas' addresses when it loads its configuration) and SIGQUIT stops it gracefully.
# With a certificate and key mounted in /etc/nginx/tls it serves HTTPS and MQTTS too.
set -eu
config=/etc/nginx/mercado/nginx.conf
if [ -s /etc/nginx/tls/tls.crt ] && [ -s /etc/nginx/tls/tls.key ]; then
  config=/etc/nginx/mercado/nginx-tls.conf
  echo 'load-balancer: TLS on (HTTPS on 8443, MQTTS on 8883 in the container)' >&2
else
  echo 'load-balancer: no tls.crt and tls.key in /etc/nginx/tls: HTTPS and MQTTS are off' >&2
fi
exec nginx -e stderr -c "$config" -g 'daemon off;'
