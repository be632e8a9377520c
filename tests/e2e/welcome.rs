//! Welcome credits: a new account gets them once, through either sign-in flow and however the
//! first sign-ins race; a deleted address, a `+tag` or Gmail's dots do not get them again; at
//! most `welcome_credits_per_ip` new accounts per client and day; the console counts grants and
//! refusals; the pages say what a new account gets; `WELCOME_CREDITS=0` (the shared stack) gives
//! nothing and promises nothing.
//!
//! The shared stack runs with `WELCOME_CREDITS=0` (other modules assert exact ledgers), so these
//! tests run on a stack of their own with the production defaults (5 credits, 10 new accounts
//! per client and day). Clients are told apart by `CF-Connecting-IP`; each test uses its own.

use crate::support::billing::{balance, ledger};
use crate::support::fakes::google::Account;
use crate::support::session::{csrf_in, unique_email};
use crate::support::sign_in::{confirm, emailed_token, google_authorize_url, google_consent};
use crate::support::{own_stack, Options, Stack, ADMIN_EMAIL, SESSION_SECRET};
use crate::trials;
use futures_util::future::join_all;
use ghosttools::domain::EmailAddress;
use ghosttools::services::welcome::identity;
use libtest_mimic::Trial;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::OnceCell;

pub fn tests() -> Vec<Trial> {
    trials![
        a_new_account_gets_the_welcome_credits_once_whichever_way_it_signs_in_again,
        a_new_google_account_gets_the_welcome_credits_too,
        first_sign_ins_by_email_link_and_google_at_once_grant_once,
        a_deleted_address_that_signs_up_again_gets_nothing_and_no_address_is_kept,
        plus_tags_and_gmail_dots_do_not_make_a_new_person,
        one_client_gets_welcome_credits_for_exactly_its_daily_limit_of_new_accounts,
        the_console_counts_welcome_grants_and_refusals,
        the_landing_pricing_and_dashboard_say_what_a_new_account_gets,
        with_welcome_credits_0_a_new_account_gets_nothing_and_no_page_promises_any,
        when_the_limiter_is_down_a_new_account_waits_rather_than_losing_its_credits,
    ]
}

/// What a new account gets on the welcome stack (the default).
const WELCOME: i64 = 5;
/// The default `welcome_credits_per_ip`.
const PER_IP_PER_DAY: usize = 10;

static WELCOME_STACK: OnceCell<Stack> = OnceCell::const_new();

/// The stack with welcome credits on (the defaults; `support::own_stack`).
async fn welcome_stack() -> &'static Stack {
    own_stack(
        &WELCOME_STACK,
        Options {
            // The defaults: WELCOME_CREDITS unset; every limit as shipped except the per-IP
            // sign-in email limit (one test sends 12 links from one client).
            vars: vec![("WELCOME_CREDITS", None), ("RATE_LIMITS", Some("signin_email_per_ip=off".into()))],
            ..Options::named("welcome")
        },
    )
    .await
}

pub fn shutdown() {
    if let Some(s) = WELCOME_STACK.get() {
        s.shutdown();
    }
}

/// A client IP no other test of this module uses.
fn fresh_ip() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("10.88.{}.{}", n / 250, n % 250 + 1)
}

/// A Gmail address no other test uses, with dots between its parts.
fn unique_gmail(prefix: &str) -> String {
    let local = unique_email(prefix).split('@').next().unwrap().to_string();
    format!("{local}@gmail.com")
}

/// Signs `email` in by emailed link from `ip`; returns the signed-in browser.
async fn by_email(s: &Stack, email: &str, ip: &str) -> reqwest::Client {
    let browser = s.browser_from(ip);
    let token = emailed_token(s, &browser, email, None).await;
    let res = confirm(s, &browser, &token).await;
    assert_eq!(res.status(), 303, "the link signs in: {}", res.text().await.unwrap_or_default());
    browser
}

/// Signs `email` in with Google from `ip`; returns the signed-in browser.
async fn by_google(s: &Stack, email: &str, ip: &str) -> reqwest::Client {
    let browser = s.browser_from(ip);
    let callback =
        google_consent(s, &google_authorize_url(s, &browser, None).await, Account::new(email)).await;
    let res = browser.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 303, "Google signs in: {}", res.text().await.unwrap_or_default());
    browser
}

