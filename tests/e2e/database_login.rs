//! Logging in to Postgres with a password (SCRAM-SHA-256), as the Worker does through Hyperdrive
//! in production; the suite's cluster otherwise trusts loopback, where no password is checked.
//! Our SASLprep carries no Unicode tables (patches/stringprep): an ASCII password logs in as
//! with the full algorithm, a wrong one is refused, a non-ASCII one that SASLprep leaves
//! unchanged logs in, and one it would change cannot, which the migration tool says.

use crate::support::postgres::migrate;
use crate::support::{Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;
use std::time::Duration;

pub fn tests() -> Vec<Trial> {
    trials![
        the_worker_logs_in_with_a_scram_password_and_is_refused_with_a_wrong_one,
        a_non_ascii_password_logs_in_when_saslprep_leaves_it_unchanged_and_migrate_names_the_rest,
    ]
}

static HBA: std::sync::Mutex<()> = std::sync::Mutex::new(());

const ROLE: &str = "scram_probe";
const PASSWORD: &str = "Scram-probe_pw.42~";
/// Left unchanged by SASLprep (NFC letters): the bytes as they are are right.
const STABLE: &str = "pässwörd-stable";
/// Full-width letters: SASLprep maps them to ASCII, so Postgres stored the mapped form.
const MAPPED: &str = "ｐａｓｓ-mapped";

/// Makes `role` log in with `password`, checked by SCRAM on this cluster (the other roles keep
/// trust), and waits until the server applies it.
async fn scram_role(s: &Stack, role: &str, password: &str) {
    let db = s.sql().await;
    db.batch_execute(&format!(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                 CREATE ROLE {role} LOGIN IN ROLE ghosttools;
             END IF;
         END $$;
         SET password_encryption = 'scram-sha-256';
         ALTER ROLE {role} PASSWORD '{password}';"
    ))
    .await
    .unwrap();
    {
        // The tests run at once: one edit of the file at a time.
        let _one = HBA.lock().unwrap_or_else(|e| e.into_inner());
        let hba = s.cluster.dir.join("data/pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).unwrap();
        let line = format!("host all {role} 127.0.0.1/32 scram-sha-256\n");
        if !rules.contains(&line) {
            // First match wins: the role's rule goes above the cluster's trust line.
            std::fs::write(&hba, format!("{line}{rules}")).unwrap();
        }
    }
    db.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    let wrong = url(s, role, "not-the-password");
    for _ in 0..50 {
        if tokio_postgres::connect(&wrong, tokio_postgres::NoTls).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{role}'s password is not checked: pg_hba.conf was not applied");
}

/// The test database's URL with another login (the password percent-encoded).
fn url(s: &Stack, role: &str, password: &str) -> String {
    let mut url = url::Url::parse(&s.db_url).unwrap();
    url.set_username(role).unwrap();
    url.set_password(Some(password)).unwrap();
    url.to_string()
}

/// The Worker's health report (status, the database check's status).
async fn health(s: &Stack) -> (u16, String) {
    let res = s.get("/api/health").await;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (status, body["checks"]["database"]["status"].as_str().unwrap_or_default().to_string())
}

async fn the_worker_logs_in_with_a_scram_password_and_is_refused_with_a_wrong_one(s: &'static Stack) {
    scram_role(s, ROLE, PASSWORD).await;
    let right =
        Stack::start(Options { db_login: Some((ROLE, PASSWORD)), ..Options::named("scram-right") }).await;
    assert_eq!(health(&right).await, (200, "ok".to_string()), "logged in with SCRAM");
    right.shutdown();
    let wrong =
        Stack::start(Options { db_login: Some((ROLE, "wrong")), ..Options::named("scram-wrong") }).await;
    let (status, database) = health(&wrong).await;
    wrong.shutdown();
    assert_eq!((status, database.as_str()), (503, "fail"), "the password is checked");
}

async fn a_non_ascii_password_logs_in_when_saslprep_leaves_it_unchanged_and_migrate_names_the_rest(
    s: &'static Stack,
) {
    scram_role(s, "scram_stable", STABLE).await;
    let stable = tokio_postgres::connect(&url(s, "scram_stable", STABLE), tokio_postgres::NoTls).await;
    assert!(stable.is_ok(), "NFC letters: {:?}", stable.err());
    scram_role(s, "scram_mapped", MAPPED).await;
    scram_role(s, ROLE, PASSWORD).await;
    let out = migrate(&url(s, "scram_mapped", MAPPED), &["--status"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "SASLprep would change it: {said}");
    assert!(said.contains("logs in only when SASLprep leaves it unchanged"), "{said}");
    let out = migrate(&url(s, ROLE, "wrong"), &["--status"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !said.contains("SASLprep"), "no hint for an ASCII password: {said}");
}
