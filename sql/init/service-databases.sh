#!/usr/bin/env bash
# The databases of one Postgres server of docker-compose.yml, each its service's own. The postgres
# image's entrypoint runs this once, on an empty data directory (it is mounted into
# /docker-entrypoint-initdb.d), as the server's superuser over the local socket. For each service
# named in MERCADO_DATABASES (`users products inventory orders` on shop-db, `payments` on
# payments-db) it makes a login role `mercado_{service}` with the password in
# `{SERVICE}_DB_PASSWORD` and a database of the same name owned by it, which no other role may
# connect to: one server, and still no service can read another's tables.
#
# The passwords stay in the environment: psql reads each one with \getenv and quotes it itself
# (%L), so none is on a command line or in this file. What exists already is left as it is, so the
# script can be run again by hand after a service is added (docs/operations.md, "Postgres").
set -euo pipefail

if [[ -z "${MERCADO_DATABASES:-}" ]]; then
  echo 'service-databases.sh: set MERCADO_DATABASES (the services whose databases this server holds)' >&2
  exit 1
fi

for service in $MERCADO_DATABASES; do
  if [[ ! "$service" =~ ^[a-z][a-z0-9_]*$ ]]; then
    echo "service-databases.sh: not a service name: $service" >&2
    exit 1
  fi
  variable="${service^^}_DB_PASSWORD"
  if [[ -z "${!variable:-}" ]]; then
    echo "service-databases.sh: set $variable (the password of mercado_$service)" >&2
    exit 1
  fi
  psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" \
    --set role="mercado_$service" --set password_variable="$variable" <<'SQL'
\getenv password :password_variable
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'role') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'role') \gexec
SQL
  echo "service-databases.sh: mercado_$service owns its database"
done
