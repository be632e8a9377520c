//! Other users' data: every id-bearing route answers another user's id exactly as it answers an
//! id that does not exist (same status, same page), never 403 — so ids cannot even be probed —
//! and changes nothing of the owner's.

use super::{assert_hardened, footprint, Fixture};
use crate::support::billing::start_checkout;
use crate::support::fakes::stripe::PACK;
use crate::support::tools::post_form;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![another_users_ids_are_answered_exactly_like_ids_that_do_not_exist]
}

/// An id of the shape the Worker issues that nobody owns.
const NOBODYS: &str = "ffffffffffffffff00000000deadbeef";

/// Status and body, with what differs per request (nonce, request id) blanked.
async fn answer(res: reqwest::Response, what: &str) -> (u16, String) {
    assert_hardened(&res, what);
    let status = res.status().as_u16();
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_string();
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = res.text().await.unwrap().replace(&nonce, "NONCE").replace(&request_id, "REQUEST-ID");
    (status, body)
}

async fn another_users_ids_are_answered_exactly_like_ids_that_do_not_exist(s: &'static Stack) {
    let owner = Fixture::new(s, "sec-idor-owner").await;
    let checkout = start_checkout(s, &owner.user, PACK).await;
    let other = s.sign_in_new("sec-idor-other").await;
    let before = footprint(s, owner.user.user_id, &owner.user.email).await;
    let (g, t) = (owner.generation.as_str(), owner.transcript.as_str());
    let gets = [
        "/tools/agentwrite/{}",
        "/tools/agentwrite/{}/download",
        "/tools/podscribe/{}",
        "/tools/podscribe/{}/transcript.txt",
        "/tools/podscribe/{}/transcript.srt",
        "/tools/podscribe/{}/transcript.vtt",
        "/tools/podscribe/{}/show-notes.md",
    ];
    let mut compared = 0;
    for template in gets {
        let id = if template.contains("agentwrite") { g } else { t };
        let own = owner.user.client.get(s.url(&template.replace("{}", id))).send().await.unwrap();
        assert_eq!(own.status(), 200, "{template}: the owner gets it");
        let theirs =
            answer(other.client.get(s.url(&template.replace("{}", id))).send().await.unwrap(), template)
                .await;
        let nobodys =
            answer(other.client.get(s.url(&template.replace("{}", NOBODYS))).send().await.unwrap(), template)
                .await;
        assert_eq!(theirs.0, 404, "{template}: another user's id is not found");
        assert_eq!(theirs, nobodys, "{template}: the answer must not tell an existing id from a missing one");
        assert!(
            !theirs.1.contains("Stored ") && !theirs.1.contains("Hello there"),
            "{template} leaked content"
        );
        compared += 1;
    }
    for template in ["/tools/agentwrite/{}/delete", "/tools/podscribe/{}/delete", "/tools/podscribe/{}/notes"]
    {
        let id = if template.contains("agentwrite") { g } else { t };
        let theirs = answer(post_form(s, &other, &template.replace("{}", id), &[]).await, template).await;
        let nobodys =
            answer(post_form(s, &other, &template.replace("{}", NOBODYS), &[]).await, template).await;
        assert_eq!(theirs.0, 404, "{template}");
        assert_eq!(theirs, nobodys, "{template}");
        compared += 1;
    }
    let theirs = answer(
        other.client.get(s.url(&format!("/billing/success?session_id={checkout}"))).send().await.unwrap(),
        "success page",
    )
    .await;
    let nobodys = answer(
        other.client.get(s.url("/billing/success?session_id=cs_test_nobodys0session")).send().await.unwrap(),
        "success page",
    )
    .await;
    assert_eq!(theirs.0, 404, "another user's checkout");
    assert_eq!(theirs, nobodys, "another user's checkout is answered like a missing one");
    // The operator console is hidden the same way from everyone else.
    let console = answer(other.client.get(s.url("/admin")).send().await.unwrap(), "/admin").await;
    let missing =
        answer(other.client.get(s.url("/nothing-here")).send().await.unwrap(), "/nothing-here").await;
    assert_eq!(console.0, 404);
    let grant = answer(post_form(s, &other, "/admin/grant", &[]).await, "/admin/grant").await;
    assert_eq!(grant.0, 404, "granting is hidden too");
    assert_eq!(console, missing);
    assert!(compared >= 10);
    assert_eq!(
        footprint(s, owner.user.user_id, &owner.user.email).await,
        before,
        "the owner's data is untouched"
    );
}
