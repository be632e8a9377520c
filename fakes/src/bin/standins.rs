//! `make dev`'s local stand-ins for Stripe, OpenAI and Google: the e2e suite's fakes (this
//! crate), each on a port of 127.0.0.1, so the whole product can be tried without outside
//! accounts. Refuses to start when `ENVIRONMENT` (or `NODE_ENV`) is production.
//!
//! ```text
//! standins [--stripe PORT --webhook URL] [--openai PORT] [--google PORT] --vars-out FILE
//! ```
//! Once every stand-in listens, FILE holds the Worker variables that point at them (dotenv
//! lines, including `DEV_STANDINS`, which turns on the site's "local stand-ins" banner).

use ghosttools_fakes::google::{self, GoogleFake};
use ghosttools_fakes::openai::{self, OpenAiFake};
use ghosttools_fakes::stripe::{self, StripeFake};
use std::collections::HashMap;
use std::process::exit;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts: HashMap<String, String> = HashMap::new();
    for pair in args.chunks(2) {
        match pair {
            [flag, value] if flag.starts_with("--") => {
                opts.insert(flag.trim_start_matches("--").to_string(), value.clone());
            }
            _ => fail(&format!("unexpected arguments: {}", args.join(" "))),
        }
    }
    for name in ["ENVIRONMENT", "NODE_ENV"] {
        if std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case("production")) {
            fail(&format!(
                "refusing to start: {name}=production. The stand-ins fake payments, AI and sign-in; \
                 they are for development only"
            ));
        }
    }
    let port = |name: &str| {
        opts.get(name)
            .map(|p| p.parse::<u16>().unwrap_or_else(|_| fail(&format!("--{name}: not a port: {p}"))))
    };
    let (stripe_port, openai_port, google_port) = (port("stripe"), port("openai"), port("google"));
    let Some(out) = opts.get("vars-out").cloned() else { fail("--vars-out FILE is required") };
    let webhook = opts.get("webhook").cloned();
    if stripe_port.is_some() && webhook.is_none() {
        fail("--stripe needs --webhook URL (the Worker's /api/stripe/webhook)");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let mut vars: Vec<(&str, String)> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        // Kept alive until we are stopped.
        let mut _servers: (Option<StripeFake>, Option<OpenAiFake>, Option<GoogleFake>) = (None, None, None);
        if let Some(port) = stripe_port {
            let fake = StripeFake::start_on(port, true).await;
            fake.set_webhook_url(webhook.clone().unwrap_or_default());
            vars.extend([
                ("STRIPE_SECRET_KEY", stripe::SECRET_KEY.to_string()),
                ("STRIPE_WEBHOOK_SECRET", stripe::WEBHOOK_SECRET.to_string()),
                ("STRIPE_STARTER_PRICE_ID", stripe::STARTER.to_string()),
                ("STRIPE_PRO_PRICE_ID", stripe::PRO.to_string()),
                ("STRIPE_CREDIT_PACK_PRICE_IDS", stripe::PACK.to_string()),
                ("STRIPE_API_BASE", fake.url()),
                ("STRIPE_CHECKOUT_ORIGIN", fake.url()),
                ("STRIPE_PORTAL_ORIGIN", fake.url()),
            ]);
            names.push("stripe");
            println!("stripe  stand-in on {} (webhooks to {})", fake.url(), webhook.unwrap_or_default());
            _servers.0 = Some(fake);
        }
        if let Some(port) = openai_port {
            let fake = OpenAiFake::start_on(port, true).await;
            vars.extend([("OPENAI_API_KEY", openai::API_KEY.to_string()), ("OPENAI_API_BASE", fake.url())]);
            names.push("openai");
            println!("openai  stand-in on {}", fake.url());
            _servers.1 = Some(fake);
        }
        if let Some(port) = google_port {
            let fake = GoogleFake::start_on(port, true).await;
            vars.extend([
                ("GOOGLE_CLIENT_ID", google::CLIENT_ID.to_string()),
                ("GOOGLE_CLIENT_SECRET", google::CLIENT_SECRET.to_string()),
                ("GOOGLE_ISSUER", fake.issuer()),
            ]);
            names.push("google");
            println!("google  stand-in on {}", fake.issuer());
            _servers.2 = Some(fake);
        }
        vars.push(("DEV_STANDINS", names.join(",")));
        let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        // Written whole, then renamed: whoever waits for the file never reads half of it.
        let tmp = format!("{out}.tmp");
        std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &out)).unwrap_or_else(|e| {
            fail(&format!("cannot write {out}: {e}"));
        });
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
}

fn fail(why: &str) -> ! {
    eprintln!("standins: {why}");
    exit(2)
}
