// docker compose's mongo-users step (docker-compose.yml), run by mongosh as root: one user
// per service in MONGO_SERVICES, named like the service, defined in its own database
// mi_<service> with readWrite on that database only (its MONGO_URI: authSource=mi_<service>),
// and the operators' mi-backup user (roles backup and restore: servicekit.backup, the
// runbook). Idempotent: an existing user gets the password .env holds now and the same roles,
// so rotating a password is editing .env and `docker compose up -d`.
function upsert(database, name, pwd, roles) {
  const target = db.getSiblingDB(database);
  if (target.getUser(name)) {
    target.updateUser(name, { pwd: pwd, roles: roles });
    print(`mongo-users: updated ${name} (${database})`);
  } else {
    target.createUser({ user: name, pwd: pwd, roles: roles });
    print(`mongo-users: created ${name} (${database})`);
  }
}

function required(variable) {
  const value = process.env[variable];
  if (!value) {
    throw new Error(`${variable} is not set (scripts/gen-env.sh writes it into .env)`);
  }
  return value;
}

const services = required("MONGO_SERVICES").split(/\s+/).filter((s) => s);
for (const service of services) {
  const database = "mi_" + service.replace(/-/g, "_");
  const pwd = required("MONGO_PASSWORD_" + service.toUpperCase().replace(/-/g, "_"));
  upsert(database, service, pwd, [{ role: "readWrite", db: database }]);
}
upsert("admin", "mi-backup", required("MONGO_BACKUP_PASSWORD"), [
  { role: "backup", db: "admin" },
  { role: "restore", db: "admin" },
]);