async fn user_id(s: &Stack, email: &str) -> i64 {
    let sql = s.sql().await;
    let row = sql.query_one("SELECT id FROM users WHERE email = $1", &[&email.to_lowercase()]).await;
    row.unwrap_or_else(|e| panic!("no account for {email}: {e}")).get(0)
}

fn welcomed(user_id: i64) -> Vec<(i64, String, String)> {
    vec![(WELCOME, "welcome".into(), format!("user:{user_id}"))]
}

async fn count(s: &Stack, query: &str) -> i64 {
    s.sql().await.query_one(query, &[]).await.unwrap().get(0)
}

async fn html(client: &reqwest::Client, s: &Stack, path: &str) -> String {
    let res = client.get(s.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.unwrap()
}

async fn a_new_account_gets_the_welcome_credits_once_whichever_way_it_signs_in_again(_: &'static Stack) {
    let s = welcome_stack().await;
    let (email, ip) = (unique_email("welcome-once"), fresh_ip());
    by_email(s, &email, &ip).await;
    let id = user_id(s, &email).await;
    assert_eq!(ledger(s, id).await, welcomed(id), "one ledger row with its own reason");
    assert_eq!(balance(s, id).await, WELCOME);

    // Signing in again, by link, by Google (which links to the account) and by link once more.
    by_email(s, &email, &ip).await;
    by_google(s, &email, &fresh_ip()).await;
    by_email(s, &email, &fresh_ip()).await;
    assert_eq!(user_id(s, &email).await, id, "the same account");
    assert_eq!(ledger(s, id).await, welcomed(id), "granted once");
    assert_eq!(balance(s, id).await, WELCOME);
}

async fn a_new_google_account_gets_the_welcome_credits_too(_: &'static Stack) {
    let s = welcome_stack().await;
    let email = unique_email("welcome-google");
    by_google(s, &email, &fresh_ip()).await;
    let id = user_id(s, &email).await;
    assert_eq!(ledger(s, id).await, welcomed(id));
    by_email(s, &email, &fresh_ip()).await;
    assert_eq!(ledger(s, id).await, welcomed(id));
}

async fn first_sign_ins_by_email_link_and_google_at_once_grant_once(_: &'static Stack) {
    let s = welcome_stack().await;
    // Several rounds: each is a fresh address whose first two sign-ins arrive together.
    for round in 0..4 {
        let (email, ip) = (unique_email(&format!("welcome-race{round}")), fresh_ip());
        // Everything up to the two final requests, so that only those race.
        let by_link = s.browser_from(&ip);
        let token = emailed_token(s, &by_link, &email, None).await;
        let page = by_link.get(s.url(&format!("/signin/confirm?token={token}"))).send().await.unwrap();
        let csrf = csrf_in(&page.text().await.unwrap()).unwrap();
        let by_google = s.browser_from(&ip);
        let callback =
            google_consent(s, &google_authorize_url(s, &by_google, None).await, Account::new(&email)).await;

        let form = [("csrf", csrf.as_str()), ("token", token.as_str())];
        let (link, google) = tokio::join!(
            by_link.post(s.url("/signin/confirm")).form(&form).send(),
            by_google.get(&callback).send(),
        );
        assert_eq!(link.unwrap().status(), 303, "round {round}: the link signs in");
        assert_eq!(google.unwrap().status(), 303, "round {round}: Google signs in");

        let sql = s.sql().await;
        let accounts: i64 =
            sql.query_one("SELECT count(*) FROM users WHERE email = $1", &[&email]).await.unwrap().get(0);
        assert_eq!(accounts, 1, "round {round}: one account");
        let id = user_id(s, &email).await;
        assert_eq!(ledger(s, id).await, welcomed(id), "round {round}: one grant");
        assert_eq!(balance(s, id).await, WELCOME, "round {round}");
    }
}

async fn delete_account(s: &Stack, browser: &reqwest::Client, email: &str) {
    let csrf = csrf_in(&html(browser, s, "/account").await).unwrap();
    let res = browser
        .post(s.url("/account/delete"))
        .form(&[("csrf", csrf.as_str()), ("confirm", email)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "deleted");
}

async fn a_deleted_address_that_signs_up_again_gets_nothing_and_no_address_is_kept(_: &'static Stack) {
    let s = welcome_stack().await;
    let email = unique_email("welcome-deleted");
    let browser = by_email(s, &email, &fresh_ip()).await;
    let first = user_id(s, &email).await;
    assert_eq!(balance(s, first).await, WELCOME);
    delete_account(s, &browser, &email).await;

    // The address is gone; what stays is the claim, under its keyed hash (no text column).
    let sql = s.sql().await;
    let named: i64 =
        sql.query_one("SELECT count(*) FROM users WHERE email = $1", &[&email]).await.unwrap().get(0);
    assert_eq!(named, 0);
    let parsed = EmailAddress::parse(&email).unwrap();
    let hash = identity(SESSION_SECRET, &parsed).to_vec();
    let claims: i64 = sql
        .query_one("SELECT count(*) FROM welcome_claims WHERE identity_hash = $1", &[&hash])
        .await
        .unwrap()
        .get(0);
    assert_eq!(claims, 1, "the claim outlives the account");
    let text_columns: i64 = sql
        .query_one(
            "SELECT count(*) FROM information_schema.columns
             WHERE table_name IN ('welcome_claims', 'welcome_refusals') AND data_type = 'text' AND column_name <> 'why'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(text_columns, 0, "nothing there can hold an address");

    // The same person signs up again, from another client and with Google: a new account, no
    // credits.
    by_google(s, &email, &fresh_ip()).await;
    let second = user_id(s, &email).await;
    assert_ne!(second, first, "a new account");
    assert_eq!(ledger(s, second).await, vec![], "no second welcome");
    assert_eq!(balance(s, second).await, 0);
    let landing = html(&s.browser_from(&fresh_ip()), s, "/").await;
    assert!(landing.contains("free credits"), "the offer still stands for new people");
    assert_eq!(ledger(s, first).await, welcomed(first), "the first account's ledger is kept");
}

async fn plus_tags_and_gmail_dots_do_not_make_a_new_person(_: &'static Stack) {
    let s = welcome_stack().await;
    // Gmail: dots and tags are the same mailbox; googlemail.com is gmail.com.
    let gmail = unique_gmail("ada.welcome");
    by_email(s, &gmail, &fresh_ip()).await;
    assert_eq!(balance(s, user_id(s, &gmail).await).await, WELCOME);
    let (local, _) = gmail.split_once('@').unwrap();
    let undotted = local.replace('.', "");
    for variant in [format!("{undotted}+again@gmail.com"), format!("{undotted}@googlemail.com")] {
        by_email(s, &variant, &fresh_ip()).await;
        let id = user_id(s, &variant).await;
        assert_eq!(ledger(s, id).await, vec![], "{variant} is the same person");
    }

    // Elsewhere a tag is dropped, but dots are kept: another dot is another person.
    let plain = unique_email("bo.welcome");
    let (local, domain) = plain.split_once('@').unwrap();
    for tagged in [format!("{local}+one@{domain}"), format!("{local}+two@{domain}")] {
        by_email(s, &tagged, &fresh_ip()).await;
    }
    let tags = [
        user_id(s, &format!("{local}+one@{domain}")).await,
        user_id(s, &format!("{local}+two@{domain}")).await,
    ];
    assert_eq!(ledger(s, tags[0]).await, welcomed(tags[0]));
    assert_eq!(ledger(s, tags[1]).await, vec![], "a second tag is the same person");
    let other = format!("{}@{domain}", local.replacen('.', "", 1));
    by_email(s, &other, &fresh_ip()).await;
    let id = user_id(s, &other).await;
    assert_eq!(ledger(s, id).await, welcomed(id), "outside Gmail, dots make another address");
}

async fn one_client_gets_welcome_credits_for_exactly_its_daily_limit_of_new_accounts(_: &'static Stack) {
    let s = welcome_stack().await;
    let ip = fresh_ip();
    let emails: Vec<String> =
        (0..PER_IP_PER_DAY + 3).map(|i| unique_email(&format!("welcome-ip{i}"))).collect();
    // Every link first (sequentially: the mails are matched by address), then every first
    // sign-in at once.
    let mut pending = Vec::new();
    for email in &emails {
        let browser = s.browser_from(&ip);
        let token = emailed_token(s, &browser, email, None).await;
        let page = browser.get(s.url(&format!("/signin/confirm?token={token}"))).send().await.unwrap();
        let csrf = csrf_in(&page.text().await.unwrap()).unwrap();
        pending.push((browser, token, csrf));
    }
    let confirms = pending.iter().map(|(browser, token, csrf)| {
        browser
            .post(s.url("/signin/confirm"))
            .form(&[("csrf", csrf.as_str()), ("token", token.as_str())])
            .send()
    });
    for res in join_all(confirms).await {
        assert_eq!(res.unwrap().status(), 303, "every account is created, with or without credits");
    }
    let mut granted = 0;
    for email in &emails {
        let id = user_id(s, email).await;
        match ledger(s, id).await.as_slice() {
            [] => assert_eq!(balance(s, id).await, 0),
            [(WELCOME, reason, _)] if reason == "welcome" => granted += 1,
            other => panic!("{email}: {other:?}"),
        }
    }
    assert_eq!(granted, PER_IP_PER_DAY, "exactly the limit, no more, under concurrency");

    // A refused person's claim stays free: signing up again later (after deleting) from another
    // client, they get theirs. And another client is not affected by this one's limit.
    let refused = {
        let mut refused = None;
        for email in &emails {
            if ledger(s, user_id(s, email).await).await.is_empty() {
                refused = Some(email.clone());
                break;
            }
        }
        refused.unwrap()
    };
    let browser = by_email(s, &refused, &fresh_ip()).await;
    delete_account(s, &browser, &refused).await;
    by_email(s, &refused, &fresh_ip()).await;
    let id = user_id(s, &refused).await;
    assert_eq!(ledger(s, id).await, welcomed(id), "refused for the client's limit, not as a person");
    let email = unique_email("welcome-other-ip");
    by_email(s, &email, &fresh_ip()).await;
    assert_eq!(balance(s, user_id(s, &email).await).await, WELCOME);
}

/// The number shown in the console's `<dd id="{id}">`.
fn stat(html: &str, id: &str) -> i64 {
    let at = html.find(&format!("id=\"{id}\">")).unwrap_or_else(|| panic!("no {id} in the console"))
        + id.len()
        + 6;
    html[at..].split('<').next().unwrap().parse().unwrap()
}

async fn the_console_counts_welcome_grants_and_refusals(_: &'static Stack) {
    let s = welcome_stack().await;
    // At least one grant and one refusal of each kind exist (other tests add more meanwhile, so
    // the console's numbers are checked against the database read before and after it).
    let email = unique_email("welcome-console");
    let browser = by_email(s, &email, &fresh_ip()).await;
    delete_account(s, &browser, &email).await;
    by_email(s, &email, &fresh_ip()).await;
    let ip = fresh_ip();
    for i in 0..=PER_IP_PER_DAY {
        by_email(s, &unique_email(&format!("welcome-console{i}")), &ip).await;
    }

    let ops = s.sign_in_as(ADMIN_EMAIL).await;
    let queries = [
        ("welcome-granted", "SELECT count(*) FROM credit_ledger WHERE reason = 'welcome'"),
        ("welcome-refused-claimed", "SELECT count(*) FROM welcome_refusals WHERE why = 'claimed_before'"),
        ("welcome-refused-limit", "SELECT count(*) FROM welcome_refusals WHERE why = 'client_limit'"),
    ];
    let mut before = Vec::new();
    for (_, q) in queries {
        before.push(count(s, q).await);
    }
    let page = html(&ops.client, s, "/admin").await;
    assert!(page.contains("New accounts get 5 credits"), "the console says what is given");
    for (i, (id, q)) in queries.iter().enumerate() {
        let shown = stat(&page, id);
        let after = count(s, q).await;
        assert!(before[i] >= 1, "{id}: this test made one");
        assert!((before[i]..=after).contains(&shown), "{id}: shown {shown}, database {}..{after}", before[i]);
    }
}

async fn the_landing_pricing_and_dashboard_say_what_a_new_account_gets(_: &'static Stack) {
    let s = welcome_stack().await;
    let visitor = s.browser_from(&fresh_ip());
    let offer =
        "Every new account starts with 5 free credits: enough for one product description and up to 4 minutes of audio from a small file.";
    let landing = html(&visitor, s, "/").await;
    assert!(landing.contains("Start free") && landing.contains(offer), "{landing}");
    assert!(landing.contains("starts on the free plan with 5 free credits to try the tools"));
    assert!(html(&visitor, s, "/pricing").await.contains(offer));

    let email = unique_email("welcome-dashboard");
    let browser = by_email(s, &email, &fresh_ip()).await;
    let dashboard = html(&browser, s, "/dashboard").await;
    assert!(dashboard.contains("<dd id=\"balance\">5</dd>"), "{dashboard}");
    let start = dashboard.find("id=\"first-step\"").expect("a first thing to try");
    let card = &dashboard[start..start + dashboard[start..].find("</article>").unwrap()];
    assert!(card.contains("You have 5 credits, a welcome from us"), "{card}");
    assert!(card.contains("href=\"/tools/agentwrite\"") && card.contains("PodScribe"), "{card}");
    assert!(dashboard.contains("Welcome credits"), "the ledger names the grant");
}

async fn with_welcome_credits_0_a_new_account_gets_nothing_and_no_page_promises_any(s: &'static Stack) {
    // The shared stack: WELCOME_CREDITS=0.
    let email = unique_email("welcome-off");
    let browser = by_email(s, &email, &fresh_ip()).await;
    let id = user_id(s, &email).await;
    assert_eq!(ledger(s, id).await, vec![]);
    let dashboard = html(&browser, s, "/dashboard").await;
    assert!(dashboard.contains("<dd id=\"balance\">0</dd>") && !dashboard.contains("first-step"));
    for path in ["/", "/pricing"] {
        let page = html(&s.http, s, path).await;
        assert!(!page.contains("free credit") && !page.contains("welcome-offer"), "{path}");
    }
    assert!(html(&s.http, s, "/").await.contains("Your account starts on the free plan."));
}

async fn when_the_limiter_is_down_a_new_account_waits_rather_than_losing_its_credits(_: &'static Stack) {
    // A deployment without the limiter binding; the sign-in email limits are off so a link can
    // be asked for at all.
    let s = Stack::start(Options {
        drop_config: vec!["durable_objects", "migrations"],
        vars: vec![
            ("WELCOME_CREDITS", None),
            ("RATE_LIMITS", Some("signin_email_per_ip=off,signin_email_per_address=off".into())),
        ],
        ..Options::named("welcome-limiter-down")
    })
    .await;
    let (email, ip) = (unique_email("welcome-down"), fresh_ip());
    let browser = s.browser_from(&ip);
    let token = emailed_token(&s, &browser, &email, None).await;
    let res = confirm(&s, &browser, &token).await;
    assert_eq!(res.status(), 503, "the first sign-in is refused for now");
    let sql = s.sql().await;
    let made: i64 =
        sql.query_one("SELECT count(*) FROM users WHERE email = $1", &[&email]).await.unwrap().get(0);
    assert_eq!(made, 0, "nothing half-written");
    assert_eq!(count(&s, "SELECT count(*) FROM welcome_claims").await, 0);
    // The link was not spent: it still works once the limiter is back (here: the page still
    // offers it).
    let page = browser.get(s.url(&format!("/signin/confirm?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), 200, "the link is still usable");

    // An existing account signs in as usual: the limiter is asked only for new accounts.
    let existing = unique_email("welcome-down-existing");
    s.sign_in_as(&existing).await;
    by_email(&s, &existing, &ip).await;
}
