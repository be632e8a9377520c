//! `POST /account/export`: everything we hold about the user as one JSON file, only for the
//! signed-in user's own form, limited per user.

use crate::support::billing::subscribe;
use crate::support::fakes::stripe::PRO;
use crate::support::session::SignedIn;
use crate::support::tools::{brief, grant, post_form, unique, upload, wav};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;

pub fn tests() -> Vec<Trial> {
    trials![
        an_export_holds_everything_we_keep_about_the_user_and_nothing_of_others,
        an_export_needs_the_forms_token_from_this_site_and_a_post,
        exports_are_limited_per_user,
    ]
}

async fn export(s: &Stack, user: &SignedIn) -> reqwest::Response {
    post_form(s, user, "/account/export", &[]).await
}

async fn an_export_holds_everything_we_keep_about_the_user_and_nothing_of_others(s: &'static Stack) {
    let marker = format!("xp{}", unique());
    let user = s.sign_in_new("export").await;
    grant(s, user.user_id, 20).await;
    assert_eq!(
        post_form(s, &user, "/tools/agentwrite", &brief(&format!("Tent {marker}"))).await.status(),
        303
    );
    let res =
        upload(s, &user, "/tools/podscribe", &format!("episode-{marker}.wav"), wav(30), "audio/wav").await;
    assert_eq!(res.status(), 303);
    subscribe(s, &user, PRO).await;
    let other = s.sign_in_new("export-other").await;
    grant(s, other.user_id, 5).await;
    let others = format!("xo{}", unique());
    assert_eq!(
        post_form(s, &other, "/tools/agentwrite", &brief(&format!("Lamp {others}"))).await.status(),
        303
    );

    let res = export(s, &user).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"ghosttools-data-")
            && disposition.ends_with(".json\"")
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let text = res.text().await.unwrap();
    assert!(!text.contains(&others) && !text.contains(&other.email), "nothing of another user");
    let data: Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(data["format"], "ghosttools-export-1");
    assert_eq!(data["account"]["email"], user.email.as_str());
    assert_eq!(data["account"]["id"], user.user_id);
    let generation = &data["generations"][0];
    assert_eq!(generation["product_name"], format!("Tent {marker}").as_str());
    assert_eq!(generation["brief"]["product_name"], format!("Tent {marker}").as_str(), "the brief itself");
    assert!(generation["output"].as_str().is_some_and(|o| !o.is_empty()), "the description written");
    let transcript = &data["transcripts"][0];
    assert!(transcript["file_name"].as_str().unwrap().contains(&marker));
    assert!(transcript["text"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(transcript["segments"].as_array().is_some_and(|s| !s.is_empty()), "segments");
    assert!(!transcript["notes"].is_null(), "show notes");
    let reasons: Vec<&str> =
        data["credit_ledger"].as_array().unwrap().iter().map(|l| l["reason"].as_str().unwrap()).collect();
    for reason in ["agentwrite", "podscribe"] {
        assert!(reasons.contains(&reason), "the ledger lists {reason}: {reasons:?}");
    }
    assert!(data["credit_balance"].as_i64().is_some());
    assert_eq!(data["subscriptions"][0]["plan"], "pro");
    assert!(!data["purchases"].as_array().unwrap().is_empty(), "the checkout is listed");
    assert!(!data["sessions"].as_array().unwrap().is_empty(), "sessions are listed");
    for key in ["linked_accounts", "invoices", "affiliate"] {
        assert!(data[key].is_array(), "{key} is listed (maybe empty)");
    }
}

async fn an_export_needs_the_forms_token_from_this_site_and_a_post(s: &'static Stack) {
    let user = s.sign_in_new("export-csrf").await;
    let res = user.client.post(s.url("/account/export")).form(&[("csrf", "0000")]).send().await.unwrap();
    assert_eq!(res.status(), 403, "without this session's token");
    let res = user
        .client
        .post(s.url("/account/export"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", user.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "from another site");
    assert!(!res.text().await.unwrap().contains(&user.email));
    let res = user.client.get(s.url("/account/export")).send().await.unwrap();
    assert_eq!(res.status(), 405, "a link or an image cannot download it");
    let res = s
        .browser()
        .post(s.url("/account/export"))
        .form(&[("csrf", user.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        res.status() == 403 || res.status() == 303,
        "a signed-out visitor gets nothing: {}",
        res.status()
    );
}

async fn exports_are_limited_per_user(s: &'static Stack) {
    let user = s.sign_in_new("export-limit").await;
    for n in 1..=5 {
        assert_eq!(export(s, &user).await.status(), 200, "export {n} of the hour");
    }
    let res = export(s, &user).await;
    assert_eq!(res.status(), 429, "the sixth in an hour is refused");
    assert!(res.headers().get("retry-after").is_some());
    let other = s.sign_in_new("export-limit-other").await;
    assert_eq!(export(s, &other).await.status(), 200, "counted per user");
}
