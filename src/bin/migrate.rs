//! `migrate`: applies the numbered SQL files in `migrations/` (refinery: `V<n>__<name>.sql`) to
//! `DATABASE_URL`. Native only, never part of the Worker; works on the local cluster and on a
//! production database (TLS unless the URL says `sslmode=disable`).
//!
//! refinery records applied versions with checksums, refuses edited or missing migrations, and
//! runs each migration in its own transaction (a failing one rolls back whole). It takes no
//! lock, so we hold a Postgres advisory lock for the run: two deploys cannot migrate at once.
//!
//! Usage: `DATABASE_URL=postgres://… migrate [--dir migrations] [--status]`

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    std::process::exit(native::main());
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::path::PathBuf;
    use tokio_postgres::config::SslMode;
    use tokio_postgres::Client;

    /// Arbitrary but fixed: every migrate run of every deploy takes the same lock.
    const LOCK_KEY: i64 = 0x6768_6f73_7474_6f6f; // "ghosttoo"

    pub fn main() -> i32 {
        let mut dir = PathBuf::from(std::env::var("MIGRATIONS_DIR").unwrap_or_else(|_| "migrations".into()));
        let mut status_only = false;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--dir" => match args.next() {
                    Some(d) => dir = PathBuf::from(d),
                    None => return usage("--dir needs a folder"),
                },
                "--status" => status_only = true,
                "-h" | "--help" => return usage(""),
                other => return usage(&format!("unknown argument {other}")),
            }
        }
        let Ok(url) = std::env::var("DATABASE_URL") else {
            return usage("DATABASE_URL is not set");
        };
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => return fail(&format!("cannot start runtime: {e}")),
        };
        match runtime.block_on(run(&url, &dir, status_only)) {
            Ok(()) => 0,
            Err(e) => fail(&e),
        }
    }

    fn usage(problem: &str) -> i32 {
        if !problem.is_empty() {
            eprintln!("migrate: {problem}");
        }
        eprintln!(
            "usage: DATABASE_URL=postgres://user:pass@host:port/db migrate [--dir migrations] [--status]"
        );
        2
    }

    fn fail(message: &str) -> i32 {
        eprintln!("migrate: {message}");
        1
    }

    async fn run(url: &str, dir: &PathBuf, status_only: bool) -> Result<(), String> {
        let migrations = refinery::load_sql_migrations(dir)
            .map_err(|e| format!("cannot read migrations in {}: {e}", dir.display()))?;
        let mut client = connect(url).await?;
        let runner = refinery::Runner::new(&migrations).set_abort_divergent(true).set_abort_missing(true);
        if status_only {
            let applied =
                runner.get_applied_migrations_async(&mut client).await.map_err(|e| e.to_string())?;
            for m in &applied {
                println!("applied  V{}__{}", m.version(), m.name());
            }
            for m in migrations.iter().filter(|m| !applied.iter().any(|a| a.version() == m.version())) {
                println!("pending  V{}__{}", m.version(), m.name());
            }
            return Ok(());
        }
        client
            .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
            .await
            .map_err(|e| format!("cannot take the migration lock: {e}"))?;
        let result = runner.run_async(&mut client).await;
        let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]).await;
        let report = result.map_err(|e| e.to_string())?;
        for m in report.applied_migrations() {
            println!("applied  V{}__{}", m.version(), m.name());
        }
        let newest = migrations.iter().map(|m| m.version()).max().unwrap_or(0);
        if report.applied_migrations().is_empty() {
            println!("database is up to date (version {newest})");
        } else {
            println!("database migrated to version {newest}");
        }
        Ok(())
    }

    async fn connect(url: &str) -> Result<Client, String> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| format!("DATABASE_URL: {e}"))?;
        // Our SASLprep has no Unicode tables (patches/stringprep): a non-ASCII password that
        // SASLprep would change cannot log in, here or from the Worker through Hyperdrive.
        let hint = match config.get_password().is_some_and(|p| !stringprep::is_unchanged_ascii_bytes(p)) {
            true => {
                " (a password with non-ASCII characters logs in only when SASLprep leaves it \
                      unchanged: no full-width letters, ligatures, non-ASCII spaces or invisible \
                      characters; see patches/stringprep)"
            }
            false => "",
        };
        let describe = |e: tokio_postgres::Error| format!("cannot connect to the database: {e}{hint}");
        if config.get_ssl_mode() == SslMode::Disable {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(describe)?;
            tokio::spawn(connection);
            Ok(client)
        } else {
            let (client, connection) = config.connect(tls()).await.map_err(describe)?;
            tokio::spawn(connection);
            Ok(client)
        }
    }

    fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        match config {
            Ok(c) => tokio_postgres_rustls::MakeRustlsConnect::new(c),
            Err(e) => panic!("rustls default protocol versions rejected: {e}"),
        }
    }
}
