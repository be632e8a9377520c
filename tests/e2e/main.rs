//! End-to-end tests: the real Worker in workerd (`wrangler dev`), a real Postgres, and local
//! fakes of every outside service. One binary, one shared stack; a module per feature.
//! Run with `make test` (or `cargo test --test e2e -- <filter>` once `make build` has run).

mod support;

mod admin;
mod admin_actions;
mod admin_console;
mod auth_account;
mod auth_account_erasure;
mod auth_account_export;
mod auth_credential_pages;
mod auth_email;
mod auth_email_change;
mod auth_google;
mod auth_redirects;
mod auth_resilience;
mod billing_allowance;
mod billing_checkout;
mod billing_events;
mod billing_invoices;
mod billing_notices;
mod billing_pages;
mod billing_refunds;
mod billing_reversal_events;
mod billing_webhook;
mod browser;
mod browser_billing;
mod browser_google;
mod config;
mod credits;
mod dashboard_usage;
mod database_login;
mod dev_standins;
mod faults;
mod faults_database;
mod health;
mod hyperdrive;
mod load;
mod mail_transport;
mod migrations;
mod operations;
mod pages;
mod podscribe_parts;
mod rate_limit;
mod rate_limit_tools;
mod refer;
mod runs_queue;
mod security;
mod security_headers;
mod sentry;
mod sessions;
mod sessions_ended;
mod site;
mod sweep;
mod timing;
mod tools_agentwrite;
mod tools_agentwrite_backstop;
mod tools_agentwrite_cut;
mod tools_agentwrite_format;
mod tools_failures;
mod tools_history;
mod tools_podscribe;
mod tools_podscribe_chunks;
mod tools_podscribe_pricing;
mod tools_uploads;
mod welcome;

fn main() {
    let mut args = libtest_mimic::Arguments::from_args();
    // Most tests wait on I/O: run more of them at once than there are cores.
    args.test_threads.get_or_insert(6);
    let tests: Vec<libtest_mimic::Trial> = [
        admin::tests(),
        admin_actions::tests(),
        admin_console::tests(),
        auth_account::tests(),
        auth_account_erasure::tests(),
        auth_account_export::tests(),
        auth_credential_pages::tests(),
        auth_email::tests(),
        auth_email_change::tests(),
        auth_google::tests(),
        auth_redirects::tests(),
        auth_resilience::tests(),
        mail_transport::tests(),
        billing_allowance::tests(),
        billing_checkout::tests(),
        billing_events::tests(),
        billing_invoices::tests(),
        billing_notices::tests(),
        billing_pages::tests(),
        billing_refunds::tests(),
        billing_reversal_events::tests(),
        billing_webhook::tests(),
        browser::tests(),
        browser_billing::tests(),
        browser_google::tests(),
        config::tests(),
        credits::tests(),
        database_login::tests(),
        dashboard_usage::tests(),
        dev_standins::tests(),
        faults::tests(),
        faults_database::tests(),
        health::tests(),
        hyperdrive::tests(),
        load::tests(),
        migrations::tests(),
        operations::tests(),
        pages::tests(),
        podscribe_parts::tests(),
        rate_limit::tests(),
        rate_limit_tools::tests(),
        refer::tests(),
        runs_queue::tests(),
        tools_agentwrite_backstop::tests(),
        security::tests(),
        security_headers::tests(),
        sentry::tests(),
        sessions::tests(),
        sessions_ended::tests(),
        tools_agentwrite::tests(),
        tools_agentwrite_cut::tests(),
        tools_agentwrite_format::tests(),
        tools_failures::tests(),
        tools_history::tests(),
        tools_podscribe::tests(),
        tools_podscribe_chunks::tests(),
        tools_podscribe_pricing::tests(),
        site::tests(),
        sweep::tests(),
        tools_uploads::tests(),
        timing::tests(),
        welcome::tests(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let listing = args.list;
    if !listing {
        support::start_shared();
    }
    let conclusion = libtest_mimic::run(&args, tests);
    if !listing {
        rate_limit::shutdown();
        welcome::shutdown();
        runs_queue::shutdown();
        tools_agentwrite_backstop::shutdown();
        tools_podscribe_chunks::shutdown();
        support::stop_shared();
    }
    conclusion.exit();
}
