//! Mail a paying customer expects: a failed payment, a renewal, the deletion of the account.
//!
//! Billing notices are recorded by the webhook in the transaction that handles the event (at
//! most one per invoice and kind, so a redelivered or replayed event mails nothing twice) and
//! sent after the webhook has answered (`send_due`, in `wait_until`): a mail server that is down
//! or slow never delays or fails Stripe's 2xx. A notice that could not be sent is retried by the
//! scheduled sweep (every 10 minutes) and after the next applied Stripe event, up to
//! `MAX_ATTEMPTS` times within `MAX_AGE_HOURS`, then dropped (logged, and `dropped_at` set). A sender claims what it sends for `HOLD_SECS`,
//! so concurrent senders never mail the same notice twice.
//!
//! "Transcript ready" is recorded as a run ends, due `READY_MAIL_DELAY_SECS` later; the queue
//! consumer sends it then (a delayed message), and drops it if the owner saw the transcript in
//! the meantime (its page or a download: the upload page's script and the form without it both
//! end on the transcript's page).
//!
//! The deletion mail is sent as the account is erased, from the address in memory (the
//! request's): it is kept nowhere, so when the mail server is down it is logged and dropped.

use super::runs::JobEnv;
use crate::clients::smtp::{self, Envelope, SendError, SmtpServer};
use crate::config::Config;
use crate::db::notices::{self, Due, Notice, NoticeKind};
use crate::db::Db;
use crate::domain::billing::Plan;
use crate::domain::calendar::Day;
use crate::domain::money::format_amount;
use crate::domain::Credits;
use crate::domain::EmailAddress;
use crate::domain::Mailbox;
use crate::error::AppError;
use crate::mail::notice::{customer_message, CustomerMail, Sender};

/// How many notices one sender takes at a time.
const BATCH: i64 = 10;

