//! The migration tool: idempotent, all-or-nothing, and strict about edited history.

use crate::support::postgres::{connect, migrate};
use crate::support::{process::root, Stack};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        migrating_twice_changes_nothing_the_second_time,
        a_failing_migration_rolls_back_whole,
        an_edited_migration_is_refused,
    ]
}

/// A fresh database on the shared cluster, for a test of the migration tool alone.
async fn fresh_db(s: &Stack, name: &str) -> String {
    s.cluster.create_database(name).await;
    s.cluster.url(name)
}

fn output(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// migrations/ copied to a temporary folder, with `extra` files added.
fn migrations_with(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("migrations")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    for (name, sql) in extra {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

async fn migrating_twice_changes_nothing_the_second_time(s: &'static Stack) {
    let url = fresh_db(s, "e2e_migrate_twice").await;
    let first = migrate(&url, &[]);
    assert!(first.status.success(), "{}", output(&first));
    assert!(output(&first).contains("applied  V1__users"));
    let db = connect(&url).await;
    let count = |db: tokio_postgres::Client| async move {
        db.query_one("SELECT count(*) FROM refinery_schema_history", &[]).await.unwrap().get::<_, i64>(0)
    };
    let before = count(connect(&url).await).await;
    let second = migrate(&url, &[]);
    assert!(second.status.success(), "{}", output(&second));
    assert!(output(&second).contains("up to date"), "{}", output(&second));
    assert_eq!(count(db).await, before);
}

async fn a_failing_migration_rolls_back_whole(s: &'static Stack) {
    let url = fresh_db(s, "e2e_migrate_failing").await;
    assert!(migrate(&url, &[]).status.success());
    let dir = migrations_with(&[(
        "V9999__broken.sql",
        "CREATE TABLE half_done (id int);\nINSERT INTO half_done VALUES (1);\nSELECT 1 / 0;\n",
    )]);
    let out = migrate(&url, &["--dir", dir.path().to_str().unwrap()]);
    assert!(!out.status.success(), "a broken migration must fail: {}", output(&out));
    let db = connect(&url).await;
    let table: Option<String> =
        db.query_one("SELECT to_regclass('half_done')::text", &[]).await.unwrap().get(0);
    assert_eq!(table, None, "the failed migration left a table behind");
    let newest: i32 =
        db.query_one("SELECT max(version) FROM refinery_schema_history", &[]).await.unwrap().get(0);
    assert!(newest < 9999, "the failed migration was recorded as applied");
}

async fn an_edited_migration_is_refused(s: &'static Stack) {
    let url = fresh_db(s, "e2e_migrate_edited").await;
    assert!(migrate(&url, &[]).status.success());
    let dir = migrations_with(&[]);
    let v1 = dir.path().join("V1__users.sql");
    let text = std::fs::read_to_string(&v1).unwrap();
    std::fs::write(&v1, format!("{text}\n-- edited after it was applied\nCREATE TABLE sneaky (id int);\n"))
        .unwrap();
    let out = migrate(&url, &["--dir", dir.path().to_str().unwrap()]);
    assert!(!out.status.success(), "an edited migration must be refused: {}", output(&out));
}
