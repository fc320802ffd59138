#!/usr/bin/env bash
# Fails when a generated file differs from what the code emits:
#   schema/schema.graphql (npm run schema:emit), test/generated/ and
#   examples/spa/web/generated/ (npm run codegen: it also fails when an operation no longer
#   matches the schema), README.md's configuration table (npm run config:docs),
#   and the database schema (a TypeORM migration:generate that would produce anything).
# Needs DATABASE_URL for the migration check: a throwaway database is made there.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run -s schema:emit >/dev/null
npm run -s codegen >/dev/null || { echo "codegen failed: an operation no longer matches the schema (see above)" >&2; exit 1; }
npx prettier --log-level warn --write schema test/generated examples/spa/web/generated >/dev/null 2>&1 || true
if ! git diff --exit-code -- schema test/generated examples/spa/web/generated; then
  echo "schema/schema.graphql or codegen output is stale: run npm run schema:emit && npm run codegen, and commit" >&2
  exit 1
fi
untracked=$(git ls-files --others --exclude-standard -- schema test/generated examples/spa/web/generated)
if [ -n "$untracked" ]; then
  echo "generated files not committed: $untracked" >&2
  exit 1
fi
echo "schema and codegen output are current"

# Checked, not rewritten: a hand edit of the table fails here whether committed or not.
npm run -s config:docs -- --check

if [ -z "${DATABASE_URL:-}" ]; then
  echo "DATABASE_URL unset: skipping the pending-migration check" >&2
  exit 0
fi
db="tally_migcheck_$$"
admin_url="$DATABASE_URL"
psql_run() { node -e '
  const { Client } = require("pg");
  const c = new Client({ connectionString: process.argv[1] });
  c.connect().then(() => c.query(process.argv[2])).then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });
' "$admin_url" "$1"; }
psql_run "CREATE DATABASE \"$db\""
trap 'psql_run "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"' EXIT
check_url=$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.toString())' "$admin_url" "$db")
DATABASE_URL="$check_url" npx typeorm-ts-node-commonjs -d ormconfig.ts migration:run >/dev/null
if ! DATABASE_URL="$check_url" npx typeorm-ts-node-commonjs -d ormconfig.ts migration:generate migrations/Pending --check; then
  echo "the entities differ from the migrations: generate a new migration" >&2
  exit 1
fi