/// Sends the notices that are due, on a connection of its own. Never fails: what could not be
/// sent is logged and stays due (or is dropped after its last attempt).
pub async fn send_due(job: JobEnv, now_ms: u64) {
    let outcome = job
        .with_db(async |db| {
            let due = notices::claim_due(db, BATCH).await?;
            if due.is_empty() {
                return Ok(());
            }
            let postman = match Postman::of(&job.config) {
                Ok(p) => p,
                Err(problem) => {
                    // Misconfigured mail: let go of the claims (they count as attempts).
                    for d in &due {
                        notices::mark_failed(db, d.id, &problem).await?;
                    }
                    job.log("error", &format!("billing notices not sent: {problem}"));
                    return Ok(());
                }
            };
            for d in due {
                deliver(&job, db, &postman, d, now_ms).await?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = outcome {
        job.log("error", &format!("billing notices: {e}"));
    }
}

async fn deliver(job: &JobEnv, db: &Db, postman: &Postman, due: Due, now_ms: u64) -> Result<(), AppError> {
    let what = format!("{} notice {} ({})", due.notice.kind.as_str(), due.id, due.notice.about);
    let Some(to) = due.email.as_deref() else {
        notices::mark_dropped(db, due.id, "the account was deleted").await?;
        job.log("info", &format!("{what} dropped: the account was deleted"));
        return Ok(());
    };
    let mail = match (due.notice.kind, &due.transcript) {
        (NoticeKind::TranscriptReady, Some((_, true))) => {
            notices::mark_dropped(db, due.id, "seen before it was due").await?;
            return Ok(());
        }
        (NoticeKind::TranscriptReady, None) => {
            notices::mark_dropped(db, due.id, "the transcript was deleted").await?;
            return Ok(());
        }
        (NoticeKind::TranscriptReady, Some((file_name, false))) => CustomerMail::TranscriptReady {
            file_name: file_name.clone(),
            link: postman.site.join(&format!("/tools/podscribe/{}", due.notice.about)),
        },
        _ => postman.mail_of(&due.notice),
    };
    match postman.send(to, &mail, now_ms).await {
        Ok(()) => {
            notices::mark_sent(db, due.id).await?;
            job.log("info", &format!("{what} sent"));
        }
        Err(e) => {
            notices::mark_failed(db, due.id, &e.to_string()).await?;
            let next = if due.attempts >= notices::MAX_ATTEMPTS { "dropped" } else { "retried later" };
            job.log("error", &format!("{what} not sent (attempt {}): {e}; {next}", due.attempts));
        }
    }
    Ok(())
}

/// Mails the person whose account was just erased. Logged and dropped when it cannot be sent:
/// their address is kept nowhere to try again with.
pub async fn say_goodbye(job: JobEnv, to: EmailAddress, now_ms: u64) {
    let sent = match Postman::of(&job.config) {
        Ok(postman) => postman
            .send(to.as_str(), &CustomerMail::AccountDeleted { email: to.to_string() }, now_ms)
            .await
            .map_err(|e| e.to_string()),
        Err(problem) => Err(problem),
    };
    let domain = to.domain();
    match sent {
        Ok(()) => job.log("info", &format!("account deletion mail sent to an address at {domain}")),
        Err(e) => job.log("error", &format!("account deletion mail to {domain} not sent (dropped): {e}")),
    }
}

/// Everything sending needs, read from the configuration once per batch.
struct Postman {
    server: SmtpServer,
    from: Mailbox,
    site: crate::config::SiteUrl,
    contact: String,
}

impl Postman {
    fn of(config: &Config) -> Result<Postman, String> {
        let email = config.email.as_ref().map_err(|p| format!("{p:?}"))?;
        let from = Mailbox::parse(&email.from).map_err(|e| format!("EMAIL_FROM: {e}"))?;
        let server = SmtpServer::from_url(&email.server)
            .map(|s| SmtpServer { allow_plaintext: email.allow_plaintext, ..s })
            .map_err(|e| format!("EMAIL_SERVER: {e}"))?;
        let site = config.site.as_ref().map_err(|p| format!("{p:?}"))?.clone();
        let contact = config.company.as_ref().map(|c| c.contact_email.clone()).unwrap_or_default();
        Ok(Postman { server, from, site, contact })
    }

    fn mail_of(&self, n: &Notice) -> CustomerMail {
        let plan = plan_name(n.plan);
        let amount = format_amount(n.amount, &n.currency);
        match n.kind {
            NoticeKind::PaymentFailed => {
                CustomerMail::PaymentFailed { plan, amount, billing_link: self.site.join("/billing") }
            }
            // Built in `deliver`, which reads the transcript.
            NoticeKind::TranscriptReady => {
                CustomerMail::TranscriptReady { file_name: String::new(), link: String::new() }
            }
            NoticeKind::PlanRenewed => CustomerMail::PlanRenewed {
                plan,
                amount,
                credits: n.credits.unwrap_or(Credits::ZERO),
                balance: n.balance.unwrap_or(Credits::ZERO),
                renews: n.period_end.and_then(date),
                link: self.site.join("/dashboard"),
            },
        }
    }

    async fn send(&self, to: &str, mail: &CustomerMail, now_ms: u64) -> Result<(), SendError> {
        let host = self.site.host();
        let sender = Sender { from: &self.from, site: &host, contact: &self.contact };
        let mut id = [0u8; 16];
        crate::security::fill_random(&mut id);
        let message = customer_message(&sender, to, mail, now_ms / 1000, &hex::encode(id))
            .map_err(|e| SendError::Refused(format!("message not built: {e}")))?;
        let envelope = Envelope { from: self.from.address.as_str(), to, message: &message };
        smtp::send(&self.server, &smtp::ehlo_domain(&host), &envelope).await
    }
}

/// `Starter`, `Pro`; a plan we do not sell by name is "subscription".
fn plan_name(plan: Plan) -> String {
    match plan {
        Plan::Free => "subscription".into(),
        named => named.name().into(),
    }
}

/// `2027-01-04` (UTC).
fn date(secs: i64) -> Option<String> {
    Some(format!("{} (UTC)", Day::of_unix_secs(secs).iso()))
}
