#!/bin/bash
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d):
# one login role and one database per service, each database owned by its role and closed to the
# others, so no service can read another's data. Passwords come from the compose secrets
# /run/secrets/<service>_db_password (deploy/compose/make_secrets.py writes them).
set -euo pipefail

secrets_dir="${HOMECRAFT_SECRETS_DIR:-/run/secrets}"

for service in catalog orders payments refunds engagement gateway; do
    password_file="$secrets_dir/${service}_db_password"
    if [[ ! -s "$password_file" ]]; then
        echo "missing $password_file: run deploy/compose/make_secrets.py" >&2
        exit 1
    fi
    password="$(<"$password_file")"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v role="$service" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
    echo "created database and role $service"
done
