#!/bin/sh
# Make the secret files docker-compose.yml reads (once; an existing file is kept, because
# a new master key would make every stored object unreadable). Usage: make-secrets.sh DIR
set -eu
dir=${1:-secrets}
umask 077
mkdir -p "$dir"

keep() { [ -s "$dir/$1" ]; }

keep postgres_password || printf '%s' "$(openssl rand -hex 24)" > "$dir/postgres_password"
keep database_url ||
  printf 'postgresql://datatrust:%s@postgres:5432/datatrust' "$(cat "$dir/postgres_password")" \
    > "$dir/database_url"
keep s3_secret_access_key || printf '%s' "$(openssl rand -hex 24)" > "$dir/s3_secret_access_key"
# Session and link-signing material, and the key that wraps every contributor's data key
# (urlsafe base64 of 32 bytes): back this one up; losing it loses every stored object.
keep secret_key || printf '%s' "$(openssl rand -base64 48 | tr '+/' '-_' | tr -d '\n')" > "$dir/secret_key"
keep master_key || printf '%s' "$(openssl rand 32 | base64 | tr '+/' '-_' | tr -d '\n')" > "$dir/master_key"
# Ed25519 key for consent receipts and the revocation feed (buyers pin its public half).
keep signing_key || openssl genpkey -algorithm ed25519 -out "$dir/signing_key"
# Compose bind-mounts file secrets with their owner and mode on the host, and the service
# runs as an unprivileged user in its container: the files must be readable there; the
# folder (0700) keeps them private on the host.
chmod 700 "$dir"
chmod 644 "$dir"/*
echo "secrets in $dir: $(ls "$dir" | tr '\n' ' ')"
