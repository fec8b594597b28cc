#!/bin/sh
# Entrypoint of every Home Craft 3D image.
#
# Settings come from environment variables (CATALOG_DATABASE_URL, ...). Secrets may instead be
# mounted as files under /run/secrets/ named after the variable (docker compose:
# `secrets: [{source: identity_public_key, target: CATALOG_IDENTITY_PUBLIC_KEY}]`); each such file
# is exported as that variable, content verbatim (multi-line PEM keys included), then the command
# runs. Files whose names are not variable names (e.g. Kubernetes' service-account folder) are skipped.
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

exec "$@"
