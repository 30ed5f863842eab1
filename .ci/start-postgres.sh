#!/usr/bin/env bash
# Start the Debian PostgreSQL cluster and create the test role and database (idempotent).
set -euo pipefail
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main
fi
pg_ctlcluster "$version" main start 2>/dev/null || true
for _ in $(seq 1 30); do
  su postgres -c "pg_isready -q -h 127.0.0.1" && break
  sleep 1
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='patient_voice'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE patient_voice LOGIN PASSWORD 'patient_voice'\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='patient_voice_test'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE DATABASE patient_voice_test OWNER patient_voice\""
echo "PostgreSQL $version is up on 127.0.0.1:5432"
