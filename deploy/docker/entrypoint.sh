#!/bin/sh
# Entrypoint of every Home Craft 3D image.
#
# Settings come from environment variables (CATALOG_DATABASE_URL, ...). Secrets may instead be
# mounted as files under /run/secrets/ named after the variable (docker compose:
# `secrets: [{source: identity_public_key, target: CATALOG_IDENTITY_PUBLIC_KEY}]`); each such file
# is exported as that variable, content verbatim (multi-line PEM keys included), then the command
# runs. Files whose names are not variable names (e.g. Kubernetes' service-account folder) are skipped.
# Then the service's production defaults (below), then the command.
set -eu

if [ -d /run/secrets ]; then
    for file in /run/secrets/*; do
        [ -f "$file" ] || continue
        name=$(basename "$file")
        case "$name" in
            "" | [0-9]* | *[!ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_]*) continue ;;
        esac
        value=$(cat "$file")
        export "$name=$value"
    done
fi

# The image's service (HOMECRAFT_SERVICE, from the Dockerfile's SERVICE argument) runs in production
# mode and does not migrate at start-up, unless the deployment says otherwise.
if [ -n "${HOMECRAFT_SERVICE:-}" ]; then
    case "$HOMECRAFT_SERVICE" in
        *[!a-z_]*) echo "HOMECRAFT_SERVICE must be a service name, not '$HOMECRAFT_SERVICE'" >&2; exit 1 ;;
    esac
    prefix=$(printf '%s' "$HOMECRAFT_SERVICE" | tr '[:lower:]' '[:upper:]')
    eval "export ${prefix}_ENVIRONMENT=\"\${${prefix}_ENVIRONMENT:-production}\""
    eval "export ${prefix}_RUN_MIGRATIONS_ON_START=\"\${${prefix}_RUN_MIGRATIONS_ON_START:-false}\""
fi

exec "$@"
