#![allow(dead_code)] // A toolkit: each feature module uses a different part of it.
//! The end-to-end stack: a private Postgres cluster with a fresh database, the fakes of every
//! outside service, and the real Worker under `wrangler dev`, started once for the suite (and
//! separately for tests that must break something), torn down even when tests fail.

pub mod billing;
pub mod db_proxy;
pub mod fakes;
pub mod hyperdrive;
pub mod outage;
pub mod postgres;
pub mod process;
pub mod session;
pub mod sign_in;
pub mod smtp;
pub mod tools;
pub mod wrangler;

use libtest_mimic::Trial;
use postgres::Cluster;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;
use wrangler::Worker;

/// The operator of every test stack (`ADMIN_EMAILS`).
pub const ADMIN_EMAIL: &str = "ops-admin@ghosttools.test";

pub const SESSION_SECRET: &str = "e2e-session-secret-0123456789abcdef0123";
/// The chat model the test Worker is configured with (so requests prove it is configurable).
pub const CHAT_MODEL: &str = "gpt-4o-mini-e2e";

pub struct Fakes {
    pub sentry: fakes::sentry::SentryFake,
    pub smtp: smtp::SmtpSink,
    pub google: fakes::google::GoogleFake,
    pub stripe: fakes::stripe::StripeFake,
    pub openai: fakes::openai::OpenAiFake,
    pub rewardful: fakes::rewardful::RewardfulFake,
}

impl Fakes {
    pub async fn start() -> Fakes {
        Fakes::with_smtp(smtp::SmtpSink::start(smtp::Mode::Accept).await).await
    }

    /// Default fakes around a given SMTP sink (e.g. one that refuses AUTH).
    pub async fn with_smtp(smtp: smtp::SmtpSink) -> Fakes {
        Fakes {
            sentry: fakes::sentry::SentryFake::start().await,
            smtp,
            google: fakes::google::GoogleFake::start().await,
            stripe: fakes::stripe::StripeFake::start().await,
            openai: fakes::openai::OpenAiFake::start().await,
            rewardful: fakes::rewardful::RewardfulFake::start().await,
        }
    }
}

