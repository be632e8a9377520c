//! A private Postgres cluster for the tests (scripts/pg.sh, the same code `make dev` uses), a
//! fresh database per run, and the real migration tool applied to it.

use super::process::{root, run, work_dir};
use std::path::PathBuf;
use std::process::Command;

pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
}

impl Cluster {
    /// Starts (initdb on first use) the cluster in target/e2e/<name> on `port`.
    pub fn start(name: &str, port: u16) -> Cluster {
        let cluster = Cluster { dir: work_dir().join(name), port };
        cluster.resume();
        cluster
    }

    /// Starts the server again after `stop` (same data, same port).
    pub fn resume(&self) {
        run(
            "start postgres",
            Command::new(root().join("scripts/pg.sh"))
                .arg("start")
                .arg(&self.dir)
                .arg(self.port.to_string())
                .env("PG_FAST", "1"),
        );
    }

    pub fn stop(&self) {
        run("stop postgres", Command::new(root().join("scripts/pg.sh")).arg("stop").arg(&self.dir));
    }

    pub fn url(&self, db: &str) -> String {
        // Trust auth: the password is ignored, but Hyperdrive's local string must have one.
        format!("postgres://ghosttools:e2e@127.0.0.1:{}/{db}", self.port)
    }

    pub async fn create_database(&self, db: &str) {
        let admin = connect(&self.url("postgres")).await;
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.expect("drop db");
        admin.batch_execute(&format!("CREATE DATABASE {db}")).await.expect("create db");
    }

    pub async fn drop_database(&self, db: &str) {
        let admin = connect(&self.url("postgres")).await;
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
    }
}

/// A direct connection for assertions (what the Worker wrote) and for test setup.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// The migration tool, as an operator runs it.
pub fn migrate(url: &str, extra_args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_migrate"))
        .args(extra_args)
        .current_dir(root())
        .env("DATABASE_URL", url)
        .output()
        .expect("run migrate")
}