pub struct Options {
    pub name: &'static str,
    /// Vars on top of the test defaults; `None` removes one.
    pub vars: Vec<(&'static str, Option<String>)>,
    /// A cluster of its own (tests that stop Postgres must not stop everybody's).
    pub own_cluster: bool,
    /// Fakes to use instead of fresh ones with default behaviour.
    pub fakes: Option<Fakes>,
    /// Top-level wrangler.toml keys to leave out (e.g. "durable_objects": a deployment that
    /// lacks a binding).
    pub drop_config: Vec<&'static str>,
    /// The stand-in for Hyperdrive in front of `DB`: bytes relayed, or the protocol read with
    /// Hyperdrive's cache on (the misconfiguration tests must catch) or off, and its faults.
    pub db_proxy: db_proxy::Mode,
    /// How often the runs queue retries a run after a transient failure (0: a busy OpenAI fails
    /// the run at once, as most tests expect; tests/e2e/runs_queue.rs sets more).
    pub run_retries: u32,
    /// The role and password the Worker logs in with (default: the suite's trusted role).
    pub db_login: Option<(&'static str, &'static str)>,
}

impl Options {
    pub fn named(name: &'static str) -> Options {
        Options {
            name,
            vars: Vec::new(),
            own_cluster: false,
            fakes: None,
            drop_config: Vec::new(),
            db_proxy: db_proxy::Mode::Relay,
            run_retries: 0,
            db_login: None,
        }
    }
}

pub struct Stack {
    pub worker: Worker,
    pub cluster: Cluster,
    pub own_cluster: bool,
    /// The test database, directly (for assertions and setup).
    pub db_url: String,
    pub fakes: Fakes,
    /// A client that does not follow redirects and keeps no cookies.
    pub http: reqwest::Client,
    /// The Hyperdrive played in front of `DB`, when the stand-in reads the protocol.
    pub hyperdrive: Option<std::sync::Arc<hyperdrive::Hyperdrive>>,
}

impl Stack {
    pub async fn start(opts: Options) -> Stack {
        let cluster = if opts.own_cluster {
            Cluster::start(&format!("pg-{}", opts.name), process::free_port())
        } else {
            shared_cluster()
        };
        let db = format!("e2e_{}", opts.name.replace('-', "_"));
        cluster.create_database(&db).await;
        let db_url = cluster.url(&db);
        let out = postgres::migrate(&db_url, &[]);
        assert!(out.status.success(), "migrations failed: {}", String::from_utf8_lossy(&out.stderr));
        let fakes = match opts.fakes {
            Some(f) => f,
            None => Fakes::start().await,
        };
        let port = process::free_port();
        let mut vars: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut set = |k: &str, v: String| vars.insert(k.to_string(), Some(v));
        set("ENVIRONMENT", "test".into());
        set("NEXTAUTH_URL", format!("http://127.0.0.1:{port}"));
        set("NEXTAUTH_SECRET", SESSION_SECRET.into());
        set("EMAIL_SERVER", fakes.smtp.url());
        set("EMAIL_FROM", "GhostTools <noreply@ghosttools.test>".into());
        set("NEXT_PUBLIC_SENTRY_DSN", fakes.sentry.dsn());
        set("DEBUG_ERROR_ROUTE", "true".into());
        set("DEBUG_RATE_LIMIT_ROUTE", "true".into());
        set("DEBUG_MEMORY_ROUTE", "true".into());
        // Every test client is 127.0.0.1 without CF-Connecting-IP, i.e. one "client": the
        // per-IP sign-in and tool flood limits are tested on their own (rate_limit.rs,
        // rate_limit_tools.rs) and off here.
        set("RATE_LIMITS", "signin_email_per_ip=off,tool_flood_per_ip=off".into());
        // Most tests assert exact balances and ledgers of users who sign in through the real
        // flows: no welcome credits here. welcome.rs runs a stack with them on.
        set("WELCOME_CREDITS", "0".into());
        set("GOOGLE_CLIENT_ID", fakes::google::CLIENT_ID.into());
        set("GOOGLE_CLIENT_SECRET", fakes::google::CLIENT_SECRET.into());
        set("GOOGLE_ISSUER", fakes.google.issuer());
        {
            use fakes::stripe::*;
            set("STRIPE_SECRET_KEY", SECRET_KEY.into());
            set("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.into());
            set("STRIPE_WEBHOOK_SECRET_PREVIOUS", PREVIOUS_WEBHOOK_SECRET.into());
            set("STRIPE_STARTER_PRICE_ID", STARTER.into());
            set("STRIPE_PRO_PRICE_ID", PRO.into());
            set("STRIPE_CREDIT_PACK_PRICE_IDS", PACK.into());
            set("STRIPE_API_BASE", fakes.stripe.url());
            set("STRIPE_CHECKOUT_ORIGIN", fakes.stripe.url());
            set("STRIPE_PORTAL_ORIGIN", fakes.stripe.url());
            // Short enough for a test of the timeout to be quick, long enough for a busy machine.
            set("STRIPE_TIMEOUT_MS", "5000".into());
        }
        set("OPENAI_API_KEY", fakes::openai::API_KEY.into());
        set("OPENAI_API_BASE", fakes.openai.url());
        set("OPENAI_MODEL", CHAT_MODEL.into());
        set("OPENAI_TRANSCRIBE_MODEL", "whisper-1".into());
        set("PODSCRIBE_ENABLED", "true".into());
        // Runs the tests leave unseen mail nobody during the suite (runs_queue.rs sets 4 s).
        set("READY_MAIL_DELAY_SECS", "3600".into());
        set("NEXT_PUBLIC_REWARDFUL_ID", fakes::rewardful::PUBLIC_ID.into());
        set("REWARDFUL_API_KEY", fakes::rewardful::API_KEY.into());
        set("REWARDFUL_API_BASE", fakes.rewardful.url());
        set("REWARDFUL_SCRIPT_URL", fakes.rewardful.script_url());
        set("ADMIN_EMAILS", ADMIN_EMAIL.into());
        set("COMPANY_NAME", "GhostTools Test Ltd".into());
        set("CONTACT_EMAIL", "help@ghosttools.test".into());
        for (k, v) in opts.vars {
            vars.insert(k.to_string(), v);
        }
        // The Worker reaches Postgres through a stand-in for the Hyperdrive service.
        let proxy = db_proxy::DbProxy::start(cluster.port, opts.db_proxy).await;
        let mut worker_db_url = db_url.replace(&format!(":{}/", cluster.port), &format!(":{}/", proxy.port));
        if let Some((role, password)) = opts.db_login {
            worker_db_url = worker_db_url.replace("//ghosttools:e2e@", &format!("//{role}:{password}@"));
        }
        let worker =
            Worker::start(opts.name, port, &worker_db_url, &vars, &opts.drop_config, opts.run_retries).await;
        fakes.stripe.set_webhook_url(format!("{}/api/stripe/webhook", worker.base_url()));
        fakes.rewardful.set_campaign_url(worker.base_url());
        let http = crate::support::client()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        Stack {
            worker,
            own_cluster: opts.own_cluster,
            cluster,
            db_url,
            fakes,
            http,
            hyperdrive: proxy.hyperdrive,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.worker.base_url())
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// A direct connection to the test database, for setup and for checking what was written.
    pub async fn sql(&self) -> tokio_postgres::Client {
        postgres::connect(&self.db_url).await
    }

    /// A browser-like client: keeps cookies, follows no redirects.
    pub fn browser(&self) -> reqwest::Client {
        crate::support::client()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("browser client")
    }

    /// A browser-like client whose requests come from client IP `ip` (`CF-Connecting-IP`, as
    /// Cloudflare's edge sets it), for per-client limits.
    pub fn browser_from(&self, ip: &str) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("cf-connecting-ip", ip.parse().expect("an IP header value"));
        crate::support::client()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .default_headers(headers)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("browser client")
    }

    pub fn shutdown(&self) {
        self.worker.stop();
        if self.own_cluster {
            self.cluster.stop();
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown();
    }
}

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
static SHARED: OnceLock<Stack> = OnceLock::new();
static SHARED_CLUSTER_PORT: OnceLock<u16> = OnceLock::new();

/// A module's stack of its own, started by the first test that needs it. It starts on a runtime
/// worker thread because child processes die with the thread that spawned them (PDEATHSIG) and
/// test threads finish early; the module's `shutdown` stops it after the suite.
pub async fn own_stack(cell: &'static tokio::sync::OnceCell<Stack>, opts: Options) -> &'static Stack {
    cell.get_or_init(|| async {
        let name = opts.name;
        runtime().spawn(Stack::start(opts)).await.unwrap_or_else(|e| panic!("start the {name} stack: {e}"))
    })
    .await
}

pub fn runtime() -> &'static tokio::runtime::Runtime {
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime"))
}

fn shared_cluster() -> Cluster {
    let port = *SHARED_CLUSTER_PORT.get_or_init(process::free_port);
    Cluster::start("pg", port)
}

/// Starts the shared stack (once, before the tests run).
pub fn start_shared() {
    // Through a stand-in that reads the protocol as Hyperdrive does, with caching disabled as
    // production's DB config is (stacks of their own that stop Postgres keep the byte relay).
    let db_proxy = db_proxy::Mode::Hyperdrive(hyperdrive::Caching::Disabled);
    let stack = runtime().block_on(Stack::start(Options { db_proxy, ..Options::named("shared") }));
    let _ = SHARED.set(stack);
}

pub fn shared() -> &'static Stack {
    SHARED.get().expect("shared stack not started")
}

/// Stops the shared Worker and the shared cluster.
pub fn stop_shared() {
    if let Some(stack) = SHARED.get() {
        stack.shutdown();
        stack.cluster.stop();
    }
}

pub type TestFn = fn(&'static Stack) -> Pin<Box<dyn Future<Output = ()>>>;

pub fn trial(name: &str, test: TestFn) -> Trial {
    Trial::test(name, move || {
        runtime().block_on(test(shared()));
        Ok(())
    })
}

/// `trials![module::test_a, module::test_b]`: async tests taking `&'static Stack`.
#[macro_export]
macro_rules! trials {
    ($($test:path),* $(,)?) => {
        vec![$($crate::support::trial(
            // "module::test", so `cargo test --test e2e -- billing_` picks a whole module.
            &format!("{}::{}", module_path!().trim_start_matches("e2e::"), stringify!($test).replace(' ', "")),
            |s| Box::pin($test(s)),
        )),*]
    };
}

/// Every test's HTTP client starts here: no connection kept idle past 2 s. wrangler dev's server
/// closes a keep-alive connection after 5 s idle, and a request sent on one just as it closes
/// fails with `IncompleteMessage` (a clean-clone run met it on a sign-in's POST), a race of the
/// local server that no request to Cloudflare's edge meets.
pub fn client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(2))
}
